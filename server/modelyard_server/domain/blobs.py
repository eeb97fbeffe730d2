"""What the artifact use cases need from a blob store: uploads that can resume, blobs
published under their digest only once complete and durable, and reads from an offset.

artifacts/ implements it on the local filesystem; nothing here knows where bytes live.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
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
        """Makes the sealed bytes the blob `digest` (a no-op if the store has it already)."""
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
