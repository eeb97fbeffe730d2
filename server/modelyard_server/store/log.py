"""The log's rows: the tenant's chain head (its write lock), appends, replays and reads."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import BindParameter, Row, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from modelyard_server.domain.repositories import AuditQuery
from modelyard_server.log.chain import GENESIS_HASH, ChainKey, LogEntry
from modelyard_server.log.drafts import LogDraft, chain_entries
from modelyard_server.store.engine import Conn, Engines
from modelyard_server.store.prepared import PreparedRead, PreparedWrite
from modelyard_server.store.tables import HEADS, LOG

# PostgreSQL channel on which a committed log entry announces itself as "tenant:seq".
NOTIFY_CHANNEL = "modelyard_log"

_tenant: BindParameter[str] = bindparam("b_tenant")
_HEAD = select(HEADS.c.seq, HEADS.c.hash).where(HEADS.c.tenant == _tenant)
HEAD = PreparedRead(_HEAD)
HEAD_FOR_UPDATE = PreparedRead(_HEAD.with_for_update())
CREATE_HEAD_SQLITE = sqlite_insert(HEADS).on_conflict_do_nothing()
CREATE_HEAD_POSTGRES = pg_insert(HEADS).on_conflict_do_nothing()
_UPDATE_HEAD = update(HEADS).where(HEADS.c.tenant == _tenant)
UPDATE_HEAD = PreparedWrite(_UPDATE_HEAD)
INSERT = PreparedWrite(LOG.insert())
_REPLAYED = (LOG.c.tenant == _tenant, LOG.c.request_id == bindparam("b_id"))
# Every change asks whether its request_id ran before, and almost always it did not: that
# question is a prepared read; only a retry reads the entry itself.
REPLAYED = PreparedRead(select(LOG.c.seq).where(*_REPLAYED))
REPLAY = select(*LOG.c).where(*_REPLAYED)
RANGE = (
    select(*LOG.c)
    .where(LOG.c.tenant == _tenant, LOG.c.seq > bindparam("b_after"))
    .order_by(LOG.c.seq)
    .limit(bindparam("b_limit"))
)
COUNT_THROUGH = select(func.count()).where(LOG.c.tenant == _tenant, LOG.c.seq <= bindparam("b_seq"))
TENANTS = select(HEADS.c.tenant).order_by(HEADS.c.tenant)
# On PostgreSQL the head moves and announces itself in one statement, one round trip:
# pg_notify runs once, for the one row, and PostgreSQL delivers it when (and only if) the
# transaction commits.
UPDATE_HEAD_AND_NOTIFY = PreparedWrite(
    _UPDATE_HEAD.returning(func.pg_notify(bindparam("b_channel"), bindparam("b_payload")))
)


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


def row_of(entry: LogEntry) -> dict[str, Any]:
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


async def log_tenants(engines: Engines) -> list[str]:
    """Returns the tenants that have a log."""
    async with engines.reading(one_snapshot=False) as conn:
        return list((await conn.scalars(TENANTS)).all())


class SqlLog:
    """The log of one tenant on one connection. A writer first takes the chain head row: on
    PostgreSQL with SELECT … FOR UPDATE, on SQLite through the IMMEDIATE transaction."""

    def __init__(
        self, conn: Conn, tenant: str, *, postgres: bool = False, key: ChainKey | None = None
    ) -> None:
        self.conn = conn
        self.tenant = tenant
        self.postgres = postgres
        self.key = key  # only writers need it: readers never chain
        self.locked: tuple[int, str] | None = None  # the head, once this unit holds it
        self.appended = False

    async def lock(self) -> None:
        """Takes the tenant's write lock for the rest of the transaction."""
        head = HEAD_FOR_UPDATE if self.postgres else HEAD
        row = await head.first(self.conn, {"b_tenant": self.tenant})
        if row is None:  # the tenant's first write
            create = CREATE_HEAD_POSTGRES if self.postgres else CREATE_HEAD_SQLITE
            await self.conn.execute(create, {"tenant": self.tenant, "seq": 0, "hash": GENESIS_HASH})
            row = await head.first(self.conn, {"b_tenant": self.tenant})
            assert row is not None
        self.locked = (row[0], row[1])

    async def head(self) -> tuple[int, str]:
        if self.locked is not None:
            return self.locked
        row = await HEAD.first(self.conn, {"b_tenant": self.tenant})
        return (0, GENESIS_HASH) if row is None else (row[0], row[1])

    async def page(self, query: AuditQuery, limit: int, after_seq: int | None) -> list[LogEntry]:
        statement = select(*LOG.c).where(LOG.c.tenant == self.tenant)
        if query.resource:
            statement = statement.where(LOG.c.resource == query.resource)
        if query.group:
            statement = statement.where(LOG.c.group_id == query.group)
        if query.actor:
            statement = statement.where(LOG.c.actor == query.actor)
        if query.actions:
            statement = statement.where(LOG.c.action.in_(query.actions))
        if query.start_us:
            statement = statement.where(LOG.c.time_us >= query.start_us)
        if query.end_us:
            statement = statement.where(LOG.c.time_us < query.end_us)
        if after_seq is not None:
            newer = LOG.c.seq < after_seq if query.newest_first else LOG.c.seq > after_seq
            statement = statement.where(newer)
        order = LOG.c.seq.desc() if query.newest_first else LOG.c.seq.asc()
        rows = await self.conn.execute(statement.order_by(order).limit(limit))
        return [entry_of(row) for row in rows.all()]

    async def range(self, after_seq: int, limit: int) -> list[LogEntry]:
        params = {"b_tenant": self.tenant, "b_after": after_seq, "b_limit": limit}
        return [entry_of(row) for row in (await self.conn.execute(RANGE, params)).all()]

    async def count_through(self, seq: int) -> int:
        params = {"b_tenant": self.tenant, "b_seq": seq}
        return int(await self.conn.scalar(COUNT_THROUGH, params) or 0)

    async def replay(self, request_id: str) -> LogEntry | None:
        params = {"b_tenant": self.tenant, "b_id": request_id}
        if await REPLAYED.first(self.conn, params) is None:
            return None
        row = (await self.conn.execute(REPLAY, params)).first()
        return None if row is None else entry_of(row)

    async def append(self, drafts: Sequence[LogDraft]) -> list[LogEntry]:
        assert self.locked is not None, "appending needs the chain lock: use a writer"
        assert self.key is not None, "appending needs the chain key: give SqlStore the keyring's"
        entries = chain_entries(self.key, self.tenant, self.locked, drafts)
        await INSERT.run(self.conn, [row_of(e) for e in entries])
        seq, prev_hash = entries[-1].seq, entries[-1].hash
        moved = {"b_tenant": self.tenant, "seq": seq, "hash": prev_hash}
        if self.postgres:
            # Wakes the event hub of every replica when (and only if) this transaction commits.
            notice = {"b_channel": NOTIFY_CHANNEL, "b_payload": f"{self.tenant}:{seq}"}
            await UPDATE_HEAD_AND_NOTIFY.run(self.conn, moved | notice)
        else:
            await UPDATE_HEAD.run(self.conn, moved)
        self.locked = (seq, prev_hash)
        self.appended = True
        return entries
