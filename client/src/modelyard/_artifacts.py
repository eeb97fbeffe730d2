"""The local side of artifacts, shared by the sync and async clients: scanning and hashing
files, the canonical manifest, and writing downloads that resume. Blocking file I/O; the
async client runs it in threads."""

from __future__ import annotations

import hashlib
import http.client
import os
import stat
import threading
import time
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from modelyard.v1 import artifact_service_pb2 as arts

#: Bytes per WriteBlob message (the server takes up to 2 MiB).
CHUNK = 2 << 20
#: Called with (bytes done, bytes in all) as an upload or a download goes.
Progress = Callable[[int, int], None]
PARTIAL_SUFFIX = ".modelyard-partial"


#: A download asks the disk to write back what it has every this many bytes.
SYNC_EVERY = 64 << 20
#: Blobs uploaded, or files downloaded, at once by one call.
STREAMS = 4


class Tally:
    """The bytes a transfer has moved, told to a progress callback; safe from threads."""

    def __init__(self, total: int, progress: Progress | None) -> None:
        self.total = total
        self.done = 0
        self.progress = progress
        self.lock = threading.Lock()

    def add(self, count: int) -> None:
        with self.lock:
            self.done += count
            if self.progress is not None:
                self.progress(self.done, self.total)


@dataclass(frozen=True)
class LocalFile:
    """A file of an artifact on this machine: its path in the artifact, and its digest."""

    path: str
    source: Path
    sha256: str
    size: int

    def proto(self) -> arts.ArtifactFile:
        return arts.ArtifactFile(path=self.path, sha256=self.sha256, size_bytes=self.size)


def file_digest(path: Path) -> tuple[str, int]:
    """Returns the SHA-256 and size of a file."""
    with path.open("rb") as handle:
        digest = hashlib.file_digest(handle, "sha256")
        return digest.hexdigest(), handle.tell()


def scan(path: Path) -> tuple[bool, list[LocalFile]]:
    """Returns whether `path` is a directory, and its files with their digests (a single
    file is named after itself). Symbolic links are followed; anything that is not a
    regular file or a directory is refused."""
    path = Path(path)
    if path.is_file():
        sha, size = file_digest(path)
        return False, [LocalFile(path.name, path, sha, size)]
    if not path.is_dir():
        raise FileNotFoundError(f"{path} is neither a file nor a directory")
    found: list[LocalFile] = []
    for root, dirs, names in os.walk(path, followlinks=True):
        dirs.sort()
        for name in sorted(names):
            source = Path(root) / name
            mode = source.stat().st_mode
            if not stat.S_ISREG(mode):
                raise ValueError(f"{source} is not a regular file; an artifact holds files only")
            sha, size = file_digest(source)
            found.append(LocalFile(source.relative_to(path).as_posix(), source, sha, size))
    if not found:
        raise ValueError(f"{path} holds no files")
    return True, found


def manifest_digest(files: Sequence[arts.ArtifactFile]) -> str:
    """Returns an artifact's digest as the registry computes it: the SHA-256 of the lines
    ``{sha256} {size} {path}`` of its files, sorted by path."""
    ordered = sorted(files, key=lambda f: f.path.encode())
    lines = "".join(f"{f.sha256} {f.size_bytes} {f.path}\n" for f in ordered)
    return hashlib.sha256(lines.encode()).hexdigest()


def upload_name(group: str, upload_id: str, sha256: str, size: int) -> str:
    return f"{group}/uploads/{upload_id}/blobs/{sha256}/{size}"


class Source:
    """A local file being uploaded, read in chunks from an offset."""

    def __init__(self, path: Path, offset: int) -> None:
        self.handle = path.open("rb")
        self.handle.seek(offset)

    def read(self) -> bytes:
        return self.handle.read(CHUNK)

    def close(self) -> None:
        self.handle.close()


