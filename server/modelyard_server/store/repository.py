"""The store: readers, and writers that hold the tenant's log lock for one transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import replace
from typing import Any, TypeVar, cast

from modelyard.v1 import resources_pb2 as pb
from sqlalchemy import ColumnElement, CursorResult, Row, delete, func, insert, select, update
from sqlalchemy.exc import InterfaceError, OperationalError

from modelyard_server.domain import names
from modelyard_server.domain.errors import Unavailable
from modelyard_server.domain.filters import And, Comparison, FieldSpec, Node, Not, Or, Ordering
from modelyard_server.domain.pages import fit
from modelyard_server.domain.store import AuditQuery, Key, LogDraft, Slice
from modelyard_server.log.chain import (
    GENESIS_HASH,
    LogEntry,
    canonical,
    chain_hash,
    related_snapshot,
    snapshot,
)
from modelyard_server.store import statements as sql
from modelyard_server.store.engine import Conn, Engines
from modelyard_server.store.tables import AliasRow, ChainHead, GroupRow, LogRow, VersionRow
from modelyard_server.store.webhooks import WebhookReads, WebhookWrites
from modelyard_server.store.where import after_key, condition, order_clause, sort_columns

# PostgreSQL channel on which a committed log entry announces itself as "tenant:seq".
NOTIFY_CHANNEL = "modelyard_log"

GROUP_COLUMNS: dict[str, Any] = {
    "name": GroupRow.group_id,
    "create_time": GroupRow.create_time_us,
    "update_time": GroupRow.update_time_us,
    "created_by": GroupRow.created_by,
    "latest_version": GroupRow.latest_version,
}
VERSION_COLUMNS: dict[str, Any] = {
    "version": VersionRow.number,
    "stage": VersionRow.stage,
    "approval_status": VersionRow.approval_status,
    "created_by": VersionRow.created_by,
    "create_time": VersionRow.create_time_us,
    "update_time": VersionRow.update_time_us,
    "artifact.sha256": VersionRow.artifact_sha256,
    "artifact.format": VersionRow.artifact_format,
}


def group_column(field: FieldSpec) -> ColumnElement[Any]:
    if field.key is not None:
        return cast(ColumnElement[Any], GroupRow.tags[field.key].as_string())
    return cast(ColumnElement[Any], GROUP_COLUMNS[field.name])


def version_column(field: FieldSpec) -> ColumnElement[Any]:
    if field.key is not None:
        if field.name == "metrics":
            return cast(ColumnElement[Any], VersionRow.metrics[field.key].as_float())
        return cast(ColumnElement[Any], VersionRow.tags[field.key].as_string())
    return cast(ColumnElement[Any], VERSION_COLUMNS[field.name])


def group_values(group: pb.ModelGroup) -> dict[str, Any]:
    """Returns the row columns that mirror a group (the row's body is the group itself)."""
    return {
        "group_id": group.name.removeprefix("groups/"),
        "created_by": group.created_by,
        "create_time_us": group.create_time.ToMicroseconds(),
        "update_time_us": group.update_time.ToMicroseconds(),
        "latest_version": group.latest_version,
        "tags": dict(group.tags),
        "body": group.SerializeToString(deterministic=True),
    }


def version_values(version: pb.ModelVersion) -> dict[str, Any]:
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
        "production_end_us": (
            version.production_end_time.ToMicroseconds()
            if version.HasField("production_end_time")
            else None
        ),
    }


def entry_of(row: Row[Any]) -> LogEntry:
    return LogEntry(
        tenant=row.tenant,
        seq=row.seq,
        time_us=row.time_us,
        actor=row.actor,
        action=row.action,
        resource=row.resource,
        group=row.group_id,
        version=row.version,
        before=row.before,
        after=row.after,
        reason=row.reason,
        request_id=row.request_id or "",
        request_digest=row.request_digest,
        prev_hash=row.prev_hash,
        hash=row.hash,
        related=row.related,
    )


