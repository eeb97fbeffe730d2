"""Retention policies: a group's on its row, the tenant's default in a row of its own."""

from __future__ import annotations

from modelyard.v1 import retention_service_pb2 as rets
from sqlalchemy import BindParameter, bindparam, delete, select, update

from modelyard_server.store.engine import Conn
from modelyard_server.store.tables import GROUPS, RETENTION_DEFAULTS

_tenant: BindParameter[str] = bindparam("b_tenant")
_group: BindParameter[str] = bindparam("b_group")
_of_group = (GROUPS.c.tenant == _tenant) & (GROUPS.c.group_id == _group)
GET = select(GROUPS.c.retention).where(_of_group)
SAVE = update(GROUPS).where(_of_group)
GET_DEFAULT = select(RETENTION_DEFAULTS.c.body).where(RETENTION_DEFAULTS.c.tenant == _tenant)
DELETE_DEFAULT = delete(RETENTION_DEFAULTS).where(RETENTION_DEFAULTS.c.tenant == _tenant)
INSERT_DEFAULT = RETENTION_DEFAULTS.insert()


class SqlRetentionPolicies:
    """The retention policies of one tenant (implements RetentionPolicyRepository)."""

    def __init__(self, conn: Conn, tenant: str) -> None:
        self.conn = conn
        self.tenant = tenant

    async def get(self, group: str | None) -> rets.RetentionPolicy | None:
        params = {"b_tenant": self.tenant, "b_group": group}
        body = await self.conn.scalar(GET_DEFAULT if group is None else GET, params)
        return None if body is None else rets.RetentionPolicy.FromString(body)

    async def save(self, group: str | None, policy: rets.RetentionPolicy) -> None:
        body = policy.SerializeToString(deterministic=True)
        if group is not None:
            params = {"b_tenant": self.tenant, "b_group": group, "retention": body}
            await self.conn.execute(SAVE, params)
            return
        await self.conn.execute(DELETE_DEFAULT, {"b_tenant": self.tenant})
        await self.conn.execute(INSERT_DEFAULT, {"tenant": self.tenant, "body": body})
