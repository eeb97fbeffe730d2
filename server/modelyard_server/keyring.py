"""The server's secret: one key file outside the database, from which every key the server
uses is derived (HKDF-SHA256, one label per purpose). Someone who can write the database but
cannot read this file can neither forge what the server signs nor read what it encrypts.

The file holds 32 random bytes, hex-encoded, and is created (mode 0600) on the first start
when it is the default one in the data directory. Replicas and workers that share a database
must share this file too.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_BYTES = 32
KEY_FLAG = "--key-file FILE (or MODELYARD_KEY_FILE)"


class KeyFileError(Exception):
    """The key file cannot be used; the message says, in one line, why and what to do."""


@dataclass(frozen=True)
class Keyring:
    """Keys derived from the server's secret; the same secret gives the same keys."""

    secret: bytes = field(repr=False)

    def derive(self, purpose: str, length: int = KEY_BYTES) -> bytes:
        """Returns the key for one purpose (e.g. "page-tokens"); distinct purposes give
        independent keys."""
        return HKDF(
            algorithm=SHA256(), length=length, salt=None, info=b"modelyard/" + purpose.encode()
        ).derive(self.secret)

    def signing_key(self, purpose: str) -> Ed25519PrivateKey:
        """Returns an Ed25519 key for one purpose, derived from the secret."""
        return Ed25519PrivateKey.from_private_bytes(self.derive("ed25519/" + purpose))

    def mac(self, purpose: str, message: bytes) -> bytes:
        """Returns HMAC-SHA256 of the message under the purpose's key."""
        return hmac.new(self.derive(purpose), message, hashlib.sha256).digest()

    @property
    def fingerprint(self) -> str:
        """A public name for the secret (it reveals nothing of it): lets a server tell that
        the key file it was given is the one the database was written with."""
        return self.mac("fingerprint", b"modelyard key fingerprint").hex()[:16]


def load_keyring(path: Path, create: bool) -> Keyring:
    """Reads the key file; creates it (mode 0600) when it is missing and ``create`` is set.
    Raises KeyFileError for a file that cannot be read, is readable by others, or holds no
    key."""
    if create and not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another worker made it first: read theirs
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(KEY_BYTES) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
    try:
        text = path.read_text().strip()
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise KeyFileError(
            f"no key file at {path}: give the one this registry was created with ({KEY_FLAG})"
        ) from None
    except OSError as error:
        why = (error.strerror or str(error)).lower()
        raise KeyFileError(f"cannot read the key file {path}: {why}") from None
    if mode & 0o077:
        raise KeyFileError(
            f"the key file {path} is readable by others (mode {mode & 0o777:o}): `chmod 600 {path}`"
        )
    try:
        secret = bytes.fromhex(text)
    except ValueError:
        secret = b""
    if len(secret) != KEY_BYTES:
        raise KeyFileError(
            f"the key file {path} must hold {KEY_BYTES} bytes as {2 * KEY_BYTES} hex digits"
        )
    return Keyring(secret)
