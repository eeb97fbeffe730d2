"""Webhook secrets are stored sealed (AES-GCM), longer than the secrets themselves.

The secrets already stored stay in the clear here: a migration has no access to the server's
key file. The server seals them when it starts (store/webhooks.py, seal_stored_secrets).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhooks") as table:
        table.alter_column(
            "secret", existing_type=sa.String(length=256), type_=sa.Text(), existing_nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("webhooks") as table:
        table.alter_column(
            "secret", existing_type=sa.Text(), type_=sa.String(length=256), existing_nullable=False
        )
