"""Blob records: which blobs each group holds, and the files of held artifacts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from modelyard.v1 import artifact_service_pb2 as arts
from sqlalchemy import CursorResult, bindparam, delete, exists, select

from modelyard_server.domain.manifests import Digest
from modelyard_server.store.engine import Conn
from modelyard_server.store.keys import GroupKeys
from modelyard_server.store.tables import (
    ARTIFACT_FILES,
    BLOB_HOLDERS,
    HEADS,
    STORE_LOCKS,
    VERSIONS,
)

# SQLite allows 32766 bound parameters per statement; stay well below.
_CHUNK = 500
HELD = select(BLOB_HOLDERS.c.sha256, BLOB_HOLDERS.c.size_bytes).where(
    BLOB_HOLDERS.c.group_pk == bindparam("b_pk"),
    BLOB_HOLDERS.c.sha256.in_(bindparam("b_sha256s", expanding=True)),
)
HOLD = BLOB_HOLDERS.insert()
VERSION_PK = select(VERSIONS.c.id).where(
    VERSIONS.c.group_pk == bindparam("b_pk"), VERSIONS.c.number == bindparam("b_number")
)
ATTACH = ARTIFACT_FILES.insert()
FILES = (
    select(ARTIFACT_FILES.c.path, ARTIFACT_FILES.c.sha256, ARTIFACT_FILES.c.size_bytes)
    .where(ARTIFACT_FILES.c.version_pk == bindparam("b_version_pk"))
    .order_by(ARTIFACT_FILES.c.path)
)


LOCK_BLOBS = select(STORE_LOCKS.c.name).where(STORE_LOCKS.c.name == "blobs").with_for_update()
# A holder row its group's versions name: registration needs it no more than the versions do.
_NAMED_BY_ITS_GROUP = exists(
    select(ARTIFACT_FILES.c.id)
    .join(VERSIONS, VERSIONS.c.id == ARTIFACT_FILES.c.version_pk)
    .where(
        VERSIONS.c.group_pk == BLOB_HOLDERS.c.group_pk,
        ARTIFACT_FILES.c.sha256 == BLOB_HOLDERS.c.sha256,
    )
)
EXPIRE = delete(BLOB_HOLDERS).where(
    BLOB_HOLDERS.c.tenant == bindparam("b_tenant"),
    BLOB_HOLDERS.c.create_time_us < bindparam("b_cutoff"),
    ~_NAMED_BY_ITS_GROUP,
)
NAMED_IN_GROUP = (
    select(ARTIFACT_FILES.c.sha256, ARTIFACT_FILES.c.size_bytes)
    .join(VERSIONS, VERSIONS.c.id == ARTIFACT_FILES.c.version_pk)
    .where(
        VERSIONS.c.group_pk == bindparam("b_pk"),
        ARTIFACT_FILES.c.sha256.in_(bindparam("b_sha256s", expanding=True)),
    )
)
REFERENCED = (
    select(BLOB_HOLDERS.c.sha256)
    .where(BLOB_HOLDERS.c.sha256.in_(bindparam("b_sha256s", expanding=True)))
    .union(
        select(ARTIFACT_FILES.c.sha256).where(
            ARTIFACT_FILES.c.sha256.in_(bindparam("b_sha256s", expanding=True))
        )
    )
)
TENANTS = select(HEADS.c.tenant)


class SqlBlobIndex:
    """Which blobs anything references, across tenants, under the store's blob lock
    (implements domain's BlobIndex)."""

    def __init__(self, conn: Conn, *, postgres: bool) -> None:
        self.conn = conn
        self.postgres = postgres

    async def lock(self) -> None:
        if self.postgres:  # SQLite has one writer at a time already
            await self.conn.execute(LOCK_BLOBS)

    async def referenced(self, sha256s: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(sha256s), _CHUNK):
            chunk = sorted(set(sha256s[start : start + _CHUNK]))
            found.update(await self.conn.scalars(REFERENCED, {"b_sha256s": chunk}))
        return found

    async def tenants(self) -> list[str]:
        return sorted(await self.conn.scalars(TENANTS))


class SqlBlobs:
    """The blob records of one tenant's groups (implements domain's BlobRepository)."""

    def __init__(self, conn: Conn, tenant: str, keys: GroupKeys, *, postgres: bool) -> None:
        self.conn = conn
        self.tenant = tenant
        self.keys = keys
        self.postgres = postgres

    async def held(self, group: str, digests: Sequence[Digest]) -> set[Digest]:
        pk = await self.keys.of(group)
        if pk is None or not digests:
            return set()
        found: set[Digest] = set()
        wanted = set(digests)
        for start in range(0, len(digests), _CHUNK):
            params = {
                "b_pk": pk,
                "b_sha256s": sorted({d.sha256 for d in digests[start : start + _CHUNK]}),
            }
            for statement in (HELD, NAMED_IN_GROUP):
                rows: list[Any] = list(await self.conn.execute(statement, params))
                found.update(d for d in (Digest(r[0], r[1]) for r in rows) if d in wanted)
        return found

    async def lock_store(self) -> None:
        if self.postgres:
            await self.conn.execute(LOCK_BLOBS)

    async def expire(self, cutoff: int) -> int:
        done = await self.conn.execute(EXPIRE, {"b_tenant": self.tenant, "b_cutoff": cutoff})
        return int(cast(CursorResult[Any], done).rowcount)

    async def hold(self, group: str, digest: Digest, now: int) -> None:
        if await self.held(group, [digest]):
            return
        row = {
            "tenant": self.tenant,
            "group_pk": await self.keys.of(group),
            "sha256": digest.sha256,
            "size_bytes": digest.size,
            "create_time_us": now,
        }
        await self.conn.execute(HOLD, row)

    async def _version_pk(self, group: str, number: int) -> int | None:
        pk = await self.keys.of(group)
        if pk is None:
            return None
        found: int | None = await self.conn.scalar(VERSION_PK, {"b_pk": pk, "b_number": number})
        return found

    async def attach(self, group: str, number: int, files: Sequence[arts.ArtifactFile]) -> None:
        version_pk = await self._version_pk(group, number)
        rows = [
            {
                "tenant": self.tenant,
                "version_pk": version_pk,
                "path": f.path,
                "sha256": f.sha256,
                "size_bytes": f.size_bytes,
            }
            for f in files
        ]
        for start in range(0, len(rows), _CHUNK):
            await self.conn.execute(ATTACH, rows[start : start + _CHUNK])

    async def files(self, group: str, number: int) -> list[arts.ArtifactFile]:
        version_pk = await self._version_pk(group, number)
        if version_pk is None:
            return []
        rows = await self.conn.execute(FILES, {"b_version_pk": version_pk})
        return [
            arts.ArtifactFile(path=r.path, sha256=r.sha256, size_bytes=r.size_bytes) for r in rows
        ]
