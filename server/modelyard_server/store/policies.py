"""Group policies, kept on the group's row."""

from __future__ import annotations

from modelyard.v1 import resources_pb2 as pb
from sqlalchemy import BindParameter, bindparam, select, update

from modelyard_server.store.engine import Conn
from modelyard_server.store.tables import GROUPS

_tenant: BindParameter[str] = bindparam("b_tenant")
_group: BindParameter[str] = bindparam("b_group")
GET = select(GROUPS.c.policy).where(GROUPS.c.tenant == _tenant, GROUPS.c.group_id == _group)
SAVE = update(GROUPS).where(GROUPS.c.tenant == _tenant, GROUPS.c.group_id == _group)


class SqlPolicies:
    """The approval policies of one tenant's groups."""

    def __init__(self, conn: Conn, tenant: str) -> None:
        self.conn = conn
        self.tenant = tenant

    async def get(self, group: str) -> pb.ApprovalPolicy | None:
        body = await self.conn.scalar(GET, {"b_tenant": self.tenant, "b_group": group})
        return None if body is None else pb.ApprovalPolicy.FromString(body)

    async def save(self, group: str, policy: pb.ApprovalPolicy) -> None:
        params = {
            "b_tenant": self.tenant,
            "b_group": group,
            "policy": policy.SerializeToString(deterministic=True),
        }
        await self.conn.execute(SAVE, params)