def chain_entry(tenant: str, seq: int, prev_hash: str, draft: LogDraft) -> LogEntry:
    """Returns the entry a draft becomes at `seq`, chained to the entry before it."""
    before, after = snapshot(draft.before), snapshot(draft.after)
    related = related_snapshot(list(draft.related))
    form = canonical(
        tenant=tenant,
        seq=seq,
        time_us=draft.time_us,
        actor=draft.actor,
        action=draft.action,
        resource=draft.resource,
        group=draft.group,
        version=draft.version,
        before=before,
        after=after,
        reason=draft.reason,
        request_id=draft.request_id,
        request_digest=draft.request_digest,
        related=related,
    )
    return LogEntry(
        tenant=tenant,
        seq=seq,
        time_us=draft.time_us,
        actor=draft.actor,
        action=draft.action,
        resource=draft.resource,
        group=draft.group,
        version=draft.version,
        before=before,
        after=after,
        reason=draft.reason,
        request_id=draft.request_id,
        request_digest=draft.request_digest,
        prev_hash=prev_hash,
        hash=chain_hash(prev_hash, form),
        related=related,
    )


def log_values(entry: LogEntry) -> dict[str, Any]:
    """Returns the log row of an entry."""
    return {
        "tenant": entry.tenant,
        "seq": entry.seq,
        "time_us": entry.time_us,
        "actor": entry.actor,
        "action": entry.action,
        "resource": entry.resource,
        "group_id": entry.group,
        "version": entry.version,
        "before": entry.before,
        "after": entry.after,
        "reason": entry.reason,
        "request_id": entry.request_id or None,
        "request_digest": entry.request_digest,
        "prev_hash": entry.prev_hash,
        "hash": entry.hash,
        "related": entry.related,
    }


LOG_COLUMNS = [c for c in LogRow.__table__.c]


