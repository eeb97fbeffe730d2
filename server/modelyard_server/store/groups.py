"""Group rows: the serialized group beside the columns its lists filter and sort on."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, cast

from modelyard.v1 import resources_pb2 as pb
from sqlalchemy import BindParameter, ColumnElement, bindparam, delete, select, update

from modelyard_server.domain.filters import And, Comparison, FieldSpec, Node, Not, Or, Ordering
from modelyard_server.domain.repositories import EncodedSlice, Key
from modelyard_server.store.engine import Conn
from modelyard_server.store.keys import GroupKeys
from modelyard_server.store.prepared import PreparedRead, PreparedWrite
from modelyard_server.store.tables import ALIASES, GROUPS, VERSIONS
from modelyard_server.store.where import after_key, condition, order_clause, page_of, sort_columns

_tenant: BindParameter[str] = bindparam("b_tenant")
_group: BindParameter[str] = bindparam("b_group")
_pk: BindParameter[int] = bindparam("b_pk")
GET = PreparedRead(
    select(GROUPS.c.id, GROUPS.c.body).where(
        GROUPS.c.tenant == _tenant, GROUPS.c.group_id == _group
    )
)
INSERT = GROUPS.insert().returning(GROUPS.c.id)
UPDATE = PreparedWrite(
    update(GROUPS).where(GROUPS.c.tenant == _tenant, GROUPS.c.group_id == _group)
)
DELETE_ALIASES = delete(ALIASES).where(ALIASES.c.tenant == _tenant, ALIASES.c.group_pk == _pk)
DELETE_VERSIONS = delete(VERSIONS).where(VERSIONS.c.tenant == _tenant, VERSIONS.c.group_pk == _pk)
DELETE = delete(GROUPS).where(GROUPS.c.tenant == _tenant, GROUPS.c.id == _pk)

COLUMNS: dict[str, ColumnElement[Any]] = {
    "name": GROUPS.c.group_id,
    "create_time": GROUPS.c.create_time_us,
    "update_time": GROUPS.c.update_time_us,
    "created_by": GROUPS.c.created_by,
    "latest_version": GROUPS.c.latest_version,
}


def column(field: FieldSpec) -> ColumnElement[Any]:
    if field.key is not None:
        return cast(ColumnElement[Any], GROUPS.c.tags[field.key].as_string())
    return COLUMNS[field.name]


def row_of(group: pb.ModelGroup) -> dict[str, Any]:
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


def _bare_names(node: Node) -> Node:
    """Lets `name = "groups/fraud"` and `name = "fraud"` mean the same."""
    if isinstance(node, Comparison):
        if node.field.name == "name" and isinstance(node.value, str):
            return replace(node, value=node.value.removeprefix("groups/"))
        return node
    if isinstance(node, And):
        return And(tuple(_bare_names(t) for t in node.terms))
    if isinstance(node, Or):
        return Or(tuple(_bare_names(t) for t in node.terms))
    return Not(_bare_names(node.term))


class SqlGroups:
    """The groups of one tenant."""

    def __init__(self, conn: Conn, tenant: str, keys: GroupKeys) -> None:
        self.conn = conn
        self.tenant = tenant
        self.keys = keys

    async def get(self, group: str) -> pb.ModelGroup | None:
        params = {"b_tenant": self.tenant, "b_group": group}
        row = await GET.first(self.conn, params)
        if row is None:
            return None
        pk, body = row
        self.keys.known[group] = pk
        return pb.ModelGroup.FromString(body)

    async def page(
        self, where: Node | None, order: Ordering, limit: int, after: Key | None
    ) -> EncodedSlice[pb.ModelGroup]:
        columns = sort_columns(order, column, GROUPS.c.id)
        query = select(GROUPS.c.body, *(c for c, _ in columns)).where(
            GROUPS.c.tenant == self.tenant
        )
        if where is not None:
            query = query.where(condition(_bare_names(where), column))
        if after is not None:
            query = query.where(after_key(columns, after))
        query = query.order_by(*order_clause(columns)).limit(limit + 1)
        return page_of((await self.conn.execute(query)).all(), limit, pb.ModelGroup.FromString)

    async def insert(self, group: pb.ModelGroup) -> None:
        pk = await self.conn.scalar(INSERT, {"tenant": self.tenant, **row_of(group)})
        self.keys.known[group.name.removeprefix("groups/")] = pk

    async def update(self, group: pb.ModelGroup) -> None:
        group_id = group.name.removeprefix("groups/")
        params = {"b_tenant": self.tenant, "b_group": group_id, **row_of(group)}
        await UPDATE.run(self.conn, params)

    async def delete(self, group: str) -> None:
        params = {"b_tenant": self.tenant, "b_pk": await self.keys.of(group)}
        for statement in (DELETE_ALIASES, DELETE_VERSIONS, DELETE):
            await self.conn.execute(statement, params)
        self.keys.known.pop(group, None)
