"""The tables. A group or version row holds the resource (serialized protobuf, read in one
piece) beside the columns that filters, orderings and uniqueness need."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

JSONColumn = JSON().with_variant(JSONB(), "postgresql")
Id = BigInteger().with_variant(Integer(), "sqlite")  # SQLite aliases INTEGER PRIMARY KEY to rowid


class Base(DeclarativeBase):
    pass


class ChainHead(Base):
    """One row per tenant: the head of its log. Locking it serializes the tenant's writes."""

    __tablename__ = "chain_heads"

    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    hash: Mapped[str] = mapped_column(String(64))


class LogRow(Base):
    """The append-only log: never updated or deleted by the server."""

    __tablename__ = "log_entries"
    __table_args__ = (
        Index("ix_log_resource", "tenant", "resource", "seq"),
        Index("ix_log_group", "tenant", "group_id", "seq"),
        Index("ix_log_actor", "tenant", "actor", "seq"),
        Index("ix_log_action", "tenant", "action", "seq"),
        Index("ix_log_time", "tenant", "time_us"),
        Index("ux_log_request_id", "tenant", "request_id", unique=True),
    )

    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    time_us: Mapped[int] = mapped_column(BigInteger)
    actor: Mapped[str] = mapped_column(String(256))
    action: Mapped[str] = mapped_column(String(64))
    resource: Mapped[str] = mapped_column(String(256))
    group_id: Mapped[str] = mapped_column(String(63))
    version: Mapped[int] = mapped_column(BigInteger, default=0)
    before: Mapped[str | None] = mapped_column(Text)
    after: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text, default="")
    # NULL when the request had no id, so the unique index only binds real ids.
    request_id: Mapped[str | None] = mapped_column(String(128))
    request_digest: Mapped[str] = mapped_column(String(64), default="")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    # Other resources the same change altered: canonical JSON list of {resource, before, after}.
    related: Mapped[str | None] = mapped_column(Text)


class KeyFingerprintRow(Base):
    """The fingerprint of the key file the log is chained with ('server'): a server given
    another key refuses to start rather than write a chain nobody can verify."""

    __tablename__ = "key_fingerprints"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    create_time_us: Mapped[int] = mapped_column(BigInteger)


