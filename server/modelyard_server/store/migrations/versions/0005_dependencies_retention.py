"""Dependents, legal holds and retention policies.

Fills the dependents index from the `lineage.depends_on` of the versions already stored.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from modelyard.v1 import resources_pb2 as pb

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_BATCH = 500


def upgrade() -> None:
    with op.batch_alter_table("model_groups") as batch:
        batch.add_column(sa.Column("retention", sa.LargeBinary(), nullable=True))
    with op.batch_alter_table("model_versions") as batch:
        batch.add_column(sa.Column("legal_hold", sa.Boolean(), nullable=True))
    edges = op.create_table(
        "version_dependencies",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("version_pk", Id, nullable=False),
        sa.Column("target_group", sa.String(length=63), nullable=False),
        sa.Column("target_number", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["version_pk"], ["model_versions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "version_pk", "target_group", "target_number", name="ux_dependencies_edge"
        ),
    )
    op.create_index(
        "ix_dependencies_target",
        "version_dependencies",
        ["tenant", "target_group", "target_number"],
    )
    op.create_table(
        "retention_defaults",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("tenant"),
    )
    _fill_dependencies(edges)


def _fill_dependencies(edges: sa.Table) -> None:
    """Indexes the depends_on of every stored version, a batch of versions at a time."""
    bind = op.get_bind()
    versions = sa.table(
        "model_versions",
        sa.column("id", Id),
        sa.column("tenant", sa.String()),
        sa.column("body", sa.LargeBinary()),
    )
    last = 0
    while True:
        rows = bind.execute(
            sa.select(versions.c.id, versions.c.tenant, versions.c.body)
            .where(versions.c.id > last)
            .order_by(versions.c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            return
        found: list[dict[str, object]] = []
        for row in rows:
            version = pb.ModelVersion.FromString(row.body)
            targets = {
                (parts[1], int(parts[3]))
                for parts in (target.split("/") for target in version.lineage.depends_on)
            }
            found.extend(
                {
                    "tenant": row.tenant,
                    "version_pk": row.id,
                    "target_group": group,
                    "target_number": number,
                }
                for group, number in sorted(targets)
            )
        if found:
            bind.execute(edges.insert(), found)
        last = rows[-1].id


def downgrade() -> None:
    op.drop_table("retention_defaults")
    op.drop_index("ix_dependencies_target", table_name="version_dependencies")
    op.drop_table("version_dependencies")
    with op.batch_alter_table("model_versions") as batch:
        batch.drop_column("legal_hold")
    with op.batch_alter_table("model_groups") as batch:
        batch.drop_column("retention")
