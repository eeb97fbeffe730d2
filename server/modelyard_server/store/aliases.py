"""Alias rows: an alias's name, the number of the version it points at, and the alias itself."""

from __future__ import annotations

from typing import Any, cast

from modelyard.v1 import resources_pb2 as pb
from sqlalchemy import CursorResult, bindparam, delete, select, update

from modelyard_server.store.engine import Conn
from modelyard_server.store.keys import GroupKeys
from modelyard_server.store.tables import ALIASES

_this = (
    (ALIASES.c.tenant == bindparam("b_tenant"))
    & (ALIASES.c.group_pk == bindparam("b_pk"))
    & (ALIASES.c.alias == bindparam("b_alias"))
)
GET = select(ALIASES.c.body).where(_this)
MOVE = update(ALIASES).where(_this)
INSERT = ALIASES.insert()
DELETE = delete(ALIASES).where(_this)


class SqlAliases:
    """The aliases of one tenant's groups."""

    def __init__(self, conn: Conn, tenant: str, keys: GroupKeys) -> None:
        self.conn = conn
        self.tenant = tenant
        self.keys = keys

    async def _params(self, group: str, alias: str) -> dict[str, Any]:
        return {"b_tenant": self.tenant, "b_pk": await self.keys.of(group), "b_alias": alias}

    async def get(self, group: str, alias: str) -> pb.Alias | None:
        body = await self.conn.scalar(GET, await self._params(group, alias))
        return None if body is None else pb.Alias.FromString(body)

    async def page(self, group: str, limit: int, after: str | None) -> list[pb.Alias]:
        query = select(ALIASES.c.body).where(
            ALIASES.c.tenant == self.tenant, ALIASES.c.group_pk == await self.keys.of(group)
        )
        if after is not None:
            query = query.where(ALIASES.c.alias > after)
        rows = await self.conn.scalars(query.order_by(ALIASES.c.alias).limit(limit))
        return [pb.Alias.FromString(body) for body in rows.all()]

    async def save(self, group: str, alias: pb.Alias, number: int) -> None:
        alias_id = alias.name.rsplit("/", 1)[1]
        params = await self._params(group, alias_id)
        values = {"number": number, "body": alias.SerializeToString(deterministic=True)}
        moved = await self.conn.execute(MOVE, {**params, **values})
        if cast(CursorResult[Any], moved).rowcount == 0:
            row = {"tenant": self.tenant, "group_pk": params["b_pk"], "alias": alias_id}
            await self.conn.execute(INSERT, {**row, **values})

    async def delete(self, group: str, alias: str) -> None:
        await self.conn.execute(DELETE, await self._params(group, alias))