class SqlReader(WebhookReads):
    """Reads of one tenant on one connection."""

    def __init__(self, conn: Conn, tenant: str) -> None:
        self.conn = conn
        self.tenant = tenant
        self.group_pks: dict[str, int] = {}

    async def _group_pk(self, group: str) -> int | None:
        if group not in self.group_pks:
            pk = await self.conn.scalar(sql.GROUP_PK, {"b_tenant": self.tenant, "b_group": group})
            if pk is None:
                return None
            self.group_pks[group] = pk
        return self.group_pks[group]

    async def group(self, group: str) -> pb.ModelGroup | None:
        row = (
            await self.conn.execute(sql.GROUP, {"b_tenant": self.tenant, "b_group": group})
        ).first()
        if row is None:
            return None
        self.group_pks[group] = row.id
        return pb.ModelGroup.FromString(row.body)

    async def version(self, group: str, number: int | None) -> pb.ModelVersion | None:
        params = {"b_tenant": self.tenant, "b_group": group, "b_number": number}
        body = await self.conn.scalar(sql.LATEST_VERSION if number is None else sql.VERSION, params)
        return None if body is None else pb.ModelVersion.FromString(body)

    async def list_groups(
        self, where: Node | None, order: Ordering, limit: int, after: Key | None
    ) -> Slice[pb.ModelGroup]:
        columns = sort_columns(order, group_column, cast(ColumnElement[Any], GroupRow.id))
        query = select(GroupRow.body, *(c for c, _ in columns)).where(
            GroupRow.tenant == self.tenant
        )
        if where is not None:
            query = query.where(condition(_strip_group_prefix(where), group_column))
        if after is not None:
            query = query.where(after_key(columns, after))
        rows = (
            await self.conn.execute(query.order_by(*order_clause(columns)).limit(limit + 1))
        ).all()
        return _slice(rows, limit, pb.ModelGroup)

    async def list_versions(
        self, group: str | None, where: Node | None, order: Ordering, limit: int, after: Key | None
    ) -> Slice[pb.ModelVersion]:
        columns = sort_columns(order, version_column, cast(ColumnElement[Any], VersionRow.id))
        query = select(VersionRow.body, *(c for c, _ in columns)).where(
            VersionRow.tenant == self.tenant
        )
        if group is not None:
            query = query.where(VersionRow.group_pk == await self._group_pk(group))
        if where is not None:
            query = query.where(condition(where, version_column))
        if after is not None:
            query = query.where(after_key(columns, after))
        rows = (
            await self.conn.execute(query.order_by(*order_clause(columns)).limit(limit + 1))
        ).all()
        return _slice(rows, limit, pb.ModelVersion)

    async def list_log(
        self, query: AuditQuery, limit: int, after_seq: int | None
    ) -> list[LogEntry]:
        statement = select(*LOG_COLUMNS).where(LogRow.tenant == self.tenant)
        if query.resource:
            statement = statement.where(LogRow.resource == query.resource)
        if query.group:
            statement = statement.where(LogRow.group_id == query.group)
        if query.actor:
            statement = statement.where(LogRow.actor == query.actor)
        if query.actions:
            statement = statement.where(LogRow.action.in_(query.actions))
        if query.start_us:
            statement = statement.where(LogRow.time_us >= query.start_us)
        if query.end_us:
            statement = statement.where(LogRow.time_us < query.end_us)
        if after_seq is not None:
            statement = statement.where(
                LogRow.seq < after_seq if query.newest_first else LogRow.seq > after_seq
            )
        statement = statement.order_by(
            LogRow.seq.desc() if query.newest_first else LogRow.seq.asc()
        ).limit(limit)
        return [entry_of(row) for row in (await self.conn.execute(statement)).all()]

    async def log_range(self, after_seq: int, limit: int) -> list[LogEntry]:
        statement = (
            select(*LOG_COLUMNS)
            .where(LogRow.tenant == self.tenant, LogRow.seq > after_seq)
            .order_by(LogRow.seq)
            .limit(limit)
        )
        return [entry_of(row) for row in (await self.conn.execute(statement)).all()]

    async def policy(self, group: str) -> pb.ApprovalPolicy | None:
        body = await self.conn.scalar(
            select(GroupRow.policy).where(
                GroupRow.tenant == self.tenant, GroupRow.group_id == group
            )
        )
        return None if body is None else pb.ApprovalPolicy.FromString(body)

    async def versions_in_stage(self, group: str, stage: int) -> list[pb.ModelVersion]:
        query = (
            select(VersionRow.body)
            .where(
                VersionRow.tenant == self.tenant,
                VersionRow.group_pk == await self._group_pk(group),
                VersionRow.stage == stage,
            )
            .order_by(VersionRow.number)
        )
        return [pb.ModelVersion.FromString(body) for body in (await self.conn.scalars(query)).all()]

    async def former_production(self, group: str, limit: int) -> list[pb.ModelVersion]:
        query = (
            select(VersionRow.body)
            .where(
                VersionRow.tenant == self.tenant,
                VersionRow.group_pk == await self._group_pk(group),
                VersionRow.production_end_us.is_not(None),
                VersionRow.stage != pb.STAGE_PRODUCTION,
            )
            .order_by(VersionRow.production_end_us.desc(), VersionRow.number.desc())
            .limit(limit)
        )
        return [pb.ModelVersion.FromString(body) for body in (await self.conn.scalars(query)).all()]

    async def alias(self, group: str, alias: str) -> pb.Alias | None:
        params = {
            "b_tenant": self.tenant,
            "b_group_pk": await self._group_pk(group),
            "b_alias": alias,
        }
        body = await self.conn.scalar(sql.ALIAS, params)
        return None if body is None else pb.Alias.FromString(body)

    async def version_by_alias(self, group: str, alias: str) -> pb.ModelVersion | None:
        params = {"b_tenant": self.tenant, "b_group": group, "b_alias": alias}
        body = await self.conn.scalar(sql.VERSION_BY_ALIAS, params)
        return None if body is None else pb.ModelVersion.FromString(body)

    async def list_aliases(self, group: str, limit: int, after: str | None) -> list[pb.Alias]:
        query = select(AliasRow.body).where(
            AliasRow.tenant == self.tenant, AliasRow.group_pk == await self._group_pk(group)
        )
        if after is not None:
            query = query.where(AliasRow.alias > after)
        rows = await self.conn.scalars(query.order_by(AliasRow.alias).limit(limit))
        return [pb.Alias.FromString(body) for body in rows.all()]

    async def chain_head(self) -> tuple[int, str]:
        row = (
            await self.conn.execute(
                select(ChainHead.seq, ChainHead.hash).where(ChainHead.tenant == self.tenant)
            )
        ).first()
        return (0, GENESIS_HASH) if row is None else (row.seq, row.hash)


def _strip_group_prefix(node: Node) -> Node:
    """Lets `name = "groups/fraud"` and `name = "fraud"` mean the same."""
    if isinstance(node, Comparison):
        if node.field.name == "name" and isinstance(node.value, str):
            return replace(node, value=node.value.removeprefix("groups/"))
        return node
    if isinstance(node, And):
        return And(tuple(_strip_group_prefix(t) for t in node.terms))
    if isinstance(node, Or):
        return Or(tuple(_strip_group_prefix(t) for t in node.terms))
    return Not(_strip_group_prefix(node.term))


Resource = TypeVar("Resource", pb.ModelGroup, pb.ModelVersion)


