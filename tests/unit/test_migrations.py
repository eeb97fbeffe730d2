"""The Alembic migrations build exactly the tables the store declares, on both databases."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from modelyard_server import config
from modelyard_server.preflight import Database, open_database
from modelyard_server.store.engine import SCHEMA_HEAD, known_revisions, schema_revision
from sqlalchemy import Column, Index, MetaData, String, UniqueConstraint

from tests.support.inprocess import DECLARED, migrate_sqlite_to, schema_differences


@pytest.fixture(params=["sqlite", "postgres"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a database nothing has touched: a new SQLite file or PostgreSQL database."""
    if request.param == "postgres":
        url: str = request.getfixturevalue("postgres_database")
        return url
    return f"sqlite:///{tmp_path / 'empty.db'}"


def altered(declared: MetaData) -> MetaData:
    """Returns a copy of the declared tables with one change of each kind a missing
    migration could leave behind."""
    copy = MetaData()
    for table in declared.tables.values():
        table.to_metadata(copy)
    groups, tokens, log = (copy.tables[n] for n in ("model_groups", "tokens", "log_entries"))
    groups.append_column(Column("owner", String(64), nullable=False))
    tokens.c.subject.nullable = True
    tokens.c.tenant.type = String(65)
    log.append_constraint(UniqueConstraint("tenant", "hash", name="ux_log_hash"))
    Index("ix_tokens_subject", tokens.c.subject)
    return copy


async def test_migrating_an_empty_database_gives_exactly_the_declared_tables(
    empty_database: str,
) -> None:
    assert await schema_differences(empty_database) == []


async def test_the_comparison_notices_each_kind_of_difference(empty_database: str) -> None:
    found = await schema_differences(empty_database, altered(DECLARED))
    # One entry per change, except column modifications, which come grouped in a list.
    flat = [item for entry in found for item in (entry if isinstance(entry, list) else [entry])]
    assert sorted(item[0] for item in flat) == [
        "add_column",
        "add_constraint",
        "add_index",
        "modify_nullable",
        "modify_type",
    ], found


def test_the_schema_head_the_server_checks_at_start_is_the_newest_migration() -> None:
    """A server starting on a database at SCHEMA_HEAD runs no migration: were the constant
    behind the migrations, a database would be left one migration short."""
    assert known_revisions()[-1] == SCHEMA_HEAD


async def test_a_server_starting_on_a_database_one_migration_behind_brings_it_to_the_head(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The start-up check skips Alembic only at SCHEMA_HEAD: a database an older release
    left is migrated, and the log says from which revision."""
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    settings = config.load({"data_dir": str(data)}, environ={})
    file = Database.of(settings).file
    assert file is not None
    behind = known_revisions()[-2]
    migrate_sqlite_to(file, behind)
    with caplog.at_level(logging.INFO, logger="modelyard.server"):
        engines = await open_database(settings, create=True)
    try:
        assert await schema_revision(engines) == SCHEMA_HEAD
    finally:
        await engines.dispose()
    assert f"from schema revision {behind} to {SCHEMA_HEAD}" in caplog.text
