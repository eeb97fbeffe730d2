"""Webhook secrets at rest: sealed with AES-GCM under a key derived from the server's key
file, so that a copy of the database (a backup, a replica's disk) does not give away the
secrets that sign deliveries.

A sealed secret is `aesgcm1:` and the base64url of a random 12-byte nonce and the
ciphertext with its tag; the webhook's store id is the associated data, so a sealed secret
copied onto another webhook's row does not open. Secrets stored before sealing existed are
in the clear: they still open (as themselves) and are sealed at the server's next start.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from modelyard_server.keyring import Keyring

PURPOSE = "webhook-secrets"
PREFIX = "aesgcm1:"
NONCE_BYTES = 12


class SecretUnreadable(Exception):
    """A sealed secret does not open with this server's key."""


@dataclass(frozen=True)
class WebhookSecrets:
    """Seals and opens webhook secrets with the server's key for them."""

    key: bytes = field(repr=False)

    @classmethod
    def of(cls, keyring: Keyring) -> WebhookSecrets:
        return cls(keyring.derive(PURPOSE))

    def seal(self, secret: str, webhook_id: str) -> str:
        """Returns the stored form of a webhook's secret."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self.key).encrypt(nonce, secret.encode(), webhook_id.encode())
        return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()

    def open(self, stored: str, webhook_id: str) -> str:
        """Returns the secret of its stored form, sealed or (from before sealing) in the
        clear; SecretUnreadable when it was sealed under another key."""
        if not is_sealed(stored):
            return stored
        try:
            raw = base64.urlsafe_b64decode(stored.removeprefix(PREFIX))
            opened = AESGCM(self.key).decrypt(
                raw[:NONCE_BYTES], raw[NONCE_BYTES:], webhook_id.encode()
            )
        except (InvalidTag, ValueError):
            raise SecretUnreadable(
                "the webhook's secret does not open with this server's key file (was it "
                "sealed with another one?); start the server with that one, or set the secret again"
            ) from None
        return opened.decode()


def is_sealed(stored: str) -> bool:
    """Returns whether a stored secret is sealed (else it is from before sealing existed)."""
    return stored.startswith(PREFIX)
