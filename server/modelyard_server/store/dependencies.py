"""The dependents index: which versions name which others in `lineage.depends_on`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from modelyard.v1 import resources_pb2 as pb
from sqlalchemy import BindParameter, ColumnElement, and_, bindparam, exists, select, tuple_

from modelyard_server.domain import names
from modelyard_server.domain.repositories import DependencyEdge, VersionKey
from modelyard_server.store.engine import Conn
from modelyard_server.store.tables import DEPENDENCIES, GROUPS, VERSIONS

# SQLite allows 32766 bound parameters per statement; stay well below.
_CHUNK = 400
_tenant: BindParameter[str] = bindparam("b_tenant")
_dependent = (
    select(
        GROUPS.c.group_id,
        VERSIONS.c.number,
        VERSIONS.c.stage,
        DEPENDENCIES.c.target_group,
        DEPENDENCIES.c.target_number,
    )
    .join(VERSIONS, VERSIONS.c.id == DEPENDENCIES.c.version_pk)
    .join(GROUPS, GROUPS.c.id == VERSIONS.c.group_pk)
    .where(DEPENDENCIES.c.tenant == _tenant)
)
DEPENDENTS_OF = _dependent.where(
    tuple_(DEPENDENCIES.c.target_group, DEPENDENCIES.c.target_number).in_(
        bindparam("b_targets", expanding=True)
    )
)
DEPENDENCIES_OF = _dependent.where(
    tuple_(GROUPS.c.group_id, VERSIONS.c.number).in_(bindparam("b_versions", expanding=True))
)
OF_GROUP = _dependent.where(DEPENDENCIES.c.target_group == bindparam("b_group"))
OF_STAGE = _dependent.where(VERSIONS.c.stage == bindparam("b_stage"))
INSERT = DEPENDENCIES.insert()


def edges_of(version: pb.ModelVersion) -> list[VersionKey]:
    """Returns the versions a version depends on, each once, as (group, number)."""
    refs = (names.parse_version_name(t, "lineage.depends_on") for t in version.lineage.depends_on)
    return sorted({(ref.group, ref.number) for ref in refs if ref.number is not None})


def depends_on(target: str) -> ColumnElement[bool]:
    """Returns the condition that a version row names `target` in its depends_on."""
    ref = names.parse_version_name(target, "filter")
    return exists(
        select(DEPENDENCIES.c.id).where(
            and_(
                DEPENDENCIES.c.version_pk == VERSIONS.c.id,
                DEPENDENCIES.c.target_group == ref.group,
                DEPENDENCIES.c.target_number == ref.number,
            )
        )
    )


def _edge(row: Any) -> DependencyEdge:
    return DependencyEdge(
        (row.group_id, row.number), int(row.stage), (row.target_group, row.target_number)
    )


class SqlDependencies:
    """The dependents index of one tenant's versions (implements DependencyRepository)."""

    def __init__(self, conn: Conn, tenant: str) -> None:
        self.conn = conn
        self.tenant = tenant

    async def index(self, version_pks: Sequence[tuple[int, pb.ModelVersion]]) -> None:
        """Records the depends_on of newly inserted versions, given with their row keys."""
        rows = [
            {"tenant": self.tenant, "version_pk": pk, "target_group": g, "target_number": n}
            for pk, version in version_pks
            for g, n in edges_of(version)
        ]
        for start in range(0, len(rows), _CHUNK):
            await self.conn.execute(INSERT, rows[start : start + _CHUNK])

    async def _edges(self, statement: Any, key: str, pairs: Sequence[VersionKey]) -> list[Any]:
        found: list[Any] = []
        unique = sorted(set(pairs))
        for start in range(0, len(unique), _CHUNK):
            params = {"b_tenant": self.tenant, key: unique[start : start + _CHUNK]}
            found.extend(await self.conn.execute(statement, params))
        return found

    async def dependents_of(self, targets: Sequence[VersionKey]) -> list[DependencyEdge]:
        rows = await self._edges(DEPENDENTS_OF, "b_targets", targets)
        return [_edge(row) for row in rows]

    async def dependencies_of(self, versions: Sequence[VersionKey]) -> list[DependencyEdge]:
        rows = await self._edges(DEPENDENCIES_OF, "b_versions", versions)
        return [_edge(row) for row in rows]

    async def of_group(self, group: str) -> list[DependencyEdge]:
        rows = await self.conn.execute(OF_GROUP, {"b_tenant": self.tenant, "b_group": group})
        return [_edge(row) for row in rows]

    async def of_stage(self, stage: int) -> list[DependencyEdge]:
        rows = await self.conn.execute(OF_STAGE, {"b_tenant": self.tenant, "b_stage": stage})
        return [_edge(row) for row in rows]
