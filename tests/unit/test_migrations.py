"""The Alembic migrations build exactly the tables the store declares, on both databases."""

from __future__ import annotations

from pathlib import Path

from tests.support.inprocess import schema_differences


async def test_the_migrations_build_the_declared_tables_on_sqlite(tmp_path: Path) -> None:
    assert await schema_differences(f"sqlite:///{tmp_path / 'fresh.db'}") == []


async def test_the_migrations_build_the_declared_tables_on_postgres(postgres_database: str) -> None:
    assert await schema_differences(postgres_database) == []
