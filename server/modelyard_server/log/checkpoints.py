"""Signed checkpoints: the server's signature over a tenant's log head (seq and hash).

An operator keeps checkpoints outside the database. A log that still contains the
checkpoint's seq with the checkpoint's hash extends it; one that was rewritten, cut below it
or renumbered does not, and nobody without the server's key file can sign a new one.

The signed bytes are plain text, so a checkpoint can be checked with any Ed25519 library and
the public key alone:

    modelyard audit checkpoint v1
    tenant <tenant>
    seq <seq>
    hash <64 hex digits>
    time_us <microseconds since the epoch>
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from modelyard_server.log.chain import ChainKey

CHECKPOINT_PURPOSE = "audit-checkpoints"
HEADER = "modelyard audit checkpoint v1"


@dataclass(frozen=True)
class Checkpoint:
    """A tenant's log head as the server signed it."""

    tenant: str
    seq: int
    hash: str
    time_us: int
    signature: bytes = b""
    public_key: bytes = b""

    def signed_bytes(self) -> bytes:
        """Returns the bytes the signature covers."""
        lines = (HEADER, f"tenant {self.tenant}", f"seq {self.seq}", f"hash {self.hash}")
        return ("\n".join((*lines, f"time_us {self.time_us}")) + "\n").encode()


@dataclass(frozen=True)
class AuditKeys:
    """What verifying the log and signing its checkpoints need from the server's key file."""

    chain: ChainKey
    signing: Ed25519PrivateKey

    @property
    def public_key(self) -> bytes:
        return public_key_bytes(self.signing)


def public_key_bytes(key: Ed25519PrivateKey) -> bytes:
    """Returns the 32 raw bytes of the key's public half."""
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def sign(key: Ed25519PrivateKey, tenant: str, seq: int, head_hash: str, time_us: int) -> Checkpoint:
    """Returns the checkpoint of a head, signed with the key."""
    unsigned = Checkpoint(tenant, seq, head_hash, time_us)
    return Checkpoint(
        tenant, seq, head_hash, time_us, key.sign(unsigned.signed_bytes()), public_key_bytes(key)
    )


def signature_holds(checkpoint: Checkpoint, public_key: bytes) -> bool:
    """Returns whether the checkpoint was signed by the holder of the public key (32 raw
    bytes) and not changed since; needs nothing but the key."""
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(
            checkpoint.signature, checkpoint.signed_bytes()
        )
    except (InvalidSignature, ValueError):
        return False
    return True
