"""The blob store on the local filesystem, under the data directory.

``blobs/sha256/ab/abcd…`` holds each complete blob once, named by its digest; an upload in
progress is ``uploads/<hash of its key>.part``, locked (flock) by the one stream writing
it, so two streams of one upload, in one process or in sibling workers, cannot interleave.
A blob appears under its digest only by a rename of its sealed (fsync'd) upload, followed
by an fsync of the directory: readers never see a partial blob, and a crash leaves only
an upload to resume or to sweep. Every disk operation runs off the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

from modelyard.v1 import errors_pb2 as reasons

from modelyard_server.domain.blobs import StoredBlob
from modelyard_server.domain.errors import Aborted
from modelyard_server.domain.manifests import Digest

CHUNK = 2 << 20  # the size of the pieces read back (ReadArtifactResponse: up to 2 MiB)


def _fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalUpload:
    """An upload being written by this stream (implements domain's Upload)."""

    def __init__(self, store: LocalBlobStore, path: Path, fd: int) -> None:
        self.store = store
        self.path = path
        self.fd = fd
        self.hasher = hashlib.sha256()
        self.committed = 0

    def _catch_up(self) -> None:
        """Hashes what earlier streams of this upload wrote, to continue after it."""
        os.lseek(self.fd, 0, os.SEEK_SET)
        while block := os.read(self.fd, CHUNK):
            self.hasher.update(block)
            self.committed += len(block)

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self.fd, view)
            view = view[written:]

    async def append(self, data: bytes) -> None:
        """Writes and hashes the bytes side by side, on two threads (both free the GIL);
        the caller appends one piece at a time, so the hash sees them in order."""
        if data:
            await asyncio.gather(
                asyncio.to_thread(self._write, data), asyncio.to_thread(self.hasher.update, data)
            )
            self.committed += len(data)

    async def seal(self) -> Digest:
        await asyncio.to_thread(os.fsync, self.fd)
        return Digest(self.hasher.hexdigest(), self.committed)

    def _publish(self, digest: Digest) -> None:
        final = self.store.blob_path(digest)
        if final.exists():
            return  # stored once already: the same bytes
        final.parent.mkdir(parents=True, exist_ok=True)
        try:  # a second name for the sealed bytes: the upload keeps its own until discarded
            os.link(self.path, final)
        except FileExistsError:
            return
        _fsync_directory(final.parent)

    async def publish(self, digest: Digest) -> None:
        await asyncio.to_thread(self._publish, digest)

    async def discard(self) -> None:
        await asyncio.to_thread(self.path.unlink, True)


class LocalBlobStore:
    """Blobs in a directory (implements domain's BlobStore)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.blobs = root / "sha256"
        self.uploads = root / "uploads"

    def blob_path(self, digest: Digest) -> Path:
        return self.blobs / digest.sha256[:2] / digest.sha256

    def upload_path(self, key: str) -> Path:
        return self.uploads / f"{hashlib.sha256(key.encode()).hexdigest()}.part"

    def _open(self, key: str) -> LocalUpload:
        self.uploads.mkdir(parents=True, exist_ok=True)
        path = self.upload_path(key)
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise self._busy() from None
            # A sweep may have removed the file between the open and the lock: then this
            # lock is on a file nobody can find, and the upload starts over with a new one.
            try:
                if os.stat(path).st_ino == os.fstat(fd).st_ino:
                    break
            except FileNotFoundError:
                pass
            os.close(fd)
        upload = LocalUpload(self, path, fd)
        try:
            upload._catch_up()
        except BaseException:
            os.close(fd)
            raise
        return upload

    @staticmethod
    def _busy() -> Aborted:
        return Aborted(
            reasons.UPLOAD_BUSY,
            "another stream is writing this upload; wait for it to end, then ask "
            "QueryWriteStatus where to continue",
        )

    @contextlib.asynccontextmanager
    async def upload(self, key: str) -> AsyncIterator[LocalUpload]:
        upload = await asyncio.to_thread(self._open, key)
        try:
            yield upload
        finally:
            await asyncio.to_thread(os.close, upload.fd)

    async def committed(self, key: str) -> int:
        def size() -> int:
            try:
                return self.upload_path(key).stat().st_size
            except FileNotFoundError:
                return 0

        return await asyncio.to_thread(size)

    async def exists(self, digest: Digest) -> bool:
        def check() -> bool:
            try:
                return self.blob_path(digest).stat().st_size == digest.size
            except FileNotFoundError:
                return False

        return await asyncio.to_thread(check)

    async def read(self, digest: Digest, offset: int, limit: int) -> AsyncIterator[bytes]:
        left = digest.size - offset if limit == 0 else min(limit, digest.size - offset)
        handle = await asyncio.to_thread(open, self.blob_path(digest), "rb")
        # The disk reads the next block while the one before goes out: one read ahead.
        ahead: asyncio.Future[bytes] | None = None
        try:
            await asyncio.to_thread(handle.seek, offset)
            if left > 0:
                ahead = asyncio.ensure_future(asyncio.to_thread(handle.read, min(CHUNK, left)))
            while ahead is not None:
                block = await ahead
                ahead = None
                left -= len(block)
                if not block:
                    break
                if left > 0:
                    ahead = asyncio.ensure_future(asyncio.to_thread(handle.read, min(CHUNK, left)))
                yield block
        finally:
            if ahead is not None:
                with contextlib.suppress(Exception):
                    await ahead
            await asyncio.to_thread(handle.close)

    async def stored(self) -> AsyncIterator[StoredBlob]:
        def listing() -> list[StoredBlob]:
            found: list[StoredBlob] = []
            if not self.blobs.is_dir():
                return found
            for path in self.blobs.glob("??/*"):
                with contextlib.suppress(FileNotFoundError):
                    info = path.stat()
                    found.append(StoredBlob(Digest(path.name, info.st_size), info.st_mtime))
            return found

        for blob in await asyncio.to_thread(listing):
            yield blob

    async def delete(self, digest: Digest) -> None:
        await asyncio.to_thread(self.blob_path(digest).unlink, True)

    async def url(self, digest: Digest, seconds: int) -> str | None:
        return None  # the bytes go through the registry

    async def sweep(self, older_than_seconds: float) -> int:
        return await asyncio.to_thread(self._sweep, older_than_seconds)

    def _sweep(self, older_than_seconds: float) -> int:
        """Deletes the uploads nobody has written to for that long and nobody holds; returns
        how many."""
        if not self.uploads.is_dir():
            return 0
        cutoff = time.time() - older_than_seconds
        swept = 0
        for path in self.uploads.glob("*.part"):
            with contextlib.suppress(FileNotFoundError):
                if path.stat().st_mtime >= cutoff:
                    continue
                fd = os.open(path, os.O_RDONLY)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # a stream is writing it
                else:
                    path.unlink(missing_ok=True)
                    swept += 1
                finally:
                    os.close(fd)
        return swept
