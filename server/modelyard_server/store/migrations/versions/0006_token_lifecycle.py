"""Token lifecycle: an id to name a token by, who issued it, expiry, revocation, last use.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tokens") as batch:
        batch.add_column(sa.Column("token_id", sa.String(length=63), nullable=True))
        batch.add_column(sa.Column("created_by", sa.String(length=256), nullable=True))
        batch.add_column(sa.Column("expire_time_us", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("revoke_time_us", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("revoked_by", sa.String(length=256), nullable=True))
        batch.add_column(sa.Column("last_use_time_us", sa.BigInteger(), nullable=True))
    # Tokens issued before ids existed are named by a prefix of their digest (the digest of a
    # 256-bit random secret: its first 64 bits give nothing away). They never expire, as before.
    op.execute("UPDATE tokens SET token_id = 'tk-' || substr(token_sha256, 1, 16), created_by = ''")
    with op.batch_alter_table("tokens") as batch:
        batch.alter_column("token_id", existing_type=sa.String(length=63), nullable=False)
        batch.alter_column("created_by", existing_type=sa.String(length=256), nullable=False)
        batch.create_unique_constraint("ux_tokens_tenant_token", ["tenant", "token_id"])
        batch.create_index("ix_tokens_created", ["tenant", "create_time_us", "token_id"])


def downgrade() -> None:
    with op.batch_alter_table("tokens") as batch:
        batch.drop_index("ix_tokens_created")
        batch.drop_constraint("ux_tokens_tenant_token", type_="unique")
        for column in (
            "last_use_time_us",
            "revoked_by",
            "revoke_time_us",
            "expire_time_us",
            "created_by",
            "token_id",
        ):
            batch.drop_column(column)
