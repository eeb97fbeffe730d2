"""Webhook rows, read and written inside the store's units of work (SqlReader, SqlWriter)."""

from __future__ import annotations

from typing import Any

from modelyard.v1 import webhook_service_pb2 as ws
from sqlalchemy import Table, delete, insert, select, update

from modelyard_server.domain.store import Key, Slice
from modelyard_server.store.engine import Conn
from modelyard_server.store.tables import DeliveryRow, WebhookRow

WEBHOOKS: Table = WebhookRow.__table__  # type: ignore[assignment]
DELIVERIES: Table = DeliveryRow.__table__  # type: ignore[assignment]


def webhook_of(body: bytes, cursor: int) -> ws.Webhook:
    webhook = ws.Webhook.FromString(body)
    webhook.cursor = cursor
    return webhook


class WebhookReads:
    """The webhook queries of a reader of one tenant."""

    conn: Conn
    tenant: str

    async def webhook(self, webhook_id: str) -> ws.Webhook | None:
        row = (
            await self.conn.execute(
                select(WEBHOOKS.c.body, WEBHOOKS.c.cursor).where(
                    WEBHOOKS.c.tenant == self.tenant, WEBHOOKS.c.webhook_id == webhook_id
                )
            )
        ).first()
        return None if row is None else webhook_of(row.body, row.cursor)

    async def list_webhooks(
        self, group: str | None, limit: int, after: Key | None
    ) -> Slice[ws.Webhook]:
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


class WebhookWrites:
    """The webhook changes of a writer of one tenant."""

    conn: Conn
    tenant: str

    async def insert_webhook(self, webhook: ws.Webhook, secret: str, actions: list[str]) -> None:
        body = ws.Webhook()
        body.CopyFrom(webhook)
        body.ClearField("cursor")  # the column is the truth; it moves as deliveries are made
        await self.conn.execute(
            insert(WEBHOOKS).values(
                tenant=self.tenant,
                webhook_id=webhook.name.removeprefix("webhooks/"),
                group_id=webhook.group,
                url=webhook.url,
                secret=secret,
                actions=actions,
                cursor=webhook.cursor,
                body=body.SerializeToString(deterministic=True),
            )
        )

    async def update_webhook(
        self, webhook: ws.Webhook, secret: str | None, actions: list[str] | None
    ) -> None:
        body = ws.Webhook()
        body.CopyFrom(webhook)
        body.ClearField("cursor")  # the worker owns the column; an update leaves it as it is
        values: dict[str, Any] = {
            "group_id": webhook.group,
            "url": webhook.url,
            "body": body.SerializeToString(deterministic=True),
        }
        if secret is not None:
            values["secret"] = secret
        if actions is not None:
            values["actions"] = actions
        await self.conn.execute(
            update(WEBHOOKS)
            .where(
                WEBHOOKS.c.tenant == self.tenant,
                WEBHOOKS.c.webhook_id == webhook.name.removeprefix("webhooks/"),
            )
            .values(**values)
        )

    async def delete_webhook(self, webhook_id: str) -> None:
        pk = (
            select(WEBHOOKS.c.id)
            .where(WEBHOOKS.c.tenant == self.tenant, WEBHOOKS.c.webhook_id == webhook_id)
            .scalar_subquery()
        )
        await self.conn.execute(delete(DELIVERIES).where(DELIVERIES.c.webhook_pk == pk))
        await self.conn.execute(
            delete(WEBHOOKS).where(
                WEBHOOKS.c.tenant == self.tenant, WEBHOOKS.c.webhook_id == webhook_id
            )
        )
