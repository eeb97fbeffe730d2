"""Initial schema: the log and its chain heads, groups, versions and tokens.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chain_heads",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("tenant"),
    )
    op.create_table(
        "log_entries",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("time_us", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.String(length=256), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("resource", sa.String(length=256), nullable=False),
        sa.Column("group_id", sa.String(length=63), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("after", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column("request_digest", sa.String(length=64), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "seq"),
    )
    with op.batch_alter_table("log_entries", schema=None) as batch_op:
        batch_op.create_index("ix_log_action", ["tenant", "action", "seq"], unique=False)
        batch_op.create_index("ix_log_actor", ["tenant", "actor", "seq"], unique=False)
        batch_op.create_index("ix_log_group", ["tenant", "group_id", "seq"], unique=False)
        batch_op.create_index("ix_log_resource", ["tenant", "resource", "seq"], unique=False)
        batch_op.create_index("ix_log_time", ["tenant", "time_us"], unique=False)
        batch_op.create_index("ux_log_request_id", ["tenant", "request_id"], unique=True)

    op.create_table(
        "model_groups",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("group_id", sa.String(length=63), nullable=False),
        sa.Column("created_by", sa.String(length=256), nullable=False),
        sa.Column("create_time_us", sa.BigInteger(), nullable=False),
        sa.Column("update_time_us", sa.BigInteger(), nullable=False),
        sa.Column("latest_version", sa.BigInteger(), nullable=False),
        sa.Column(
            "tags",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant", "group_id", name="ux_groups_tenant_group"),
    )
    with op.batch_alter_table("model_groups", schema=None) as batch_op:
        batch_op.create_index("ix_groups_create_time", ["tenant", "create_time_us"], unique=False)
        batch_op.create_index("ix_groups_update_time", ["tenant", "update_time_us"], unique=False)

    op.create_table(
        "tokens",
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=256), nullable=False),
        sa.Column(
            "roles",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("create_time_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("token_sha256"),
    )
    op.create_table(
        "model_versions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("group_pk", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.Column("stage", sa.Integer(), nullable=False),
        sa.Column("approval_status", sa.Integer(), nullable=False),
        sa.Column("artifact_sha256", sa.String(length=64), nullable=False),
        sa.Column("artifact_format", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=256), nullable=False),
        sa.Column("create_time_us", sa.BigInteger(), nullable=False),
        sa.Column("update_time_us", sa.BigInteger(), nullable=False),
        sa.Column(
            "tags",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "metrics",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["group_pk"], ["model_groups.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("group_pk", "artifact_sha256", name="ux_versions_group_artifact"),
        sa.UniqueConstraint("group_pk", "number", name="ux_versions_group_number"),
    )
    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_versions_create_time", ["group_pk", "create_time_us"], unique=False
        )
        batch_op.create_index("ix_versions_stage", ["group_pk", "stage", "number"], unique=False)
        batch_op.create_index("ix_versions_tenant_number", ["tenant", "number", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.drop_index("ix_versions_tenant_number")
        batch_op.drop_index("ix_versions_stage")
        batch_op.drop_index("ix_versions_create_time")

    op.drop_table("model_versions")
    op.drop_table("tokens")
    with op.batch_alter_table("model_groups", schema=None) as batch_op:
        batch_op.drop_index("ix_groups_update_time")
        batch_op.drop_index("ix_groups_create_time")

    op.drop_table("model_groups")
    with op.batch_alter_table("log_entries", schema=None) as batch_op:
        batch_op.drop_index("ux_log_request_id")
        batch_op.drop_index("ix_log_time")
        batch_op.drop_index("ix_log_resource")
        batch_op.drop_index("ix_log_group")
        batch_op.drop_index("ix_log_actor")
        batch_op.drop_index("ix_log_action")

    op.drop_table("log_entries")
    op.drop_table("chain_heads")