class Sink:
    """A file being downloaded: appended to and hashed as it comes, after whatever an
    earlier, broken download left of it."""

    def __init__(self, target: Path, file: arts.ArtifactFile) -> None:
        self.file = file
        self.target = target
        self.hasher = hashlib.sha256()
        self.handle = target.open("a+b")
        self.handle.seek(0)
        kept = 0
        while block := self.handle.read(CHUNK):
            if kept + len(block) > file.size_bytes:  # not this file: start over
                self.handle.truncate(0)
                self.hasher, kept = hashlib.sha256(), 0
                break
            self.hasher.update(block)
            kept += len(block)
        self.offset = kept
        self.hashing_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="modelyard-hash")
        self.hashing: Future[None] | None = None
        self.syncing_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="modelyard-sync")
        self.syncing: Future[None] | None = None
        self.unsynced = 0

    def write(self, data: bytes) -> None:
        # Hashing (which frees the GIL) runs beside the write on a thread of its own, in
        # order: the two take about as long, so a download goes nearly twice as fast.
        self.hashing = self.hashing_thread.submit(self.hasher.update, data)
        self.handle.write(data)
        self.offset += len(data)
        # The disk writes back what came while the rest arrives, so the fsync at the end
        # finds little left to do.
        self.unsynced += len(data)
        if self.unsynced >= SYNC_EVERY and (self.syncing is None or self.syncing.done()):
            self.handle.flush()
            self.syncing = self.syncing_thread.submit(os.fdatasync, self.handle.fileno())
            self.unsynced = 0

    def finish(self) -> str | None:
        """Returns what is wrong with the file (deleting it), or None once it is on disk."""
        self.hashing_thread.shutdown(wait=True)
        self.syncing_thread.shutdown(wait=True)
        if self.hashing is not None:
            self.hashing.result()
        self.handle.flush()
        if (self.hasher.hexdigest(), self.offset) == (self.file.sha256, self.file.size_bytes):
            os.fsync(self.handle.fileno())
            self.handle.close()
            return None
        self.handle.close()
        self.target.unlink()
        return (
            f"{self.file.path}: got {self.offset} bytes with sha256 {self.hasher.hexdigest()}, "
            f"expected {self.file.size_bytes} bytes with sha256 {self.file.sha256}"
        )

    def close(self) -> None:
        self.hashing_thread.shutdown(wait=True)
        self.syncing_thread.shutdown(wait=True)
        self.handle.close()


def fetch(url: str, sink: Sink, tally: Tally, attempts: int = 3) -> bool:
    """GETs a file straight from the blob store into `sink` (a presigned URL), continuing
    with a Range request after a broken connection; returns False when the store cannot
    be read this way (the caller goes through the registry instead, from where this
    stopped). The caller checks the digest either way."""
    for attempt in range(1, attempts + 1):
        request = urllib.request.Request(url, headers={"Range": f"bytes={sink.offset}-"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                if sink.offset and response.status != 206:  # the whole file came back
                    return False
                while block := response.read(CHUNK):
                    sink.write(block)
                    tally.add(len(block))
            return True
        except (OSError, http.client.HTTPException):  # URLError and HTTPError are OSErrors
            if attempt < attempts:
                time.sleep(0.2 * 2**attempt)
    return False


def partial_of(dest: Path) -> Path:
    return dest.with_name(dest.name + PARTIAL_SUFFIX)


def prepare_download(dest: Path, manifest: arts.ArtifactManifest) -> Path:
    """Returns where the download goes until it is verified, refusing to replace `dest`."""
    if dest.exists():
        raise FileExistsError(f"{dest} exists; download into a new path")
    partial = partial_of(dest)
    if manifest.directory:
        partial.mkdir(parents=True, exist_ok=True)
    else:
        partial.parent.mkdir(parents=True, exist_ok=True)
    return partial


def target_of(partial: Path, manifest: arts.ArtifactManifest, file: arts.ArtifactFile) -> Path:
    if not manifest.directory:
        return partial
    target = (partial / file.path).resolve()
    if not target.is_relative_to(partial.resolve()):  # the server checks paths; so do we
        raise ValueError(f"the manifest's path {file.path!r} leaves the artifact")
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


def finish_download(partial: Path, dest: Path) -> Path:
    """Moves the verified download into place, durably (its files were synced as verified)."""
    os.replace(partial, dest)
    fd = os.open(dest.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return dest
