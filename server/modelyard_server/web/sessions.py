"""Browser sessions: the signed-in token sealed in a cookie, and the CSRF token of its forms.

The cookie holds the bearer token encrypted and authenticated (AES-GCM) under a key derived
from the server's secret ("ui-sessions"), so it is useless to whoever reads it off the disk
and cannot be forged; it is HttpOnly and SameSite=Strict. Every request turns the token into
a principal again through the gRPC API's own authenticator: a token revoked or expired there
stops working here too. Replicas that share the key file share sessions.

Every session, signed in or not, has a random id; a form's CSRF token is the MAC of that id
under its own key ("ui-csrf"). Signing in and out replaces the id (no session fixation).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from modelyard_server.keyring import Keyring

COOKIE = "modelyard_session"
# A session ends after this long, signed in or not; the token's own expiry may end it sooner.
SESSION_SECONDS = 12 * 3600
NONCE_BYTES = 12


@dataclass(frozen=True)
class Session:
    """One browser's session: its id, the token it signed in with ("" before), its end."""

    sid: str
    token: str = ""
    expires: float = 0.0

    @classmethod
    def new(cls, token: str = "") -> Session:
        return cls(secrets.token_urlsafe(18), token, time.time() + SESSION_SECONDS)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionSeal:
    """Seals sessions into cookie values and opens them; makes and checks CSRF tokens."""

    def __init__(self, keyring: Keyring) -> None:
        self._aead = AESGCM(keyring.derive("ui-sessions"))
        # Keyring.mac("ui-csrf", …) is HMAC-SHA256 under this key; deriving it once keeps
        # HKDF (milliseconds) out of every page.
        self._csrf_key = keyring.derive("ui-csrf")

    def seal(self, session: Session) -> str:
        """Returns the cookie value of the session."""
        nonce = secrets.token_bytes(NONCE_BYTES)
        body = json.dumps({"sid": session.sid, "token": session.token, "exp": session.expires})
        return _b64(nonce + self._aead.encrypt(nonce, body.encode(), COOKIE.encode()))

    def open(self, value: str | None) -> Session | None:
        """Returns the session of a cookie value; None for one that is absent, forged,
        sealed under another key, or past its end."""
        if not value or len(value) > 4096:
            return None
        try:
            raw = _unb64(value)
            body = self._aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], COOKIE.encode())
            fields = json.loads(body)
            session = Session(str(fields["sid"]), str(fields["token"]), float(fields["exp"]))
        except (InvalidTag, ValueError, KeyError, TypeError, binascii.Error):
            return None
        return session if session.expires > time.time() else None

    def csrf(self, session: Session) -> str:
        """Returns the CSRF token that the session's forms carry."""
        return _b64(hmac.new(self._csrf_key, session.sid.encode(), hashlib.sha256).digest())

    def csrf_ok(self, session: Session | None, token: str) -> bool:
        """Returns whether a form's token belongs to the session."""
        return session is not None and hmac.compare_digest(self.csrf(session), token)
