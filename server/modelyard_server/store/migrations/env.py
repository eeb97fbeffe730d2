"""Alembic environment: migrations run on the connection the server hands over."""

from __future__ import annotations

from alembic import context
from modelyard_server.store.tables import METADATA

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "run migrations with `modelyard-server migrate`, which supplies the connection"
    )
context.configure(connection=connection, target_metadata=METADATA, render_as_batch=True)
context.run_migrations()
