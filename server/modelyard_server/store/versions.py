"""Version rows: the serialized version beside the columns its lists filter and sort on."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, cast

from modelyard.v1 import resources_pb2 as pb
from sqlalchemy import BindParameter, ColumnElement, bindparam, delete, func, select, tuple_, update

from modelyard_server.domain import names
from modelyard_server.domain.filters import FieldSpec, Node, Ordering
from modelyard_server.domain.repositories import EncodedSlice, Key
from modelyard_server.store import dependencies
from modelyard_server.store.engine import Conn
from modelyard_server.store.keys import GroupKeys
from modelyard_server.store.prepared import PreparedRead, PreparedWrite
from modelyard_server.store.tables import ALIASES, GROUPS, VERSIONS
from modelyard_server.store.where import (
    after,
    check_key,
    condition,
    order_clause,
    page_of,
    sort_columns,
)

_tenant: BindParameter[str] = bindparam("b_tenant")
_group: BindParameter[str] = bindparam("b_group")
_pk: BindParameter[int] = bindparam("b_pk")
_number: BindParameter[int] = bindparam("b_number")
_of_group = (
    select(VERSIONS.c.body)
    .join(GROUPS, GROUPS.c.id == VERSIONS.c.group_pk)
    .where(GROUPS.c.tenant == _tenant, GROUPS.c.group_id == _group, VERSIONS.c.tenant == _tenant)
)
# What every get by number, `latest` or alias reads: prepared (store/prepared.py).
GET = PreparedRead(_of_group.where(VERSIONS.c.number == _number))
LATEST = PreparedRead(_of_group.order_by(VERSIONS.c.number.desc()).limit(1))
BY_ALIAS = PreparedRead(
    _of_group.join(
        ALIASES,
        (ALIASES.c.group_pk == VERSIONS.c.group_pk) & (ALIASES.c.number == VERSIONS.c.number),
    ).where(ALIASES.c.alias == bindparam("b_alias"))
)
_in_group = (VERSIONS.c.tenant == _tenant) & (VERSIONS.c.group_pk == _pk)
IN_STAGE = (
    select(VERSIONS.c.body)
    .where(_in_group, VERSIONS.c.stage == bindparam("b_stage"))
    .order_by(VERSIONS.c.number)
)
FORMER_PRODUCTION = (
    select(VERSIONS.c.body)
    .where(
        _in_group,
        VERSIONS.c.production_end_us.is_not(None),
        VERSIONS.c.stage != pb.STAGE_PRODUCTION,
    )
    .order_by(VERSIONS.c.production_end_us.desc(), VERSIONS.c.number.desc())
    .limit(bindparam("b_limit"))
)
NEWEST = (
    select(VERSIONS.c.number)
    .where(_in_group)
    .order_by(VERSIONS.c.number.desc())
    .limit(bindparam("b_limit"))
)
HELD = select(VERSIONS.c.number).where(_in_group, VERSIONS.c.legal_hold.is_(True))
COUNT = select(func.count()).select_from(VERSIONS).where(_in_group)
COUNT_IN_STAGE = COUNT.where(VERSIONS.c.stage == bindparam("b_stage"))
# Reads no more than b_limit rows of the stage's index range, however big the group.
COUNT_IN_STAGE_UPTO = select(func.count()).select_from(
    select(VERSIONS.c.number)
    .where(_in_group, VERSIONS.c.stage == bindparam("b_stage"))
    .limit(bindparam("b_limit"))
    .subquery()
)
WITH_ARTIFACTS = select(VERSIONS.c.artifact_sha256, VERSIONS.c.number).where(
    _in_group, VERSIONS.c.artifact_sha256.in_(bindparam("b_sha256s", expanding=True))
)
# A registration checks one artifact: that statement is prepared (an IN list is not).
WITH_ARTIFACT = PreparedRead(
    select(VERSIONS.c.artifact_sha256, VERSIONS.c.number).where(
        _in_group, VERSIONS.c.artifact_sha256 == bindparam("b_sha256")
    )
)
EXISTING = (
    select(GROUPS.c.group_id, VERSIONS.c.number)
    .join(GROUPS, GROUPS.c.id == VERSIONS.c.group_pk)
    .where(
        VERSIONS.c.tenant == _tenant,
        tuple_(GROUPS.c.group_id, VERSIONS.c.number).in_(bindparam("b_refs", expanding=True)),
    )
)
INSERT = PreparedWrite(VERSIONS.insert())
KEYS = select(VERSIONS.c.id, VERSIONS.c.number).where(
    _in_group, VERSIONS.c.number.in_(bindparam("b_numbers", expanding=True))
)
_this = _in_group & (VERSIONS.c.number == _number)
UPDATE = PreparedWrite(update(VERSIONS).where(_this))
DELETE = delete(VERSIONS).where(_this)

COLUMNS: dict[str, ColumnElement[Any]] = {
    "version": VERSIONS.c.number,
    "stage": VERSIONS.c.stage,
    "approval_status": VERSIONS.c.approval_status,
    "created_by": VERSIONS.c.created_by,
    "create_time": VERSIONS.c.create_time_us,
    "update_time": VERSIONS.c.update_time_us,
    "artifact.sha256": VERSIONS.c.artifact_sha256,
    "artifact.format": VERSIONS.c.artifact_format,
}


def column(field: FieldSpec) -> ColumnElement[Any]:
    if field.key is not None:
        if field.name == "metrics":
            return cast(ColumnElement[Any], VERSIONS.c.metrics[field.key].as_float())
        return cast(ColumnElement[Any], VERSIONS.c.tags[field.key].as_string())
    return COLUMNS[field.name]


def member(field: FieldSpec, value: str) -> ColumnElement[bool]:
    assert field.name == "depends_on", field.name
    return dependencies.depends_on(value)


@functools.lru_cache(maxsize=256)
def _page_query(
    scoped: bool, where: Node | None, order: Ordering, keyed: bool, _types: str
) -> tuple[PreparedRead, list[tuple[ColumnElement[Any], bool]]]:
    columns = sort_columns(order, column, VERSIONS.c.id)
    query = select(VERSIONS.c.body, *(c for c, _ in columns)).where(VERSIONS.c.tenant == _tenant)
    if scoped:
        query = query.where(VERSIONS.c.group_pk == _pk)
    if where is not None:
        query = query.where(condition(where, column, member))
    if keyed:
        key = [bindparam(f"b_after_{i}", type_=c.type) for i, (c, _) in enumerate(columns)]
        query = query.where(after(columns, key))
    query = query.order_by(*order_clause(columns)).limit(bindparam("b_limit"))
    return PreparedRead(query), columns


def page_query(
    scoped: bool, where: Node | None, order: Ordering, keyed: bool
) -> tuple[PreparedRead, list[tuple[ColumnElement[Any], bool]]]:
    """Returns the prepared query of a page of versions and its sort columns, made once per
    filter and ordering (and kept for the 256 most recent): building and compiling the
    statement on every call cost more than running it. Its parameters: b_tenant, b_limit,
    b_pk if `scoped`, and b_after_0.. if `keyed`."""
    # 1, 1.0 and True are equal keys to a cache; the filter's value types tell them apart.
    return _page_query(scoped, where, order, keyed, repr(where))


def row_of(version: pb.ModelVersion) -> dict[str, Any]:
    """Returns the row columns that mirror a version (the row's body is the version itself)."""
    return {
        "number": version.version,
        "stage": version.stage,
        "approval_status": version.approval_status,
        "artifact_sha256": version.artifact.sha256,
        "artifact_format": version.artifact.format,
        "created_by": version.created_by,
        "create_time_us": version.create_time.ToMicroseconds(),
        "update_time_us": version.update_time.ToMicroseconds(),
        "tags": dict(version.tags),
        "metrics": dict(version.metrics),
        "body": version.SerializeToString(deterministic=True),
        "legal_hold": version.HasField("legal_hold"),
        "production_end_us": (
            version.production_end_time.ToMicroseconds()
            if version.HasField("production_end_time")
            else None
        ),
    }


class SqlVersions:
    """The versions of one tenant's groups."""

    def __init__(self, conn: Conn, tenant: str, keys: GroupKeys) -> None:
        self.conn = conn
        self.tenant = tenant
        self.keys = keys
        self.dependencies = dependencies.SqlDependencies(conn, tenant)

    async def _in_group(self, group: str, **params: Any) -> dict[str, Any]:
        return {"b_tenant": self.tenant, "b_pk": await self.keys.of(group), **params}

    async def _bodies(self, statement: Any, params: dict[str, Any]) -> list[pb.ModelVersion]:
        rows = await self.conn.scalars(statement, params)
        return [pb.ModelVersion.FromString(body) for body in rows.all()]

    async def get(self, group: str, number: int | None) -> pb.ModelVersion | None:
        params = {"b_tenant": self.tenant, "b_group": group, "b_number": number}
        body = await (LATEST if number is None else GET).scalar(self.conn, params)
        return None if body is None else pb.ModelVersion.FromString(body)

    async def by_alias(self, group: str, alias: str) -> pb.ModelVersion | None:
        params = {"b_tenant": self.tenant, "b_group": group, "b_alias": alias}
        body = await BY_ALIAS.scalar(self.conn, params)
        return None if body is None else pb.ModelVersion.FromString(body)

    async def page(
        self, group: str | None, where: Node | None, order: Ordering, limit: int, after: Key | None
    ) -> EncodedSlice[pb.ModelVersion]:
        query, columns = page_query(group is not None, where, order, after is not None)
        params: dict[str, Any] = {"b_tenant": self.tenant, "b_limit": limit + 1}
        if group is not None:
            params["b_pk"] = await self.keys.of(group)
        if after is not None:
            check_key(columns, after)
            params.update((f"b_after_{i}", value) for i, value in enumerate(after))
        return page_of(await query.rows(self.conn, params), limit, pb.ModelVersion.FromString)

    async def in_stage(self, group: str, stage: int) -> list[pb.ModelVersion]:
        return await self._bodies(IN_STAGE, await self._in_group(group, b_stage=stage))

    async def former_production(self, group: str, limit: int) -> list[pb.ModelVersion]:
        return await self._bodies(FORMER_PRODUCTION, await self._in_group(group, b_limit=limit))

    async def count(self, group: str, *, stage: int | None = None) -> int:
        if stage is None:
            return int(await self.conn.scalar(COUNT, await self._in_group(group)) or 0)
        params = await self._in_group(group, b_stage=stage)
        return int(await self.conn.scalar(COUNT_IN_STAGE, params) or 0)

    async def count_upto(self, group: str, stage: int, limit: int) -> int:
        params = await self._in_group(group, b_stage=stage, b_limit=limit)
        return int(await self.conn.scalar(COUNT_IN_STAGE_UPTO, params) or 0)

    async def missing(self, refs: Sequence[str]) -> list[str]:
        wanted = {r: names.parse_version_name(r, "lineage") for r in refs}
        pairs = [(ref.group, ref.number) for ref in wanted.values()]
        rows = await self.conn.execute(EXISTING, {"b_tenant": self.tenant, "b_refs": pairs})
        found = {(row.group_id, row.number) for row in rows}
        return [r for r, ref in wanted.items() if (ref.group, ref.number) not in found]

    async def with_artifacts(self, group: str, sha256s: Sequence[str]) -> dict[str, int]:
        if len(sha256s) == 1:
            params = await self._in_group(group, b_sha256=sha256s[0])
            return dict(await WITH_ARTIFACT.rows(self.conn, params))
        params = await self._in_group(group, b_sha256s=list(sha256s))
        rows = await self.conn.execute(WITH_ARTIFACTS, params)
        return {row.artifact_sha256: row.number for row in rows}

    async def insert(self, group: str, versions: Sequence[pb.ModelVersion]) -> None:
        group_pk = await self.keys.of(group)
        rows = [{"tenant": self.tenant, "group_pk": group_pk, **row_of(v)} for v in versions]
        await INSERT.run(self.conn, rows)
        # The dependents index is kept with the version, in the same transaction.
        dependent = {v.version: v for v in versions if v.lineage.depends_on}
        if dependent:
            params = await self._in_group(group, b_numbers=sorted(dependent))
            keys = (await self.conn.execute(KEYS, params)).all()
            await self.dependencies.index([(row.id, dependent[row.number]) for row in keys])

    async def update(self, group: str, version: pb.ModelVersion) -> None:
        params = await self._in_group(group, b_number=version.version, **row_of(version))
        await UPDATE.run(self.conn, params)

    async def newest_numbers(self, group: str, limit: int) -> list[int]:
        params = await self._in_group(group, b_limit=limit)
        return list(await self.conn.scalars(NEWEST, params))

    async def held(self, group: str) -> list[int]:
        params = await self._in_group(group)
        return list(await self.conn.scalars(HELD, params))

    async def delete(self, group: str, number: int) -> None:
        await self.conn.execute(DELETE, await self._in_group(group, b_number=number))
