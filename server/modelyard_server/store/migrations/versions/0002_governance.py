"""Governance: aliases, approval policies, production history, related changes in the log.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("log_entries") as batch:
        batch.add_column(sa.Column("related", sa.Text(), nullable=True))
    with op.batch_alter_table("model_groups") as batch:
        batch.add_column(sa.Column("policy", sa.LargeBinary(), nullable=True))
    with op.batch_alter_table("model_versions") as batch:
        batch.add_column(sa.Column("production_end_us", sa.BigInteger(), nullable=True))
    op.create_table(
        "aliases",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("group_pk", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("alias", sa.String(length=63), nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["group_pk"], ["model_groups.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("group_pk", "alias", name="ux_aliases_group_alias"),
    )
    op.create_index("ix_aliases_version", "aliases", ["group_pk", "number"])


def downgrade() -> None:
    op.drop_index("ix_aliases_version", table_name="aliases")
    op.drop_table("aliases")
    with op.batch_alter_table("model_versions") as batch:
        batch.drop_column("production_end_us")
    with op.batch_alter_table("model_groups") as batch:
        batch.drop_column("policy")
    with op.batch_alter_table("log_entries") as batch:
        batch.drop_column("related")
