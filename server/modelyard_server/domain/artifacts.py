"""The bytes of artifacts: which blobs a group lacks, uploads, and reads through a version.

A group holds a blob once the blob was uploaded to it (a row in its blob records): the blob
store keeps each blob once, whatever groups and tenants uploaded it, but a caller learns of
a blob, and reads it, only through a group it may use. Uploads write no log entry: nothing
a reader of the registry sees changes until a version names the files.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

from modelyard.v1 import artifact_service_pb2 as arts
from modelyard.v1 import errors_pb2 as reasons
from modelyard.v1 import resources_pb2 as pb

from modelyard_server.domain import lookup, manifests, names
from modelyard_server.domain.blobs import BlobStore
from modelyard_server.domain.errors import (
    DataLoss,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    OutOfRange,
    invalid_fields,
    quote,
)
from modelyard_server.domain.manifests import Digest
from modelyard_server.domain.principal import Permission, Principal
from modelyard_server.domain.repositories import Store, UnitOfWork

UPLOAD_NAME = re.compile(
    r"groups/(?P<group>[^/]+)/uploads/(?P<upload>[A-Za-z0-9_-]{1,64})"
    r"/blobs/(?P<sha256>[^/]+)/(?P<size>[0-9]{1,20})"
)
UPLOAD_RULE = "expected groups/{group}/uploads/{uuid}/blobs/{sha256}/{size}"
MAX_FIND = 10_000
DEFAULT_URL_SECONDS = 300
MAX_URL_SECONDS = 3600


@dataclass(frozen=True)
class UploadRef:
    group: str
    upload: str
    digest: Digest

    def key(self, tenant: str) -> str:
        """The store's name of the upload: one per tenant, group, client's id and blob."""
        return f"{tenant}/{self.group}/{self.upload}/{self.digest}"


def parse_upload_name(name: str, field: str = "resource_name") -> UploadRef:
    match = UPLOAD_NAME.fullmatch(name)
    if match is None:
        raise invalid_fields(
            [FieldViolation(field, f"{quote(name)} is not an upload: {UPLOAD_RULE}")]
        )
    group = names.check_group_id(match["group"], field)
    digest = Digest(match["sha256"], int(match["size"]))
    problem = manifests.digest_problem(digest.sha256, digest.size)
    if problem:
        raise invalid_fields([FieldViolation(field, problem)])
    return UploadRef(group, match["upload"], digest)


async def _settled(writing: asyncio.Future[None] | None, *, quietly: bool = False) -> None:
    """Waits for the write in flight, if any; `quietly` when already failing."""
    if writing is None:
        return
    if quietly:
        with contextlib.suppress(Exception):
            await writing
    else:
        await writing


def mismatch(expected: Digest, message: str) -> InvalidArgument:
    return InvalidArgument(
        reasons.DIGEST_MISMATCH,
        f"{message}; nothing of it was kept: upload the blob again",
        metadata={"sha256": expected.sha256, "size_bytes": str(expected.size)},
    )


def not_held(version: pb.ModelVersion) -> FailedPrecondition:
    return FailedPrecondition(
        reasons.ARTIFACT_NOT_HELD,
        f"the registry holds only the uri of {version.name}'s artifact "
        f"({version.artifact.uri[:200]}), not its bytes: fetch them from there",
        metadata={"uri": version.artifact.uri[:2048]},
    )


def blobs_missing(missing: Sequence[Digest]) -> FailedPrecondition:
    shown = ", ".join(str(d) for d in missing[:10])
    more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
    return FailedPrecondition(
        reasons.BLOBS_MISSING,
        f"the group does not hold {len(missing)} of the artifact's blobs ({shown}{more}); "
        "upload them (FindMissingBlobs, WriteBlob), then register",
        metadata={"missing": ",".join(str(d) for d in missing[:100])},
    )


async def attach_files(
    unit: UnitOfWork,
    group: str,
    version: pb.ModelVersion,
    files: Sequence[arts.ArtifactFile],
) -> None:
    """Makes `version`'s artifact the one the files make up, after checking that the group
    holds every blob; the caller has checked the files themselves."""
    wanted = manifests.digests(files)
    held = await unit.blobs.held(group, wanted)
    missing = [d for d in wanted if d not in held]
    if missing:
        raise blobs_missing(missing)
    artifact = version.artifact
    artifact.sha256 = manifests.manifest_digest(files)
    artifact.size_bytes = sum(f.size_bytes for f in files)
    artifact.held = True
    artifact.file_count = len(files)


@dataclass(frozen=True)
class Collected:
    """What a collection removed."""

    holdings: int  # blobs that groups held without any of their versions naming them
    blobs: int  # blobs that nothing references any more
    bytes: int
    uploads: int  # uploads abandoned by their clients


class Artifacts:
    """Blobs and the bytes of held artifacts."""

    def __init__(self, store: Store, blobs: BlobStore, clock: Callable[[], int]) -> None:
        self.store = store
        self.blobs = blobs
        self.clock = clock
        #: The blob bytes this process has received, all uploads together (for operators
        #: and the tests of deduplication: a blob the group holds is never sent again).
        self.bytes_received = 0

    async def find_missing(
        self, principal: Principal, parent: str, digests: Sequence[arts.Digest]
    ) -> list[arts.Digest]:
        """Returns the digests the group does not hold, in the order given, each once."""
        group = names.parse_group_name(parent, "parent")
        principal.authorize(Permission.REGISTER, group)
        if len(digests) > MAX_FIND:
            raise invalid_fields(
                [FieldViolation("blob_digests", f"has {len(digests)}; the limit is {MAX_FIND}")]
            )
        asked: dict[Digest, None] = {}
        for index, digest in enumerate(digests):
            problem = manifests.digest_problem(digest.sha256, digest.size_bytes)
            if problem:
                raise invalid_fields([FieldViolation(f"blob_digests[{index}]", problem)])
            asked[Digest(digest.sha256, digest.size_bytes)] = None
        async with self.store.reader(principal.tenant) as unit:
            await lookup.group(unit, group)
            held = await unit.blobs.held(group, list(asked))
        return [arts.Digest(sha256=d.sha256, size_bytes=d.size) for d in asked if d not in held]

    async def write(
        self, principal: Principal, requests: AsyncIterator[arts.WriteBlobRequest]
    ) -> int:
        """Receives one blob's bytes; returns how many are committed (the size once the
        blob is complete). Bytes of a stream that breaks are kept for the upload to resume."""
        first = await anext(requests, None)
        if first is None:
            raise invalid_fields([FieldViolation("resource_name", f"is required: {UPLOAD_RULE}")])
        ref = parse_upload_name(first.resource_name)
        principal.authorize(Permission.REGISTER, ref.group)
        async with self.store.reader(principal.tenant) as unit:
            await lookup.group(unit, ref.group)
            if await unit.blobs.held(ref.group, [ref.digest]):
                return ref.digest.size  # held already: nothing to send
        expected = ref.digest
        async with self.blobs.upload(ref.key(principal.tenant)) as upload:
            # The disk writes one message while the next one arrives: one write in flight.
            writing: asyncio.Future[None] | None = None
            received = upload.committed
            try:
                message: arts.WriteBlobRequest | None = first
                while message is not None:
                    if message.resource_name not in ("", first.resource_name):
                        raise invalid_fields(
                            [FieldViolation("resource_name", "changed within one WriteBlob call")]
                        )
                    if message.write_offset != received:
                        raise InvalidArgument(
                            reasons.WRITE_OFFSET_MISMATCH,
                            f"write_offset is {message.write_offset}, but {received} bytes "
                            f"of the upload are committed; continue at {received}",
                            metadata={"committed_size": str(received)},
                        )
                    if received + len(message.data) > expected.size:
                        await _settled(writing)
                        await upload.discard()
                        raise mismatch(
                            expected, f"more than the {expected.size} bytes announced came"
                        )
                    await _settled(writing)
                    writing = asyncio.ensure_future(upload.append(message.data))
                    received += len(message.data)
                    self.bytes_received += len(message.data)
                    if message.finish_write:
                        break
                    message = await anext(requests, None)
                else:  # the client ended the call without finishing: it may resume later
                    await _settled(writing)
                    return upload.committed
                await _settled(writing)  # a failed last write fails here, not as a mismatch
            finally:
                await _settled(writing, quietly=True)
            actual = await upload.seal()
            if actual != expected:
                await upload.discard()
                if actual.size != expected.size:
                    raise mismatch(
                        expected, f"{actual.size} bytes came, not the {expected.size} announced"
                    )
                raise mismatch(
                    expected, f"the bytes' sha256 is {actual.sha256}, not {expected.sha256}"
                )
            await upload.publish(expected)  # the long part (S3), outside any lock
            async with self.store.writer(principal.tenant) as unit:
                await lookup.group(unit, ref.group)
                await unit.blobs.lock_store()
                # Collection and publishing take the lock in turn: were the blob collected
                # since, this puts it back from the bytes the upload still has.
                await upload.publish(expected)
                await unit.blobs.hold(ref.group, expected, self.clock())
            await upload.discard()
        return expected.size

    async def write_status(self, principal: Principal, resource_name: str) -> tuple[int, bool]:
        """Returns how many bytes of the upload are committed, and whether the group holds
        the blob."""
        ref = parse_upload_name(resource_name)
        principal.authorize(Permission.REGISTER, ref.group)
        async with self.store.reader(principal.tenant) as unit:
            await lookup.group(unit, ref.group)
            if await unit.blobs.held(ref.group, [ref.digest]):
                return ref.digest.size, True
        return await self.blobs.committed(ref.key(principal.tenant)), False

    async def _held_version(
        self, principal: Principal, name: str
    ) -> tuple[pb.ModelVersion, list[arts.ArtifactFile]]:
        ref = names.parse_readable_version(name)
        principal.authorize(Permission.READ, ref.group)
        async with self.store.reader(principal.tenant) as unit:
            version = await lookup.readable_version(unit, ref)
            if not version.artifact.held:
                raise not_held(version)
            return version, await unit.blobs.files(ref.group, version.version)

    async def manifest(
        self, principal: Principal, name: str, url_seconds: int | None = None
    ) -> arts.ArtifactManifest:
        """Returns the files of a version's held artifact; with `url_seconds`, each with a
        URL that reads it straight from the blob store for that long, where it has one."""
        if url_seconds is not None and not 0 <= url_seconds <= MAX_URL_SECONDS:
            raise invalid_fields(
                [FieldViolation("url_seconds", f"must be 0 to {MAX_URL_SECONDS} (0: 300)")]
            )
        version, files = await self._held_version(principal, name)
        if url_seconds is not None:
            for file in files:
                url = await self.blobs.url(
                    Digest(file.sha256, file.size_bytes), url_seconds or DEFAULT_URL_SECONDS
                )
                file.download_url = url or ""
        return arts.ArtifactManifest(
            version=version.name,
            sha256=version.artifact.sha256,
            directory=version.artifact.directory,
            files=files,
        )

    async def read(
        self, principal: Principal, name: str, path: str, offset: int, limit: int
    ) -> AsyncIterator[bytes]:
        """Returns the bytes of one file of a version's held artifact, from `offset`."""
        version, files = await self._held_version(principal, name)
        if not path and len(files) == 1 and not version.artifact.directory:
            path = files[0].path
        file = next((f for f in files if f.path == path), None)
        if file is None:
            raise NotFound(
                reasons.ARTIFACT_FILE_NOT_FOUND,
                f"{version.name}'s artifact has no file {quote(path)}"
                + ("; name one of its files" if path else "; it is a directory: name a file"),
                metadata={"path": path[:1024]},
            )
        if offset < 0 or offset > file.size_bytes:
            raise OutOfRange(
                reasons.INVALID_FIELD,
                f"read_offset {offset} is outside {quote(path)}, which has {file.size_bytes} bytes",
            )
        if limit < 0:
            raise invalid_fields(
                [FieldViolation("read_limit", "must be >= 0 (0 reads to the end)")]
            )
        digest = Digest(file.sha256, file.size_bytes)
        if not await self.blobs.exists(digest):
            raise DataLoss(
                reasons.BLOB_LOST,
                f"the blob {digest} of {version.name} is missing from the blob store; "
                "restore the store from a backup",
            )
        return self.blobs.read(digest, offset, limit)

    async def collect(self, grace_seconds: float) -> Collected:
        """Removes what no version needs, once older than `grace_seconds`: a group's hold on
        a blob none of its versions names (uploaded and never registered, or its versions
        deleted), then the blobs nothing references, then abandoned uploads.

        A group's holdings are forgotten under its tenant's write lock, which registration
        takes too: a version either names the blob first (and it stays) or finds it missing.
        Blobs are removed under the store-wide blob lock, which an upload takes to publish
        and record its blob: an upload either records its hold first (and the blob stays)
        or publishes the blob again from the bytes it still has.
        """
        cutoff_us = self.clock() - int(grace_seconds * 1_000_000)
        holdings = 0
        async with self.store.blob_index() as index:
            tenants = await index.tenants()
        for tenant in tenants:
            async with self.store.writer(tenant) as unit:
                holdings += await unit.blobs.expire(cutoff_us)
        removed, freed = 0, 0
        async with self.store.blob_index() as index:
            old = [b.digest async for b in self.blobs.stored() if b.modified * 1e6 < cutoff_us]
            referenced = await index.referenced([d.sha256 for d in old])
            for digest in old:
                if digest.sha256 not in referenced:
                    await self.blobs.delete(digest)
                    removed += 1
                    freed += digest.size
        uploads = await self.blobs.sweep(grace_seconds)
        return Collected(holdings, removed, freed, uploads)
