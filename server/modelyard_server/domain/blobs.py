"""What the artifact use cases need from a blob store: uploads that can resume, blobs
published under their digest only once complete and durable, and reads from an offset.

artifacts/ implements it on the local filesystem; nothing here knows where bytes live.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

from modelyard_server.domain.manifests import Digest


class Upload(Protocol):
    """One upload in progress, held by one writer at a time."""

    @property
    def committed(self) -> int:
        """The bytes received so far, kept across broken streams."""
        ...

    async def append(self, data: bytes) -> None:
        """Writes the next bytes, at offset `committed`."""
        ...

    async def seal(self) -> Digest:
        """Makes the bytes durable and returns their digest, as hashed while received."""
        ...

    async def publish(self, digest: Digest) -> None:
        """Makes sure the store has the blob `digest`, from the sealed bytes if it has not;
        the upload keeps them until it is discarded, so publishing again repairs a blob
        collected in between."""
        ...

    async def discard(self) -> None:
        """Drops the upload's bytes."""
        ...


class BlobStore(Protocol):
    def upload(self, key: str) -> AbstractAsyncContextManager[Upload]:
        """Opens the upload named `key`, continuing its bytes if it has some. Raises Aborted
        while another writer holds it."""
        ...

    async def committed(self, key: str) -> int:
        """Returns how many bytes the upload `key` holds (0 if none)."""
        ...

    async def exists(self, digest: Digest) -> bool: ...

    def read(self, digest: Digest, offset: int, limit: int) -> AsyncIterator[bytes]:
        """Yields the blob's bytes from `offset`, at most `limit` of them (0: to the end)."""
        ...

    def stored(self) -> AsyncIterator[StoredBlob]:
        """Yields every blob in the store."""
        ...

    async def delete(self, digest: Digest) -> None:
        """Removes a blob (nothing if it is gone)."""
        ...

    async def url(self, digest: Digest, seconds: int) -> str | None:
        """Returns a URL that GETs the blob for `seconds`, or None if the store has none."""
        ...

    async def sweep(self, older_than_seconds: float) -> int:
        """Removes the uploads nobody has written to for that long; returns how many."""
        ...


@dataclass(frozen=True)
class StoredBlob:
    digest: Digest
    modified: float  # seconds since the epoch
