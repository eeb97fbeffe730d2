"""The database keys of a tenant's groups, looked up once per unit of work."""

from __future__ import annotations

from sqlalchemy import bindparam, select

from modelyard_server.store.engine import Conn
from modelyard_server.store.prepared import PreparedRead
from modelyard_server.store.tables import GROUPS

GROUP_PK = PreparedRead(
    select(GROUPS.c.id).where(
        GROUPS.c.tenant == bindparam("b_tenant"), GROUPS.c.group_id == bindparam("b_group")
    )
)


class GroupKeys:
    """Maps group ids to their rows' keys; the repositories of one unit of work share it."""

    def __init__(self, conn: Conn, tenant: str) -> None:
        self.conn = conn
        self.tenant = tenant
        self.known: dict[str, int] = {}

    async def of(self, group: str) -> int | None:
        """Returns the key of the group's row, or None if there is no such group."""
        if group not in self.known:
            pk = await GROUP_PK.scalar(self.conn, {"b_tenant": self.tenant, "b_group": group})
            if pk is None:
                return None
            self.known[group] = pk
        return self.known[group]
