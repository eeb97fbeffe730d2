"""The stored state of a tenant's groups, policies, versions and aliases, read in batches in
key order for the audit's replay to compare with."""

from __future__ import annotations

from sqlalchemy import BindParameter, Select, bindparam, select

from modelyard_server.log.replay import (
    ALIAS,
    GROUP,
    POLICY,
    RETENTION,
    RETENTION_DEFAULT,
    VERSION,
    StateRow,
)
from modelyard_server.store.engine import Conn
from modelyard_server.store.tables import ALIASES, GROUPS, RETENTION_DEFAULTS, VERSIONS

_after: BindParameter[int] = bindparam("b_after")
_limit: BindParameter[int] = bindparam("b_limit")
_tenant: BindParameter[str] = bindparam("b_tenant")
GROUP_ROWS = (
    select(GROUPS.c.id, GROUPS.c.group_id, GROUPS.c.body, GROUPS.c.policy, GROUPS.c.retention)
    .where(GROUPS.c.tenant == _tenant, GROUPS.c.id > _after)
    .order_by(GROUPS.c.id)
    .limit(_limit)
)
VERSION_ROWS = (
    select(
        VERSIONS.c.id,
        GROUPS.c.group_id,
        VERSIONS.c.number,
        VERSIONS.c.stage,
        VERSIONS.c.approval_status,
        VERSIONS.c.body,
    )
    .join(GROUPS, GROUPS.c.id == VERSIONS.c.group_pk)
    .where(VERSIONS.c.tenant == _tenant, VERSIONS.c.id > _after)
    .order_by(VERSIONS.c.id)
    .limit(_limit)
)
ALIAS_ROWS = (
    select(ALIASES.c.id, GROUPS.c.group_id, ALIASES.c.alias, ALIASES.c.body)
    .join(GROUPS, GROUPS.c.id == ALIASES.c.group_pk)
    .where(ALIASES.c.tenant == _tenant, ALIASES.c.id > _after)
    .order_by(ALIASES.c.id)
    .limit(_limit)
)
# The tenant's default retention policy: one row at most, read in the first batch.
DEFAULT_ROWS = select(RETENTION_DEFAULTS.c.body).where(
    RETENTION_DEFAULTS.c.tenant == _tenant, _after == 0
)
STATEMENTS: dict[str, Select[tuple[object, ...]]] = {
    GROUP: GROUP_ROWS,
    VERSION: VERSION_ROWS,
    ALIAS: ALIAS_ROWS,
    RETENTION_DEFAULT: DEFAULT_ROWS,
}


class SqlState:
    """The stored resources of one tenant, as the audit compares them with the log."""

    # A group's row carries its policies too.
    kinds: tuple[str, ...] = (GROUP, VERSION, ALIAS, RETENTION_DEFAULT)

    def __init__(self, conn: Conn, tenant: str) -> None:
        self.conn = conn
        self.tenant = tenant

    async def rows(self, kind: str, after_id: int, limit: int) -> list[StateRow]:
        """Returns up to `limit` rows of one kind with keys above `after_id`, in key order
        (a group's policy, once set, follows its group with the same key)."""
        params = {"b_tenant": self.tenant, "b_after": after_id, "b_limit": limit}
        result = (await self.conn.execute(STATEMENTS[kind], params)).all()
        rows: list[StateRow] = []
        if kind == RETENTION_DEFAULT:
            return [
                StateRow(RETENTION_DEFAULT, 1, "groups/-/retentionPolicy", r.body) for r in result
            ]
        for row in result:
            group = f"groups/{row.group_id}"
            if kind == GROUP:
                rows.append(StateRow(GROUP, row.id, group, row.body))
                if row.policy is not None:
                    rows.append(StateRow(POLICY, row.id, f"{group}/approvalPolicy", row.policy))
                if row.retention is not None:
                    rows.append(
                        StateRow(RETENTION, row.id, f"{group}/retentionPolicy", row.retention)
                    )
            elif kind == VERSION:
                name = f"{group}/versions/{row.number}"
                rows.append(
                    StateRow(VERSION, row.id, name, row.body, row.stage, row.approval_status)
                )
            else:
                rows.append(StateRow(ALIAS, row.id, f"{group}/aliases/{row.alias}", row.body))
        return rows
