"""Artifacts the registry holds: blob digests, file paths, and the canonical manifest whose
SHA-256 is the artifact's identity. Pure: no I/O."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from modelyard.v1 import artifact_service_pb2 as arts

from modelyard_server.domain.errors import quote

SHA256 = re.compile(r"[0-9a-f]{64}")
MAX_FILES = 10_000
MAX_PATH = 1024
#: The largest blob the registry takes (a setting may lower it).
MAX_BLOB_BYTES = 1 << 40
# A path segment may hold anything printable but `/` and `\`.
_BAD_CHARACTER = re.compile(r"[\x00-\x1f\x7f\\]")


@dataclass(frozen=True, order=True)
class Digest:
    """A blob's identity."""

    sha256: str
    size: int

    def __str__(self) -> str:
        return f"{self.sha256}/{self.size}"


def digest_problem(sha256: str, size: int) -> str | None:
    """Returns what is wrong with a digest, or None."""
    if not SHA256.fullmatch(sha256):
        return f"sha256 must be 64 lowercase hex digits, not {sha256[:80]!r}"
    if size < 0:
        return f"size_bytes must be >= 0, not {size}"
    if size > MAX_BLOB_BYTES:
        return f"size_bytes {size} is above the limit of {MAX_BLOB_BYTES} bytes"
    return None


def path_problem(path: str) -> str | None:
    """Returns what is wrong with a file's path in an artifact, or None."""
    if not path:
        return "is empty; name the file, e.g. 'model.onnx' or 'variables/variables.index'"
    if len(path) > MAX_PATH:
        return f"is {len(path)} characters long; the limit is {MAX_PATH}"
    if _BAD_CHARACTER.search(path):
        return f"{quote(path)} holds a backslash or a control character"
    if path.startswith("/"):
        return f"{quote(path)} is absolute; paths are relative to the artifact"
    for segment in path.split("/"):
        if segment in ("", ".", ".."):
            return f"{quote(path)} is not normalised: no empty, '.' or '..' segment"
    return None


def check_files(
    files: Sequence[arts.ArtifactFile], directory: bool, fail: Callable[[str, str], None]
) -> None:
    """Calls `fail(field, description)` for every problem of an artifact's files."""
    if not files:
        fail("artifact_files", "is empty; an artifact held by the registry has files")
        return
    if len(files) > MAX_FILES:
        fail("artifact_files", f"has {len(files)} files; the limit is {MAX_FILES}")
        return
    if not directory and len(files) != 1:
        fail(
            "model_version.artifact.directory",
            f"is false, but {len(files)} files are given; set it for a directory",
        )
    if not directory and len(files) == 1 and "/" in files[0].path:
        fail(
            "artifact_files[0].path",
            f"{quote(files[0].path)} is a path in a directory; a single file is named alone",
        )
    seen: set[str] = set()
    for index, file in enumerate(files):
        field = f"artifact_files[{index}]"
        problem = path_problem(file.path)
        if problem:
            fail(f"{field}.path", problem)
        elif file.path in seen:
            fail(f"{field}.path", f"{quote(file.path)} is listed twice")
        else:
            seen.add(file.path)
        problem = digest_problem(file.sha256, file.size_bytes)
        if problem:
            fail(field, problem)
    for path in seen:  # a file may not also be a directory: 'a' and 'a/b'
        parent = path.rpartition("/")[0]
        while parent:
            if parent in seen:
                fail("artifact_files", f"{quote(parent)} is both a file and a directory")
                return
            parent = parent.rpartition("/")[0]


def canonical(files: Sequence[arts.ArtifactFile]) -> bytes:
    """Returns the canonical manifest: `{sha256} {size} {path}\\n` per file, by path."""
    ordered = sorted(files, key=lambda f: f.path.encode())
    return "".join(f"{f.sha256} {f.size_bytes} {f.path}\n" for f in ordered).encode()


def manifest_digest(files: Sequence[arts.ArtifactFile]) -> str:
    """Returns the artifact's identity: the SHA-256 of its canonical manifest."""
    return hashlib.sha256(canonical(files)).hexdigest()


def digests(files: Sequence[arts.ArtifactFile]) -> list[Digest]:
    """Returns the distinct blobs of the files, in a stable order."""
    return sorted({Digest(f.sha256, f.size_bytes) for f in files})
