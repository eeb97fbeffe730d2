"""An identity provider for the tests: a discovery document and a JWKS served on loopback
from keys the test generates, and JWTs signed with them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypedDict

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

AUDIENCE = "modelyard-test"


class OidcSettings(TypedDict):
    """Server settings that trust a provider, as ServerFactory takes them ("": the default)."""

    oidc_issuer: str
    oidc_audience: str
    oidc_refetch_seconds: str
    oidc_tenant_claim: str
    oidc_subject_claim: str
    oidc_roles_claim: str


PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


@dataclass(frozen=True)
class SigningKey:
    """A key pair of the provider, its key id and the algorithm it signs with."""

    kid: str
    alg: str
    private: PrivateKey = field(repr=False)

    @classmethod
    def generate(cls, kid: str, alg: str = "RS256") -> SigningKey:
        private: PrivateKey
        if alg.startswith(("RS", "PS")):
            private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        elif alg == "ES256":
            private = ec.generate_private_key(ec.SECP256R1())
        elif alg == "EdDSA":
            private = ed25519.Ed25519PrivateKey.generate()
        else:
            raise ValueError(f"no key for {alg}")
        return cls(kid, alg, private)

    def jwk(self) -> dict[str, Any]:
        """The public key as the provider's JWKS lists it."""
        algorithm = jwt.get_algorithm_by_name(self.alg)
        public = json.loads(algorithm.to_jwk(self.private.public_key()))
        return {**public, "kid": self.kid, "use": "sig", "alg": self.alg}

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    """Returns header.payload of a JWT, for tokens no library would sign."""
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"


def hs256_with(secret: bytes, header: dict[str, Any], claims: dict[str, Any]) -> str:
    """Returns a JWT signed with HMAC-SHA256 under `secret` (e.g. a public key's PEM)."""
    signing_input = unsigned({**header, "alg": "HS256"}, claims)
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"


@dataclass
class IdentityProvider:
    """The provider as a test controls it: the keys it publishes, whether it answers, and
    how often the server asked it for its keys."""

    issuer: str = ""
    keys: list[SigningKey] = field(default_factory=list)
    down: bool = False
    # The JWKS's Cache-Control max-age (None: no Cache-Control).
    max_age: int | None = None
    jwks_requests: int = 0
    discovery_requests: int = 0

    @property
    def jwks_url(self) -> str:
        return f"{self.issuer}/keys"

    def settings(
        self,
        *,
        refetch_seconds: str = "",
        tenant_claim: str = "",
        subject_claim: str = "",
        roles_claim: str = "",
    ) -> OidcSettings:
        """Server settings that trust this provider (ServerFactory's keyword arguments)."""
        return OidcSettings(
            oidc_issuer=self.issuer,
            oidc_audience=AUDIENCE,
            oidc_refetch_seconds=refetch_seconds,
            oidc_tenant_claim=tenant_claim,
            oidc_subject_claim=subject_claim,
            oidc_roles_claim=roles_claim,
        )

    def claims(self, subject: str = "ann", *roles: str, **more: Any) -> dict[str, Any]:
        """Claims of a token valid for five minutes, for this provider and the registry."""
        now = int(time.time())
        base = {
            "iss": self.issuer,
            "aud": AUDIENCE,
            "sub": subject,
            "iat": now,
            "exp": now + 300,
            "modelyard_roles": list(roles),
        }
        return {**base, **more}

    def token(
        self, subject: str = "ann", *roles: str, key: SigningKey | None = None, **more: Any
    ) -> str:
        """Returns a JWT for the subject with the roles, signed with `key` (the first key
        published unless given); `more` adds or replaces claims (None removes one)."""
        key = key or self.keys[0]
        claims = {k: v for k, v in self.claims(subject, *roles, **more).items() if v is not None}
        # As JWS, so that claims of the wrong type (an `iss` that is a list) can be sent too.
        payload = json.dumps(claims).encode()
        return jwt.api_jws.encode(payload, key.private, algorithm=key.alg, headers={"kid": key.kid})


@contextmanager
def identity_provider(*algorithms: str) -> Iterator[IdentityProvider]:
    """Yields a provider on a loopback port publishing one new key per algorithm given
    (RS256 alone by default); shuts it down after."""
    provider = IdentityProvider()
    provider.keys = [
        SigningKey.generate(f"key-{i}-{alg.lower()}", alg)
        for i, alg in enumerate(algorithms or ("RS256",))
    ]

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/.well-known/openid-configuration":
                provider.discovery_requests += 1
                body: dict[str, Any] = {"issuer": provider.issuer, "jwks_uri": provider.jwks_url}
            elif self.path == "/keys":
                provider.jwks_requests += 1
                body = {"keys": [key.jwk() for key in provider.keys]}
            else:
                self.send_error(404)
                return
            if provider.down:
                self.send_error(503)
                return
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            if provider.max_age is not None and self.path == "/keys":
                self.send_header("Cache-Control", f"public, max-age={provider.max_age}")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    provider.issuer = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        httpd.shutdown()
        httpd.server_close()