def _slice(
    rows: Sequence[Row[Any]] | Sequence[Any], limit: int, kind: type[Resource]
) -> Slice[Resource]:
    count = fit(len(row[0]) for row in rows[:limit])
    items = [kind.FromString(row[0]) for row in rows[:count]]
    resume: tuple[Any, ...] | None = tuple(rows[count - 1][1:]) if len(rows) > count else None
    return Slice(items, resume)


class SqlWriter(SqlReader, WebhookWrites):
    """One transaction that holds the tenant's chain head row until it commits."""

    def __init__(self, conn: Conn, tenant: str, *, postgres: bool) -> None:
        super().__init__(conn, tenant)
        self.postgres = postgres
        self.head: tuple[int, str] | None = None
        self.appended = False

    async def lock_chain(self) -> None:
        """Takes the tenant's write lock; on SQLite the IMMEDIATE transaction already holds it."""
        postgres = self.postgres
        head = sql.HEAD_FOR_UPDATE if postgres else sql.HEAD
        row = (await self.conn.execute(head, {"b_tenant": self.tenant})).first()
        if row is None:  # the tenant's first write
            create = sql.CREATE_HEAD_POSTGRES if postgres else sql.CREATE_HEAD_SQLITE
            await self.conn.execute(create, {"tenant": self.tenant, "seq": 0, "hash": GENESIS_HASH})
            row = (await self.conn.execute(head, {"b_tenant": self.tenant})).one()
        self.head = (row.seq, row.hash)

    async def replay(self, request_id: str) -> LogEntry | None:
        params = {"b_tenant": self.tenant, "b_request_id": request_id}
        row = (await self.conn.execute(sql.REPLAY, params)).first()
        return None if row is None else entry_of(row)

    async def insert_group(self, group: pb.ModelGroup) -> None:
        pk = await self.conn.scalar(
            sql.INSERT_GROUP, {"tenant": self.tenant, **group_values(group)}
        )
        assert pk is not None
        self.group_pks[group.name.removeprefix("groups/")] = pk

    async def update_group(self, group: pb.ModelGroup) -> None:
        group_id = group.name.removeprefix("groups/")
        params = {"b_tenant": self.tenant, "b_group": group_id, **group_values(group)}
        await self.conn.execute(sql.UPDATE_GROUP, params)

    async def delete_group(self, group: str) -> None:
        pk = await self._group_pk(group)
        await self.conn.execute(
            delete(AliasRow).where(AliasRow.tenant == self.tenant, AliasRow.group_pk == pk)
        )
        await self.conn.execute(
            delete(VersionRow).where(VersionRow.tenant == self.tenant, VersionRow.group_pk == pk)
        )
        await self.conn.execute(
            delete(GroupRow).where(GroupRow.tenant == self.tenant, GroupRow.id == pk)
        )
        self.group_pks.pop(group, None)

    async def count_versions(self, group: str, *, stage: int | None = None) -> int:
        query = (
            select(func.count())
            .select_from(VersionRow)
            .where(
                VersionRow.tenant == self.tenant, VersionRow.group_pk == await self._group_pk(group)
            )
        )
        if stage is not None:
            query = query.where(VersionRow.stage == stage)
        return int(await self.conn.scalar(query) or 0)

    async def missing_versions(self, refs: Sequence[str]) -> list[str]:
        missing = []
        for ref in dict.fromkeys(refs):
            parsed = names.parse_version_name(ref, "lineage")
            if await self.version(parsed.group, parsed.number) is None:
                missing.append(ref)
        return missing

    async def existing_artifacts(self, group: str, sha256s: Sequence[str]) -> dict[str, int]:
        params = {
            "b_tenant": self.tenant,
            "b_group_pk": await self._group_pk(group),
            "b_sha256s": list(sha256s),
        }
        rows = await self.conn.execute(sql.VERSIONS_WITH_ARTIFACTS, params)
        return {row.artifact_sha256: row.number for row in rows}

    async def insert_versions(self, group: str, versions: Sequence[pb.ModelVersion]) -> None:
        group_pk = await self._group_pk(group)
        rows = [
            {"tenant": self.tenant, "group_pk": group_pk, **version_values(v)} for v in versions
        ]
        await self.conn.execute(sql.INSERT_VERSION, rows)

    async def update_version(self, group: str, version: pb.ModelVersion) -> None:
        params = {
            "b_tenant": self.tenant,
            "b_group_pk": await self._group_pk(group),
            "b_number": version.version,
            **version_values(version),
        }
        await self.conn.execute(sql.UPDATE_VERSION, params)

    async def delete_version(self, group: str, number: int) -> None:
        params = {
            "b_tenant": self.tenant,
            "b_group_pk": await self._group_pk(group),
            "b_number": number,
        }
        await self.conn.execute(sql.DELETE_VERSION, params)

    async def save_policy(self, group: str, policy: pb.ApprovalPolicy) -> None:
        await self.conn.execute(
            update(GroupRow)
            .where(GroupRow.tenant == self.tenant, GroupRow.group_id == group)
            .values(policy=policy.SerializeToString(deterministic=True))
        )

    async def save_alias(self, group: str, alias: pb.Alias, number: int) -> None:
        group_pk = await self._group_pk(group)
        alias_id = alias.name.rsplit("/", 1)[1]
        body = alias.SerializeToString(deterministic=True)
        moved = await self.conn.execute(
            update(AliasRow)
            .where(
                AliasRow.tenant == self.tenant,
                AliasRow.group_pk == group_pk,
                AliasRow.alias == alias_id,
            )
            .values(number=number, body=body)
        )
        if cast(CursorResult[Any], moved).rowcount == 0:
            await self.conn.execute(
                insert(AliasRow).values(
                    tenant=self.tenant, group_pk=group_pk, alias=alias_id, number=number, body=body
                )
            )

    async def delete_alias(self, group: str, alias: str) -> None:
        await self.conn.execute(
            delete(AliasRow).where(
                AliasRow.tenant == self.tenant,
                AliasRow.group_pk == await self._group_pk(group),
                AliasRow.alias == alias,
            )
        )

    async def append(self, draft: LogDraft) -> LogEntry:
        return (await self.append_many([draft]))[0]

    async def append_many(self, drafts: Sequence[LogDraft]) -> list[LogEntry]:
        assert self.head is not None, "appending needs the chain lock"
        entries = []
        seq, prev_hash = self.head
        for draft in drafts:
            entry = chain_entry(self.tenant, seq + 1, prev_hash, draft)
            entries.append(entry)
            seq, prev_hash = entry.seq, entry.hash
        await self.conn.execute(sql.INSERT_LOG, [log_values(e) for e in entries])
        if self.postgres:
            # Wakes the event hub of every replica when (and only if) this transaction commits.
            payload = f"{self.tenant}:{seq}"
            await self.conn.execute(sql.NOTIFY, {"b_channel": NOTIFY_CHANNEL, "b_payload": payload})
        await self.conn.execute(
            sql.UPDATE_HEAD, {"b_tenant": self.tenant, "seq": seq, "hash": prev_hash}
        )
        self.head = (seq, prev_hash)
        self.appended = True
        return entries


