"""The tables, in SQLAlchemy Core: every statement of the store is written on these. A
group or version row holds the resource (serialized protobuf, read in one piece) beside
the columns that filters, orderings and uniqueness need.

Core, not ORM declarations: nothing maps rows to objects, and importing sqlalchemy.orm to
declare them cost every process 0.08 s of its start."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB

JSONColumn = JSON().with_variant(JSONB(), "postgresql")
Id = BigInteger().with_variant(Integer(), "sqlite")  # SQLite aliases INTEGER PRIMARY KEY to rowid

METADATA = MetaData()

# One row per tenant: the head of its log. Locking it serializes the tenant's writes.
HEADS = Table(
    "chain_heads",
    METADATA,
    Column("tenant", String(64), primary_key=True),
    Column("seq", BigInteger, default=0, nullable=False),
    Column("hash", String(64), nullable=False),
)

# The append-only log: never updated or deleted by the server.
LOG = Table(
    "log_entries",
    METADATA,
    Column("tenant", String(64), primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("time_us", BigInteger, nullable=False),
    Column("actor", String(256), nullable=False),
    Column("action", String(64), nullable=False),
    Column("resource", String(256), nullable=False),
    Column("group_id", String(63), nullable=False),
    Column("version", BigInteger, default=0, nullable=False),
    Column("before", Text),
    Column("after", Text),
    Column("reason", Text, default="", nullable=False),
    # NULL when the request had no id, so the unique index only binds real ids.
    Column("request_id", String(128)),
    Column("request_digest", String(64), default="", nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    # Other resources the same change altered: canonical JSON list of {resource, before, after}.
    Column("related", Text),
    Index("ix_log_resource", "tenant", "resource", "seq"),
    Index("ix_log_group", "tenant", "group_id", "seq"),
    Index("ix_log_actor", "tenant", "actor", "seq"),
    Index("ix_log_action", "tenant", "action", "seq"),
    Index("ix_log_time", "tenant", "time_us"),
    Index("ux_log_request_id", "tenant", "request_id", unique=True),
)

# The fingerprint of the key file the log is chained with ('server'): a server given another
# key refuses to start rather than write a chain nobody can verify.
KEY_FINGERPRINTS = Table(
    "key_fingerprints",
    METADATA,
    Column("name", String(64), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("create_time_us", BigInteger, nullable=False),
)

GROUPS = Table(
    "model_groups",
    METADATA,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant", String(64), nullable=False),
    Column("group_id", String(63), nullable=False),
    Column("created_by", String(256), nullable=False),
    Column("create_time_us", BigInteger, nullable=False),
    Column("update_time_us", BigInteger, nullable=False),
    Column("latest_version", BigInteger, default=0, nullable=False),
    Column("tags", JSONColumn, nullable=False),
    Column("body", LargeBinary, nullable=False),
    # The group's ApprovalPolicy, serialized; NULL until it is first updated (defaults apply).
    Column("policy", LargeBinary),
    # The group's RetentionPolicy, serialized; NULL while the tenant's default applies.
    Column("retention", LargeBinary),
    UniqueConstraint("tenant", "group_id", name="ux_groups_tenant_group"),
    Index("ix_groups_create_time", "tenant", "create_time_us"),
    Index("ix_groups_update_time", "tenant", "update_time_us"),
)

VERSIONS = Table(
    "model_versions",
    METADATA,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant", String(64), nullable=False),
    Column("group_pk", Id, ForeignKey("model_groups.id", ondelete="CASCADE"), nullable=False),
    Column("number", BigInteger, nullable=False),
    Column("stage", Integer, nullable=False),
    Column("approval_status", Integer, nullable=False),
    Column("artifact_sha256", String(64), nullable=False),
    Column("artifact_format", Integer, nullable=False),
    Column("created_by", String(256), nullable=False),
    Column("create_time_us", BigInteger, nullable=False),
    Column("update_time_us", BigInteger, nullable=False),
    Column("tags", JSONColumn, nullable=False),
    Column("metrics", JSONColumn, nullable=False),
    Column("body", LargeBinary, nullable=False),
    # When the version last left PRODUCTION (rollback's target is the latest), else NULL.
    Column("production_end_us", BigInteger),
    # Whether the version is under legal hold (NULL in rows from before holds existed: not).
    Column("legal_hold", Boolean),
    UniqueConstraint("group_pk", "number", name="ux_versions_group_number"),
    UniqueConstraint("group_pk", "artifact_sha256", name="ux_versions_group_artifact"),
    Index("ix_versions_tenant_number", "tenant", "number", "id"),
    Index("ix_versions_stage", "group_pk", "stage", "number"),
    Index("ix_versions_create_time", "group_pk", "create_time_us"),
)

ALIASES = Table(
    "aliases",
    METADATA,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant", String(64), nullable=False),
    Column("group_pk", Id, ForeignKey("model_groups.id", ondelete="CASCADE"), nullable=False),
    Column("alias", String(63), nullable=False),
    Column("number", BigInteger, nullable=False),
    Column("body", LargeBinary, nullable=False),
    UniqueConstraint("group_pk", "alias", name="ux_aliases_group_alias"),
    Index("ix_aliases_version", "group_pk", "number"),
)

# Bearer tokens, stored as their SHA-256 only, and their lifecycle.
TOKENS = Table(
    "tokens",
    METADATA,
    Column("token_sha256", String(64), primary_key=True),
    Column("tenant", String(64), nullable=False),
    Column("subject", String(256), nullable=False),
    Column("roles", JSONColumn, nullable=False),
    Column("create_time_us", BigInteger, nullable=False),
    # The id of its name, tokens/{token_id}: what lists show and revocations name.
    Column("token_id", String(63), nullable=False),
    Column("created_by", String(256), nullable=False),
    Column("expire_time_us", BigInteger),  # None: never expires
    Column("revoke_time_us", BigInteger),
    Column("revoked_by", String(256)),
    # Written at most once a minute per token, not on every call.
    Column("last_use_time_us", BigInteger),
    UniqueConstraint("tenant", "token_id", name="ux_tokens_tenant_token"),
    Index("ix_tokens_created", "tenant", "create_time_us", "token_id"),
)

# A webhook: where to POST, the signing secret, its filters, and how far it has read the
# log.
WEBHOOKS = Table(
    "webhooks",
    METADATA,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant", String(64), nullable=False),
    Column("webhook_id", String(63), nullable=False),
    Column("group_id", String(63), nullable=False),  # "" for every group of the tenant
    Column("url", Text, nullable=False),
    Column("secret", Text, nullable=False),  # sealed: see deliveries/secrets.py
    Column("actions", JSONColumn, nullable=False),  # log action names; [] for all
    # The seq of the last log entry turned into a delivery or skipped by the filters.
    Column("cursor", BigInteger, nullable=False),
    Column("body", LargeBinary, nullable=False),  # the Webhook, without its secret
    UniqueConstraint("tenant", "webhook_id", name="ux_webhooks_tenant_webhook"),
    Index("ix_webhooks_group", "tenant", "group_id", "id"),
)

# One event on its way to one webhook, and how its attempts went.
DELIVERIES = Table(
    "webhook_deliveries",
    METADATA,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant", String(64), nullable=False),
    Column("webhook_pk", Id, ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("action", String(64), nullable=False),
    Column("resource", String(256), nullable=False),
    Column("state", Integer, nullable=False),  # a modelyard.v1.DeliveryState value
    Column("attempts", Integer, nullable=False),
    # When the next attempt is due; while an attempt is in flight, when its lease runs out.
    Column("next_attempt_us", BigInteger, nullable=False),
    Column("last_attempt_us", BigInteger),
    Column("last_response_code", Integer, nullable=False),
    Column("last_error", Text, nullable=False),
    Column("create_time_us", BigInteger, nullable=False),
    UniqueConstraint("webhook_pk", "seq", name="ux_deliveries_webhook_seq"),
    Index("ix_deliveries_due", "state", "next_attempt_us"),
    Index("ix_deliveries_webhook_state", "webhook_pk", "state", "seq"),
)

# A blob a group holds: uploaded to it, so its versions may name it. Deleting the group
# deletes these, so a new group with the same id starts with none.
BLOB_HOLDERS = Table(
    "blob_holders",
    METADATA,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant", String(64), nullable=False),
    Column("group_pk", Id, ForeignKey("model_groups.id", ondelete="CASCADE"), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("create_time_us", BigInteger, nullable=False),
    UniqueConstraint("group_pk", "sha256", name="ux_blob_holders_group_sha256"),
    Index("ix_blob_holders_sha256", "sha256"),
)

# Rows locked by work that spans tenants ('blobs': publishing and collecting blobs).
STORE_LOCKS = Table(
    "store_locks",
    METADATA,
    Column("name", String(64), primary_key=True),
)

# One file of a version's held artifact.
ARTIFACT_FILES = Table(
    "artifact_files",
    METADATA,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant", String(64), nullable=False),
    Column("version_pk", Id, ForeignKey("model_versions.id", ondelete="CASCADE"), nullable=False),
    Column("path", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    UniqueConstraint("version_pk", "path", name="ux_artifact_files_version_path"),
    Index("ix_artifact_files_sha256", "sha256"),
)

# One `lineage.depends_on` entry of a version: the index that finds a version's dependents.
# Deleting the dependent deletes its rows; the target is named, not keyed, as the version's
# body names it.
DEPENDENCIES = Table(
    "version_dependencies",
    METADATA,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant", String(64), nullable=False),
    Column("version_pk", Id, ForeignKey("model_versions.id", ondelete="CASCADE"), nullable=False),
    Column("target_group", String(63), nullable=False),
    Column("target_number", BigInteger, nullable=False),
    UniqueConstraint("version_pk", "target_group", "target_number", name="ux_dependencies_edge"),
    Index("ix_dependencies_target", "tenant", "target_group", "target_number"),
)

# A tenant's default RetentionPolicy, for its groups without one of their own.
RETENTION_DEFAULTS = Table(
    "retention_defaults",
    METADATA,
    Column("tenant", String(64), primary_key=True),
    Column("body", LargeBinary, nullable=False),
)
