"""Webhook rows: the webhook (without its secret), its sealed secret, filters and delivery
cursor."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from modelyard.v1 import webhook_service_pb2 as ws
from sqlalchemy import bindparam, delete, insert, select, text, update

from modelyard_server.deliveries.secrets import PREFIX
from modelyard_server.domain.repositories import Key, Slice
from modelyard_server.store.engine import Conn, Engines
from modelyard_server.store.tables import DELIVERIES, WEBHOOKS

_this = (WEBHOOKS.c.tenant == bindparam("b_tenant")) & (
    WEBHOOKS.c.webhook_id == bindparam("b_webhook")
)
GET = select(WEBHOOKS.c.body, WEBHOOKS.c.cursor).where(_this)
INSERT = insert(WEBHOOKS)
UPDATE = update(WEBHOOKS).where(_this)
DELETE_DELIVERIES = delete(DELIVERIES).where(
    DELIVERIES.c.webhook_pk == select(WEBHOOKS.c.id).where(_this).scalar_subquery()
)
DELETE = delete(WEBHOOKS).where(_this)


def webhook_of(body: bytes, cursor: int) -> ws.Webhook:
    webhook = ws.Webhook.FromString(body)
    webhook.cursor = cursor
    return webhook


class SqlWebhooks:
    """The webhooks of one tenant."""

    def __init__(self, conn: Conn, tenant: str) -> None:
        self.conn = conn
        self.tenant = tenant

    async def get(self, webhook_id: str) -> ws.Webhook | None:
        params = {"b_tenant": self.tenant, "b_webhook": webhook_id}
        row = (await self.conn.execute(GET, params)).first()
        return None if row is None else webhook_of(row.body, row.cursor)

    async def page(self, group: str | None, limit: int, after: Key | None) -> Slice[ws.Webhook]:
        query = select(WEBHOOKS.c.body, WEBHOOKS.c.cursor, WEBHOOKS.c.id).where(
            WEBHOOKS.c.tenant == self.tenant
        )
        if group is not None:
            query = query.where(WEBHOOKS.c.group_id == group)
        if after is not None and isinstance(after[0], int):
            query = query.where(WEBHOOKS.c.id > after[0])
        rows = (await self.conn.execute(query.order_by(WEBHOOKS.c.id).limit(limit + 1))).all()
        items = [webhook_of(row.body, row.cursor) for row in rows[:limit]]
        resume: tuple[Any, ...] | None = (rows[limit - 1].id,) if len(rows) > limit else None
        return Slice(items, resume)

    async def bound_to(self, group: str) -> list[ws.Webhook]:
        query = (
            select(WEBHOOKS.c.body, WEBHOOKS.c.cursor)
            .where(WEBHOOKS.c.tenant == self.tenant, WEBHOOKS.c.group_id == group)
            .order_by(WEBHOOKS.c.id)
        )
        return [webhook_of(row.body, row.cursor) for row in (await self.conn.execute(query)).all()]

    async def insert(self, webhook: ws.Webhook, secret: str, actions: list[str]) -> None:
        await self.conn.execute(
            INSERT,
            {
                "tenant": self.tenant,
                "webhook_id": webhook.name.removeprefix("webhooks/"),
                "group_id": webhook.group.removeprefix("groups/"),
                "url": webhook.url,
                "secret": secret,
                "actions": actions,
                "cursor": webhook.cursor,
                "body": _body(webhook),
            },
        )

    async def update(
        self, webhook: ws.Webhook, secret: str | None, actions: list[str] | None
    ) -> None:
        values: dict[str, Any] = {
            "group_id": webhook.group.removeprefix("groups/"),
            "url": webhook.url,
            "body": _body(webhook),
        }
        if secret is not None:
            values["secret"] = secret
        if actions is not None:
            values["actions"] = actions
        webhook_id = webhook.name.removeprefix("webhooks/")
        await self.conn.execute(
            UPDATE.values(**values), {"b_tenant": self.tenant, "b_webhook": webhook_id}
        )

    async def delete(self, webhook_id: str) -> None:
        params = {"b_tenant": self.tenant, "b_webhook": webhook_id}
        await self.conn.execute(DELETE_DELIVERIES, params)
        await self.conn.execute(DELETE, params)


def _body(webhook: ws.Webhook) -> bytes:
    """Returns the stored form of a webhook: without its cursor, which the column holds and
    the delivery worker moves."""
    body = ws.Webhook()
    body.CopyFrom(webhook)
    body.ClearField("cursor")
    return body.SerializeToString(deterministic=True)


async def seal_stored_secrets(engines: Engines, seal: Callable[[str, str], str]) -> int:
    """Seals the webhook secrets still stored in the clear (from before sealing existed),
    with `seal(secret, webhook_id)`; returns how many there were. On SQLite, the pages and
    the write-ahead log that held them are overwritten too."""
    async with engines.writing() as conn:
        rows = (
            await conn.execute(
                select(WEBHOOKS.c.id, WEBHOOKS.c.webhook_id, WEBHOOKS.c.secret).where(
                    WEBHOOKS.c.secret.not_like(PREFIX + "%")
                )
            )
        ).all()
        if rows and engines.sqlite:
            await conn.execute(text("PRAGMA secure_delete = ON"))  # zeroes what is replaced
        for row in rows:
            await conn.execute(
                update(WEBHOOKS)
                .where(WEBHOOKS.c.id == row.id)
                .values(secret=seal(row.secret, row.webhook_id))
            )
    if rows and engines.sqlite:
        async with engines.sqlite_exclusive() as sync:
            sync.exec_driver_sql("PRAGMA secure_delete = OFF")
            sync.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    return len(rows)
