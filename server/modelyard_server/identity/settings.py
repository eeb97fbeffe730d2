"""The OIDC settings, checked together at start: what the server needs to verify JWTs."""

from __future__ import annotations

import ipaddress
import urllib.parse
from dataclasses import dataclass

from modelyard_server.config import Settings
from modelyard_server.preflight import SetupError

# Public-key algorithms only: `none` proves nothing, and an HS* token would be "signed" with
# the identity provider's public key, which anyone can fetch.
ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
ISSUER = "--oidc-issuer (MODELYARD_OIDC_ISSUER)"


@dataclass(frozen=True)
class OidcSettings:
    """How JWTs are verified and what their claims mean."""

    issuer: str
    audience: str
    jwks_url: str  # "": discovered from the issuer
    subject_claim: str
    tenant_claim: str  # "": every caller is in `tenant`
    tenant: str
    roles_claim: str
    algorithms: frozenset[str]
    leeway_seconds: float
    refetch_seconds: float

    @property
    def discovery_url(self) -> str:
        """The issuer's OpenID Connect discovery document."""
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"


def is_loopback(host: str) -> bool:
    """Returns whether the host name or address is this machine's."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def fetchable(url: str) -> str | None:
    """Returns why the identity provider's URL cannot be trusted to serve keys, or None."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "is not an http(s) URL"
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        # Whoever sits on the path could hand the server keys of their own.
        return "must be https (plain http only on loopback)"
    return None


def oidc_settings(settings: Settings) -> OidcSettings | None:
    """Returns the OIDC settings, or None when no issuer is set (opaque tokens only). Raises
    SetupError for settings that could not verify a token, or would verify too much."""
    given = {
        name: getattr(settings, name)
        for name in ("oidc_audience", "oidc_jwks_url", "oidc_tenant_claim")
        if getattr(settings, name)
    }
    if not settings.oidc_issuer:
        if given:
            flag = "--" + next(iter(given)).replace("_", "-")
            raise SetupError(f"{flag} is set but {ISSUER} is not; set the issuer to accept JWTs")
        return None
    why = fetchable(settings.oidc_issuer)
    if why:
        raise SetupError(f"{ISSUER} {why}, got {settings.oidc_issuer!r}")
    if settings.oidc_jwks_url:
        why = fetchable(settings.oidc_jwks_url)
        if why:
            raise SetupError(
                f"--oidc-jwks-url (MODELYARD_OIDC_JWKS_URL) {why}, got {settings.oidc_jwks_url!r}"
            )
    if not settings.oidc_audience:
        # Without it, a token the provider issued to any other application would be accepted.
        raise SetupError(
            "--oidc-audience (MODELYARD_OIDC_AUDIENCE) is required with an issuer: the `aud` "
            "the identity provider puts in tokens for this registry (its client id)"
        )
    if settings.oidc_tenant_claim and settings.oidc_tenant != Settings.oidc_tenant:
        raise SetupError(
            "--oidc-tenant-claim and --oidc-tenant are both set; name the claim that holds the "
            "tenant, or the one tenant of every caller, not both"
        )
    algorithms = frozenset(a.strip() for a in settings.oidc_algorithms.split(",") if a.strip())
    refused = sorted(algorithms - ALGORITHMS)
    if refused or not algorithms:
        raise SetupError(
            f"--oidc-algorithms (MODELYARD_OIDC_ALGORITHMS) may not name {', '.join(refused) or 'nothing'}; "
            f"choose among {', '.join(sorted(ALGORITHMS))}"
        )
    return OidcSettings(
        issuer=settings.oidc_issuer,
        audience=settings.oidc_audience,
        jwks_url=settings.oidc_jwks_url,
        subject_claim=settings.oidc_subject_claim,
        tenant_claim=settings.oidc_tenant_claim,
        tenant=settings.oidc_tenant,
        roles_claim=settings.oidc_roles_claim,
        algorithms=algorithms,
        leeway_seconds=settings.oidc_leeway_seconds,
        refetch_seconds=settings.oidc_refetch_seconds,
    )
