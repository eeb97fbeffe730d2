"""JWT bearer tokens: verified against the identity provider's keys, turned into principals.

PyJWT checks the signature with the key the token's `kid` names, bound to the token's
algorithm only if the server allows it, then `iss`, `aud`, `exp`, `nbf` and `iat` (with
leeway). What was wrong is said in the error; the token itself never is.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import jwt
from modelyard.v1 import errors_pb2 as reasons

from modelyard_server.domain.errors import Unauthenticated, Unavailable
from modelyard_server.domain.principal import Principal, parse_role_binding
from modelyard_server.identity.jwks import FetchError, KeySet
from modelyard_server.identity.settings import OidcSettings

# header.payload.signature, each base64url; `alg: none` has an empty signature.
COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
CACHE_ENTRIES = 10_000
MAX_CLAIM_CHARS = 256


def looks_like_jwt(token: str) -> bool:
    """Returns whether the bearer value has a JWT's shape (opaque tokens never do)."""
    return COMPACT_JWS.fullmatch(token) is not None


def _refused(why: str) -> Unauthenticated:
    return Unauthenticated(reasons.UNAUTHENTICATED, f"the bearer JWT was refused: {why}")


def _shown(value: object) -> str:
    """Returns a claim's value as an error quotes it: short, whatever the caller sent."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _when(seconds: object) -> str:
    try:
        return datetime.fromtimestamp(float(seconds), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError, OSError):
        return _shown(seconds)


class JwtVerifier:
    """Returns the principal of a JWT; remembers verified tokens until they expire."""

    def __init__(self, settings: OidcSettings) -> None:
        self.settings = settings
        self.keys = KeySet(settings)
        # sha256 of the token -> (its exp, its principal), oldest first.
        self.cache: dict[bytes, tuple[float, Principal]] = {}

    def start(self) -> None:
        """Fetches the keys in the background, so the first caller does not wait for them."""
        self.keys.refresh_soon()

    async def stop(self) -> None:
        await self.keys.close()

    async def principal(self, token: str) -> Principal:
        """Returns who the JWT names; Unauthenticated saying what is wrong with it, or
        Unavailable when the provider's keys are not known and cannot be fetched."""
        digest = hashlib.sha256(token.encode()).digest()
        cached = self.cache.get(digest)
        if cached is not None and cached[0] > time.time():
            return cached[1]
        claims = await self._verified_claims(token)
        principal = self._principal_of(claims)
        # PyJWT checked that exp is an integer; one beyond a float is not remembered long.
        self._remember(digest, float(min(int(claims["exp"]), 2**53)), principal)
        return principal

    def _remember(self, digest: bytes, expires: float, principal: Principal) -> None:
        if len(self.cache) >= CACHE_ENTRIES:
            now = time.time()
            self.cache = {d: e for d, e in self.cache.items() if e[0] > now}
            while len(self.cache) >= CACHE_ENTRIES:  # all alive: forget the oldest
                del self.cache[next(iter(self.cache))]
        self.cache[digest] = (expires, principal)

    async def _verified_claims(self, token: str) -> dict[str, Any]:
        settings = self.settings
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise _refused("it is not a well-formed JWT (header.payload.signature)") from None
        alg = header.get("alg")
        if alg is None:
            raise _refused("its header names no signature algorithm (alg)")
        if not isinstance(alg, str) or alg not in settings.algorithms:
            raise _refused(
                f"it is signed with alg {_shown(alg)}; this server accepts "
                f"{', '.join(sorted(settings.algorithms))}"
            )
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise _refused(f"its key id (kid) {_shown(kid)} is not a string")
        try:
            jwk = await self.keys.key(kid)
        except FetchError as error:
            raise Unavailable(
                reasons.UNAUTHENTICATED,
                f"the identity provider's keys are not known yet, so no JWT can be verified "
                f"({error}); retry later",
            ) from None
        if jwk is None:
            if kid is None:
                raise _refused("it names no key id (kid) and the provider has several keys")
            raise _refused(
                f"unknown key id {_shown(kid)}: the identity provider publishes no such key"
            )
        try:
            key = jwt.PyJWK(dict(jwk), algorithm=alg)
        except jwt.PyJWTError:
            raise _refused(
                f"key {_shown(kid)} of the identity provider cannot verify {alg} signatures"
            ) from None
        if jwk.get("alg", alg) != alg:
            raise _refused(f"key {_shown(kid)} is for {jwk['alg']}, not {alg}")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=settings.audience,
                issuer=settings.issuer,
                leeway=settings.leeway_seconds,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.PyJWTError as error:
            raise _refused(self._why(error, token, kid)) from None
        return claims

    def _why(self, error: jwt.PyJWTError, token: str, kid: object) -> str:
        """Returns what was wrong, in the registry's words; the claims are read only once the
        signature held (PyJWT checks it before any claim)."""
        if isinstance(error, jwt.InvalidSignatureError):
            return f"bad signature: key {_shown(kid)} did not sign it"
        if isinstance(error, jwt.MissingRequiredClaimError):
            return f"it has no {error.claim!r} claim"
        if not isinstance(
            error,
            jwt.ExpiredSignatureError
            | jwt.ImmatureSignatureError
            | jwt.InvalidAudienceError
            | jwt.InvalidIssuerError,
        ):
            return str(error) or type(error).__name__
        claims: Mapping[str, Any] = jwt.decode(token, options={"verify_signature": False})
        if isinstance(error, jwt.ExpiredSignatureError):
            return f"it expired at {_when(claims.get('exp'))}; get a new token"
        if isinstance(error, jwt.ImmatureSignatureError):
            if "nbf" in claims and "(nbf)" in str(error):
                return f"it is not valid before {_when(claims['nbf'])}"
            return f"it was issued in the future ({_when(claims.get('iat'))}); check the clocks"
        if isinstance(error, jwt.InvalidAudienceError):
            return (
                f"wrong audience: it is for {_shown(claims.get('aud'))}, "
                f"this registry is {self.settings.audience!r}"
            )
        return (
            f"wrong issuer: it was issued by {_shown(claims.get('iss'))}, this registry trusts "
            f"{self.settings.issuer!r}"
        )

    def _principal_of(self, claims: Mapping[str, Any]) -> Principal:
        settings = self.settings
        subject = self._text(claims, settings.subject_claim)
        tenant = settings.tenant
        if settings.tenant_claim:
            tenant = self._text(claims, settings.tenant_claim)
        granted = claims.get(settings.roles_claim, [])
        if isinstance(granted, str):
            granted = granted.split()
        if not isinstance(granted, list) or not all(isinstance(r, str) for r in granted):
            raise _refused(
                f"its {settings.roles_claim!r} claim must be a list of roles "
                f"('role' or 'role@group'), got {_shown(granted)}"
            )
        try:
            roles = frozenset(parse_role_binding(binding) for binding in granted)
        except ValueError as error:
            raise _refused(f"its {settings.roles_claim!r} claim: {error}") from None
        return Principal(subject=subject, tenant=tenant, roles=roles)

    def _text(self, claims: Mapping[str, Any], name: str) -> str:
        value = claims.get(name)
        if not isinstance(value, str) or not value or len(value) > MAX_CLAIM_CHARS:
            said = "has none" if value is None else f"holds {_shown(value)}"
            raise _refused(
                f"its {name!r} claim must be a non-empty string of at most {MAX_CLAIM_CHARS} "
                f"characters; it {said}"
            )
        return value
