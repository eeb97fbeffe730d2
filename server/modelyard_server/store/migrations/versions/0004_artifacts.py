"""Blobs held by groups and the files of held artifacts.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "blob_holders",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("group_pk", Id, nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("create_time_us", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["group_pk"], ["model_groups.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("group_pk", "sha256", name="ux_blob_holders_group_sha256"),
    )
    op.create_table(
        "artifact_files",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("version_pk", Id, nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["version_pk"], ["model_versions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("version_pk", "path", name="ux_artifact_files_version_path"),
    )
    op.create_index("ix_artifact_files_sha256", "artifact_files", ["sha256"])
    op.create_index("ix_blob_holders_sha256", "blob_holders", ["sha256"])
    # Rows to lock for work that spans tenants: 'blobs' serializes publishing a blob with
    # collecting the ones nothing references.
    locks = op.create_table(
        "store_locks",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.bulk_insert(locks, [{"name": "blobs"}])


def downgrade() -> None:
    op.drop_table("store_locks")
    op.drop_index("ix_blob_holders_sha256", table_name="blob_holders")
    op.drop_index("ix_artifact_files_sha256", table_name="artifact_files")
    op.drop_table("artifact_files")
    op.drop_table("blob_holders")
