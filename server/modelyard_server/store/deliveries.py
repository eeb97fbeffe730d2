"""The webhook delivery records: made from the log, claimed by workers, listed, redelivered.

Every replica runs a worker over the same tables. A webhook's cursor moves in the same
transaction that records the deliveries it made, under a row lock (skipped by other
replicas on PostgreSQL; SQLite has one writer), so each event becomes exactly one delivery.
An attempt is claimed with a lease: if its worker dies, the delivery is due again when the
lease runs out, so each is attempted at least once.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any, cast

from modelyard.v1 import resources_pb2 as pb
from modelyard.v1 import webhook_service_pb2 as ws
from sqlalchemy import Row, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from modelyard_server.deliveries.model import Claim, Outcome
from modelyard_server.domain.clock import timestamp
from modelyard_server.domain.names import delivery_name, webhook_name
from modelyard_server.log.chain import LogEntry
from modelyard_server.store.engine import Engines
from modelyard_server.store.log import SqlLog
from modelyard_server.store.tables import DELIVERIES, HEADS, WEBHOOKS

PENDING = ws.DELIVERY_STATE_PENDING
SUCCEEDED = ws.DELIVERY_STATE_SUCCEEDED
FAILED = ws.DELIVERY_STATE_FAILED
MAX_ERROR = 500


def delivery_of(row: Row[Any]) -> ws.WebhookDelivery:
    delivery = ws.WebhookDelivery(
        name=delivery_name(row.webhook_id, row.seq),
        seq=row.seq,
        action=pb.Action.Value(f"ACTION_{row.action}"),
        resource=row.resource,
        state=row.state,
        attempts=row.attempts,
        last_response_code=row.last_response_code,
        last_error=row.last_error,
        create_time=timestamp(row.create_time_us),
    )
    if row.last_attempt_us is not None:
        delivery.last_attempt_time.CopyFrom(timestamp(row.last_attempt_us))
    if row.state == PENDING:
        delivery.next_attempt_time.CopyFrom(timestamp(row.next_attempt_us))
    return delivery


DELIVERY_COLUMNS = (
    WEBHOOKS.c.webhook_id,
    DELIVERIES.c.seq,
    DELIVERIES.c.action,
    DELIVERIES.c.resource,
    DELIVERIES.c.state,
    DELIVERIES.c.attempts,
    DELIVERIES.c.last_response_code,
    DELIVERIES.c.last_error,
    DELIVERIES.c.create_time_us,
    DELIVERIES.c.last_attempt_us,
    DELIVERIES.c.next_attempt_us,
)


# Built once: the worker asks these after commits, which must stay cheap.
BEHIND = (
    select(WEBHOOKS.c.id)
    .join(HEADS, HEADS.c.tenant == WEBHOOKS.c.tenant)
    .where(WEBHOOKS.c.cursor < HEADS.c.seq)
    .order_by(WEBHOOKS.c.id)
)
TALLY = select(DELIVERIES.c.state, func.count(DELIVERIES.c.id)).group_by(DELIVERIES.c.state)
OLDEST_PENDING = select(func.min(DELIVERIES.c.create_time_us)).where(DELIVERIES.c.state == PENDING)
NEXT_DUE = select(func.min(DELIVERIES.c.next_attempt_us)).where(DELIVERIES.c.state == PENDING)


class SqlDeliveryQueue:
    """Implements the worker's DeliveryQueue and the domain's DeliveryRecords over the engines."""

    def __init__(self, engines: Engines) -> None:
        self.engines = engines

    async def enqueue(
        self, wanted: Callable[[str, Sequence[str], LogEntry], bool], now: int, batch: int
    ) -> int:
        async with self.engines.reading(one_snapshot=False) as conn:
            behind = (await conn.execute(BEHIND)).all()
        scanned = 0
        for (pk,) in behind:
            scanned += await self._enqueue_one(pk, wanted, now, batch)
        return scanned

    async def _enqueue_one(
        self,
        pk: int,
        wanted: Callable[[str, Sequence[str], LogEntry], bool],
        now: int,
        batch: int,
    ) -> int:
        insert = sqlite_insert if self.engines.sqlite else pg_insert
        async with self.engines.writing() as conn:
            webhook = (
                await conn.execute(
                    select(WEBHOOKS)
                    .where(WEBHOOKS.c.id == pk)
                    .with_for_update(skip_locked=True)  # another replica is on it
                )
            ).first()
            if webhook is None:
                return 0
            entries = await SqlLog(conn, webhook.tenant).range(webhook.cursor, batch)
            rows = [
                {
                    "tenant": webhook.tenant,
                    "webhook_pk": pk,
                    "seq": entry.seq,
                    "action": entry.action,
                    "resource": entry.resource,
                    "state": PENDING,
                    "attempts": 0,
                    "next_attempt_us": now,
                    "last_response_code": 0,
                    "last_error": "",
                    "create_time_us": now,
                }
                for entry in entries
                if wanted(webhook.group_id, webhook.actions, entry)
            ]
            if rows:
                await conn.execute(insert(DELIVERIES).on_conflict_do_nothing(), rows)
            if entries:
                await conn.execute(
                    update(WEBHOOKS).where(WEBHOOKS.c.id == pk).values(cursor=entries[-1].seq)
                )
            return len(entries)

    async def claim(
        self, now: int, lease_us: int, limit: int, skip: Collection[int]
    ) -> list[Claim]:
        if limit <= 0:
            return []
        # Most rounds find nothing due: answer that from a read, without taking the write lock
        # that every registration needs too.
        async with self.engines.reading(one_snapshot=False) as conn:
            earliest = await conn.scalar(NEXT_DUE)
        if earliest is None or earliest > now:
            return []
        query = (
            select(
                DELIVERIES.c.id,
                DELIVERIES.c.webhook_pk,
                DELIVERIES.c.tenant,
                DELIVERIES.c.seq,
                DELIVERIES.c.attempts,
                WEBHOOKS.c.webhook_id,
                WEBHOOKS.c.url,
                WEBHOOKS.c.secret,
            )
            .join(WEBHOOKS, WEBHOOKS.c.id == DELIVERIES.c.webhook_pk)
            .where(DELIVERIES.c.state == PENDING, DELIVERIES.c.next_attempt_us <= now)
            .order_by(DELIVERIES.c.seq)
            .limit(limit)
            .with_for_update(skip_locked=True, of=DELIVERIES)
        )
        if skip:
            query = query.where(DELIVERIES.c.webhook_pk.not_in(list(skip)))
        async with self.engines.writing() as conn:
            due = (await conn.execute(query)).all()
            claims = []
            queued: dict[int, int] = {}  # per webhook: claims before this one
            for row in due:
                ahead = queued[row.webhook_pk] = queued.get(row.webhook_pk, -1) + 1
                await conn.execute(
                    update(DELIVERIES)
                    .where(DELIVERIES.c.id == row.id)
                    .values(attempts=row.attempts + 1, next_attempt_us=now + lease_us * (ahead + 1))
                )
                [entry] = await SqlLog(conn, row.tenant).range(row.seq - 1, 1)
                claims.append(
                    Claim(
                        id=row.id,
                        webhook_key=row.webhook_pk,
                        webhook=webhook_name(row.webhook_id),
                        delivery=delivery_name(row.webhook_id, row.seq),
                        url=row.url,
                        secret=row.secret,
                        entry=entry,
                        attempt=row.attempts + 1,
                    )
                )
            return claims

    async def finish(self, claim: Claim, outcome: Outcome, retry_at: int | None, now: int) -> None:
        values: dict[str, Any] = {
            "last_attempt_us": now,
            "last_response_code": outcome.status,
            "last_error": outcome.error[:MAX_ERROR],
        }
        if outcome.ok:
            values["state"] = SUCCEEDED
        elif retry_at is not None:
            values |= {"state": PENDING, "next_attempt_us": retry_at}
        else:
            values["state"] = FAILED
        async with self.engines.writing() as conn:
            await conn.execute(
                update(DELIVERIES)
                .where(
                    DELIVERIES.c.id == claim.id,
                    DELIVERIES.c.attempts == claim.attempt,  # not redelivered meanwhile
                    DELIVERIES.c.state == PENDING,
                )
                .values(**values)
            )

    async def tally(self) -> tuple[dict[int, int], int | None]:
        """Returns the number of deliveries in each state, and when the oldest PENDING one
        was created (None when none waits): what the metrics report of the webhooks."""
        async with self.engines.reading() as conn:
            rows = cast(list[tuple[int, int]], (await conn.execute(TALLY)).all())
            counts = {int(state): int(count) for state, count in rows}
            oldest: int | None = await conn.scalar(OLDEST_PENDING)
        return counts, oldest

    async def next_due(self) -> int | None:
        async with self.engines.reading(one_snapshot=False) as conn:
            due: int | None = await conn.scalar(NEXT_DUE)
            return due

    async def deliveries(
        self, tenant: str, webhook_id: str, state: int, limit: int, before_seq: int | None
    ) -> list[ws.WebhookDelivery]:
        query = (
            select(*DELIVERY_COLUMNS)
            .join(WEBHOOKS, WEBHOOKS.c.id == DELIVERIES.c.webhook_pk)
            .where(WEBHOOKS.c.tenant == tenant, WEBHOOKS.c.webhook_id == webhook_id)
        )
        if state:
            query = query.where(DELIVERIES.c.state == state)
        if before_seq is not None:
            query = query.where(DELIVERIES.c.seq < before_seq)
        query = query.order_by(DELIVERIES.c.seq.desc()).limit(limit)
        async with self.engines.reading(one_snapshot=False) as conn:
            return [delivery_of(row) for row in (await conn.execute(query)).all()]

    async def redeliver(self, tenant: str, webhook_id: str, seq: int, now: int) -> bool:
        pk = (
            select(WEBHOOKS.c.id)
            .where(WEBHOOKS.c.tenant == tenant, WEBHOOKS.c.webhook_id == webhook_id)
            .scalar_subquery()
        )
        async with self.engines.writing() as conn:
            result = await conn.execute(
                update(DELIVERIES)
                .where(DELIVERIES.c.webhook_pk == pk, DELIVERIES.c.seq == seq)
                .values(state=PENDING, attempts=0, next_attempt_us=now)
            )
            return bool(getattr(result, "rowcount", 0))