class GroupRow(Base):
    __tablename__ = "model_groups"
    __table_args__ = (
        UniqueConstraint("tenant", "group_id", name="ux_groups_tenant_group"),
        Index("ix_groups_create_time", "tenant", "create_time_us"),
        Index("ix_groups_update_time", "tenant", "update_time_us"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(64))
    group_id: Mapped[str] = mapped_column(String(63))
    created_by: Mapped[str] = mapped_column(String(256))
    create_time_us: Mapped[int] = mapped_column(BigInteger)
    update_time_us: Mapped[int] = mapped_column(BigInteger)
    latest_version: Mapped[int] = mapped_column(BigInteger, default=0)
    tags: Mapped[dict[str, Any]] = mapped_column(JSONColumn)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    # The group's ApprovalPolicy, serialized; NULL until it is first updated (defaults apply).
    policy: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The group's RetentionPolicy, serialized; NULL while the tenant's default applies.
    retention: Mapped[bytes | None] = mapped_column(LargeBinary)


class VersionRow(Base):
    __tablename__ = "model_versions"
    __table_args__ = (
        UniqueConstraint("group_pk", "number", name="ux_versions_group_number"),
        UniqueConstraint("group_pk", "artifact_sha256", name="ux_versions_group_artifact"),
        Index("ix_versions_tenant_number", "tenant", "number", "id"),
        Index("ix_versions_stage", "group_pk", "stage", "number"),
        Index("ix_versions_create_time", "group_pk", "create_time_us"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(64))
    group_pk: Mapped[int] = mapped_column(ForeignKey("model_groups.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(BigInteger)
    stage: Mapped[int] = mapped_column(Integer)
    approval_status: Mapped[int] = mapped_column(Integer)
    artifact_sha256: Mapped[str] = mapped_column(String(64))
    artifact_format: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(256))
    create_time_us: Mapped[int] = mapped_column(BigInteger)
    update_time_us: Mapped[int] = mapped_column(BigInteger)
    tags: Mapped[dict[str, Any]] = mapped_column(JSONColumn)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONColumn)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    # When the version last left PRODUCTION (rollback's target is the latest), else NULL.
    production_end_us: Mapped[int | None] = mapped_column(BigInteger)
    # Whether the version is under legal hold (NULL in rows from before holds existed: not).
    legal_hold: Mapped[bool | None] = mapped_column(Boolean)


class AliasRow(Base):
    __tablename__ = "aliases"
    __table_args__ = (
        UniqueConstraint("group_pk", "alias", name="ux_aliases_group_alias"),
        Index("ix_aliases_version", "group_pk", "number"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(64))
    group_pk: Mapped[int] = mapped_column(ForeignKey("model_groups.id", ondelete="CASCADE"))
    alias: Mapped[str] = mapped_column(String(63))
    number: Mapped[int] = mapped_column(BigInteger)
    body: Mapped[bytes] = mapped_column(LargeBinary)


class TokenRow(Base):
    """Bearer tokens, stored as their SHA-256 only, and their lifecycle."""

    __tablename__ = "tokens"
    __table_args__ = (
        UniqueConstraint("tenant", "token_id", name="ux_tokens_tenant_token"),
        Index("ix_tokens_created", "tenant", "create_time_us", "token_id"),
    )

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(256))
    roles: Mapped[list[str]] = mapped_column(JSONColumn)
    create_time_us: Mapped[int] = mapped_column(BigInteger)
    # The id of its name, tokens/{token_id}: what lists show and revocations name.
    token_id: Mapped[str] = mapped_column(String(63))
    created_by: Mapped[str] = mapped_column(String(256))
    expire_time_us: Mapped[int | None] = mapped_column(BigInteger)  # None: never expires
    revoke_time_us: Mapped[int | None] = mapped_column(BigInteger)
    revoked_by: Mapped[str | None] = mapped_column(String(256))
    # Written at most once a minute per token, not on every call.
    last_use_time_us: Mapped[int | None] = mapped_column(BigInteger)


class WebhookRow(Base):
    """A webhook: where to POST, the signing secret, its filters, and how far it has read the log."""

    __tablename__ = "webhooks"
    __table_args__ = (
        UniqueConstraint("tenant", "webhook_id", name="ux_webhooks_tenant_webhook"),
        Index("ix_webhooks_group", "tenant", "group_id", "id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(64))
    webhook_id: Mapped[str] = mapped_column(String(63))
    group_id: Mapped[str] = mapped_column(String(63))  # "" for every group of the tenant
    url: Mapped[str] = mapped_column(Text)
    secret: Mapped[str] = mapped_column(Text)  # sealed: see deliveries/secrets.py
    actions: Mapped[list[str]] = mapped_column(JSONColumn)  # log action names; [] for all
    # The seq of the last log entry turned into a delivery or skipped by the filters.
    cursor: Mapped[int] = mapped_column(BigInteger)
    body: Mapped[bytes] = mapped_column(LargeBinary)  # the Webhook, without its secret


class DeliveryRow(Base):
    """One event on its way to one webhook, and how its attempts went."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("webhook_pk", "seq", name="ux_deliveries_webhook_seq"),
        Index("ix_deliveries_due", "state", "next_attempt_us"),
        Index("ix_deliveries_webhook_state", "webhook_pk", "state", "seq"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(64))
    webhook_pk: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(64))
    resource: Mapped[str] = mapped_column(String(256))
    state: Mapped[int] = mapped_column(Integer)  # a modelyard.v1.DeliveryState value
    attempts: Mapped[int] = mapped_column(Integer)
    # When the next attempt is due; while an attempt is in flight, when its lease runs out.
    next_attempt_us: Mapped[int] = mapped_column(BigInteger)
    last_attempt_us: Mapped[int | None] = mapped_column(BigInteger)
    last_response_code: Mapped[int] = mapped_column(Integer)
    last_error: Mapped[str] = mapped_column(Text)
    create_time_us: Mapped[int] = mapped_column(BigInteger)


class BlobHolderRow(Base):
    """A blob a group holds: uploaded to it, so its versions may name it. Deleting the
    group deletes these, so a new group with the same id starts with none."""

    __tablename__ = "blob_holders"
    __table_args__ = (
        UniqueConstraint("group_pk", "sha256", name="ux_blob_holders_group_sha256"),
        Index("ix_blob_holders_sha256", "sha256"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(64))
    group_pk: Mapped[int] = mapped_column(ForeignKey("model_groups.id", ondelete="CASCADE"))
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    create_time_us: Mapped[int] = mapped_column(BigInteger)


class StoreLockRow(Base):
    """Rows locked by work that spans tenants ('blobs': publishing and collecting blobs)."""

    __tablename__ = "store_locks"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)


class ArtifactFileRow(Base):
    """One file of a version's held artifact."""

    __tablename__ = "artifact_files"
    __table_args__ = (
        UniqueConstraint("version_pk", "path", name="ux_artifact_files_version_path"),
        Index("ix_artifact_files_sha256", "sha256"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(64))
    version_pk: Mapped[int] = mapped_column(ForeignKey("model_versions.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)


class DependencyRow(Base):
    """One `lineage.depends_on` entry of a version: the index that finds a version's
    dependents. Deleting the dependent deletes its rows; the target is named, not keyed, as
    the version's body names it."""

    __tablename__ = "version_dependencies"
    __table_args__ = (
        UniqueConstraint(
            "version_pk", "target_group", "target_number", name="ux_dependencies_edge"
        ),
        Index("ix_dependencies_target", "tenant", "target_group", "target_number"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(64))
    version_pk: Mapped[int] = mapped_column(ForeignKey("model_versions.id", ondelete="CASCADE"))
    target_group: Mapped[str] = mapped_column(String(63))
    target_number: Mapped[int] = mapped_column(BigInteger)


class RetentionDefaultRow(Base):
    """A tenant's default RetentionPolicy, for its groups without one of their own."""

    __tablename__ = "retention_defaults"

    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    body: Mapped[bytes] = mapped_column(LargeBinary)


def _table(row: type[Base]) -> Table:
    return cast(Table, row.__table__)


# The tables as SQLAlchemy Core sees them: every statement of the store is written on these.
HEADS = _table(ChainHead)
LOG = _table(LogRow)
GROUPS = _table(GroupRow)
VERSIONS = _table(VersionRow)
ALIASES = _table(AliasRow)
TOKENS = _table(TokenRow)
WEBHOOKS = _table(WebhookRow)
DELIVERIES = _table(DeliveryRow)
BLOB_HOLDERS = _table(BlobHolderRow)
ARTIFACT_FILES = _table(ArtifactFileRow)
STORE_LOCKS = _table(StoreLockRow)
DEPENDENCIES = _table(DependencyRow)
RETENTION_DEFAULTS = _table(RetentionDefaultRow)
KEY_FINGERPRINTS = _table(KeyFingerprintRow)