@contextmanager
def unavailable_on_connection_errors() -> Iterator[None]:
    """Turns a lost or refused database connection into UNAVAILABLE, which callers retry."""
    try:
        yield
    except (OperationalError, InterfaceError) as error:
        if isinstance(error, OperationalError) and "locked" in str(error.orig):
            raise Unavailable(
                "DATABASE_UNAVAILABLE", "the database is busy; retry the request"
            ) from error
        if (
            isinstance(error, InterfaceError)
            or error.connection_invalidated
            or "connect" in str(error).lower()
        ):
            raise Unavailable(
                "DATABASE_UNAVAILABLE", "the database cannot be reached; retry the request"
            ) from error
        raise


class SqlStore:
    """Implements domain.store.Store over SQLAlchemy (inline SQLite or async PostgreSQL)."""

    def __init__(self, engines: Engines) -> None:
        self.engines = engines
        # Called with the tenant after each commit that appended to the log (the event hub).
        self.committed: list[Callable[[str], None]] = []

    @asynccontextmanager
    async def reader(self, tenant: str) -> AsyncIterator[SqlReader]:
        with unavailable_on_connection_errors():
            async with self.engines.reading() as conn:
                yield SqlReader(conn, tenant)

    @asynccontextmanager
    async def writer(self, tenant: str) -> AsyncIterator[SqlWriter]:
        with unavailable_on_connection_errors():
            async with self.engines.writing() as conn:
                writer = SqlWriter(conn, tenant, postgres=not self.engines.sqlite)
                await writer.lock_chain()
                yield writer
        if writer.appended:
            for callback in self.committed:
                callback(tenant)
