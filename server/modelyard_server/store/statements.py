"""The statements of the hot paths, built once with bound parameters.

Building a statement per call (and its cache key) cost more than SQLite's execution of it;
these are compiled once and reused for every request.
"""

from __future__ import annotations

from sqlalchemy import BindParameter, Table, bindparam, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from modelyard_server.store.tables import AliasRow, ChainHead, GroupRow, LogRow, VersionRow

GROUPS: Table = GroupRow.__table__  # type: ignore[assignment]
VERSIONS: Table = VersionRow.__table__  # type: ignore[assignment]
LOG: Table = LogRow.__table__  # type: ignore[assignment]
HEADS: Table = ChainHead.__table__  # type: ignore[assignment]
ALIASES: Table = AliasRow.__table__  # type: ignore[assignment]

_tenant: BindParameter[str] = bindparam("b_tenant")
_group: BindParameter[str] = bindparam("b_group")
_group_pk: BindParameter[int] = bindparam("b_group_pk")
_number: BindParameter[int] = bindparam("b_number")

GROUP = select(GROUPS.c.id, GROUPS.c.body).where(
    GROUPS.c.tenant == _tenant, GROUPS.c.group_id == _group
)
GROUP_PK = select(GROUPS.c.id).where(GROUPS.c.tenant == _tenant, GROUPS.c.group_id == _group)
INSERT_GROUP = insert(GROUPS).returning(GROUPS.c.id)
UPDATE_GROUP = update(GROUPS).where(GROUPS.c.tenant == _tenant, GROUPS.c.group_id == _group)

_version_of_group = (
    select(VERSIONS.c.body)
    .join(GROUPS, GROUPS.c.id == VERSIONS.c.group_pk)
    .where(GROUPS.c.tenant == _tenant, GROUPS.c.group_id == _group, VERSIONS.c.tenant == _tenant)
)
VERSION = _version_of_group.where(VERSIONS.c.number == _number)
LATEST_VERSION = _version_of_group.order_by(VERSIONS.c.number.desc()).limit(1)
VERSIONS_WITH_ARTIFACTS = select(VERSIONS.c.artifact_sha256, VERSIONS.c.number).where(
    VERSIONS.c.tenant == _tenant,
    VERSIONS.c.group_pk == _group_pk,
    VERSIONS.c.artifact_sha256.in_(bindparam("b_sha256s", expanding=True)),
)
INSERT_VERSION = insert(VERSIONS)
UPDATE_VERSION = update(VERSIONS).where(
    VERSIONS.c.tenant == _tenant, VERSIONS.c.group_pk == _group_pk, VERSIONS.c.number == _number
)
DELETE_VERSION = delete(VERSIONS).where(
    VERSIONS.c.tenant == _tenant, VERSIONS.c.group_pk == _group_pk, VERSIONS.c.number == _number
)

VERSION_BY_ALIAS = (
    select(VERSIONS.c.body)
    .join(
        ALIASES,
        (ALIASES.c.group_pk == VERSIONS.c.group_pk) & (ALIASES.c.number == VERSIONS.c.number),
    )
    .join(GROUPS, GROUPS.c.id == VERSIONS.c.group_pk)
    .where(
        GROUPS.c.tenant == _tenant,
        GROUPS.c.group_id == _group,
        ALIASES.c.alias == bindparam("b_alias"),
    )
)
ALIAS = select(ALIASES.c.body).where(
    ALIASES.c.tenant == _tenant,
    ALIASES.c.group_pk == _group_pk,
    ALIASES.c.alias == bindparam("b_alias"),
)

CREATE_HEAD_SQLITE = sqlite_insert(HEADS).on_conflict_do_nothing()
CREATE_HEAD_POSTGRES = pg_insert(HEADS).on_conflict_do_nothing()
HEAD = select(HEADS.c.seq, HEADS.c.hash).where(HEADS.c.tenant == _tenant)
HEAD_FOR_UPDATE = HEAD.with_for_update()
UPDATE_HEAD = update(HEADS).where(HEADS.c.tenant == _tenant)
INSERT_LOG = insert(LOG)
REPLAY = select(*LOG.c).where(
    LOG.c.tenant == _tenant, LOG.c.request_id == bindparam("b_request_id")
)
NOTIFY = select(func.pg_notify(bindparam("b_channel"), bindparam("b_payload")))
