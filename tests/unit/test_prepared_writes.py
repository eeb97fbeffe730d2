"""Writes run by the driver itself (store/prepared.py: SQLite's, and asyncpg's in
PostgreSQL's write transactions) store exactly what SQLAlchemy would, and a refused one is
refused as SQLAlchemy's would be: a StatementRefused that names the rule broken and never
the values. On PostgreSQL, a connection lost under one is a lost connection, as it is
through SQLAlchemy."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from modelyard_server.store.engine import (
    Engines,
    StatementRefused,
    TransactionConnection,
    migrate,
    open_engines,
)
from modelyard_server.store.prepared import PreparedWrite
from modelyard_server.store.tables import GROUPS, VERSIONS
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from tests.support.postgres import run_admin_sql

SECRET = "s3cret-value-that-must-not-leak"
# The tests of asyncpg's writes: `engines` on PostgreSQL alone.
ON_POSTGRES = pytest.mark.parametrize("backend", ["postgres"])


def group_row(group_id: str) -> dict[str, Any]:
    return {
        "tenant": "t",
        "group_id": group_id,
        "created_by": "ann",
        "create_time_us": 1,
        "update_time_us": 1,
        "latest_version": 0,
        "tags": {},
        "body": b"",
    }


def version_row(group_pk: int, number: int, sha: str) -> dict[str, Any]:
    return {
        "tenant": "t",
        "group_pk": group_pk,
        "number": number,
        "stage": 1,
        "approval_status": 2,
        "artifact_sha256": sha,
        "artifact_format": 0,
        "created_by": "ann ✓",
        "create_time_us": 1_700_000_000_000_001,
        "update_time_us": 1_700_000_000_000_002,
        "tags": {"team": "risk", "ünï": "cödé", "quote": 'a"b'},
        "metrics": {"auc": 0.1, "big": 1e300, "neg": -2.5},
        "body": b"\x00\x01bytes",
        "production_end_us": None,
        "legal_hold": False,
    }


async def test_a_driver_write_stores_what_sqlalchemy_stores(tmp_path: Path) -> None:
    engines = open_engines(f"sqlite:///{tmp_path / 'registry.db'}")
    await migrate(engines)
    group = group_row("g")
    async with engines.writing() as conn:
        await conn.execute(GROUPS.insert(), group)
        group_pk = (await conn.execute(select(GROUPS.c.id))).scalar_one()
        await PreparedWrite(VERSIONS.insert()).run(conn, version_row(group_pk, 1, "a" * 64))
        await conn.execute(VERSIONS.insert(), version_row(group_pk, 2, "b" * 64))
    assert engines.sqlite_read is not None
    with engines.sqlite_read.connect() as sync:
        raw = sync.exec_driver_sql(
            "SELECT tenant, stage, approval_status, created_by, create_time_us, tags, metrics,"
            " body, production_end_us, legal_hold FROM model_versions ORDER BY number"
        ).all()
    assert len(raw) == 2 and raw[0] == raw[1]  # the same bytes in every column
    await engines.dispose()


async def test_a_refused_driver_write_is_a_statement_refused_without_values(
    tmp_path: Path,
) -> None:
    engines = open_engines(f"sqlite:///{tmp_path / 'registry.db'}")
    await migrate(engines)
    row = group_row(SECRET)
    insert = PreparedWrite(GROUPS.insert())
    async with engines.writing() as conn:
        await insert.run(conn, row)
    with pytest.raises(StatementRefused) as refused:
        async with engines.writing() as conn:
            await insert.run(conn, row)  # the same group again: its unique key refuses it
    assert "UNIQUE" in str(refused.value) and "model_groups" in str(refused.value)
    assert SECRET not in str(refused.value)
    await engines.dispose()


async def groups_stored(engines: Engines) -> int:
    async with engines.reading() as read:
        return int(await read.scalar(select(func.count()).select_from(GROUPS)))


@ON_POSTGRES
async def test_a_write_asyncpg_runs_stores_what_sqlalchemy_stores(engines: Engines) -> None:
    async with engines.writing("t") as conn:
        assert isinstance(conn, TransactionConnection)
        group_pk = await conn.scalar(GROUPS.insert().returning(GROUPS.c.id), group_row("g"))
        assert conn.ready()  # SQLAlchemy began the transaction: asyncpg runs what follows
        await PreparedWrite(VERSIONS.insert()).run(conn, version_row(group_pk, 1, "a" * 64))
        await PreparedWrite(VERSIONS.insert()).run(
            conn, [version_row(group_pk, 2, "b" * 64), version_row(group_pk, 3, "c" * 64)]
        )
        await conn.execute(VERSIONS.insert(), version_row(group_pk, 4, "d" * 64))
    columns = [c for c in VERSIONS.c if c.name not in ("id", "number", "artifact_sha256")]
    async with engines.reading() as read:
        rows = (await read.execute(select(*columns).order_by(VERSIONS.c.number))).all()
    assert len(rows) == 4 and rows[0] == rows[1] == rows[2] == rows[3]


@ON_POSTGRES
async def test_a_write_postgresql_refuses_through_asyncpg_is_a_statement_refused_without_values(
    engines: Engines,
) -> None:
    insert = PreparedWrite(GROUPS.insert())
    async with engines.writing("t") as conn:
        await insert.run(conn, group_row(SECRET))

    async def insert_again() -> None:
        async with engines.writing("t") as conn:
            await conn.execute(select(1))  # begins the transaction, so asyncpg runs the insert
            assert isinstance(conn, TransactionConnection) and conn.ready()
            await insert.run(conn, group_row(SECRET))  # its unique key refuses it

    with pytest.raises(StatementRefused) as refused:
        await insert_again()
    said = str(refused.value)
    assert "UniqueViolationError" in said and "model_groups" in said
    assert SECRET not in said
    async with engines.writing("t") as conn:  # the refusal rolled back; the next write runs
        await insert.run(conn, group_row("other"))
    assert await groups_stored(engines) == 2


@ON_POSTGRES
async def test_a_connection_lost_under_an_asyncpg_write_is_lost_not_refused(
    engines: Engines,
) -> None:
    """As through SQLAlchemy: the error says the connection was invalidated (UNAVAILABLE,
    which clients retry), and the next write runs on a new connection."""
    insert = PreparedWrite(GROUPS.insert())

    async def insert_after_the_drop() -> None:
        async with engines.writing("t") as conn:
            assert isinstance(conn, TransactionConnection)
            dropped = asyncio.Event()
            conn.driver.add_termination_listener(lambda _: dropped.set())
            pid = await conn.scalar(select(func.pg_backend_pid()))  # begins the transaction
            await run_admin_sql(f"SELECT pg_terminate_backend({pid})")
            async with asyncio.timeout(10):
                await dropped.wait()  # asyncpg has seen it go
            await insert.run(conn, group_row("g"))

    with pytest.raises(DBAPIError) as lost:
        await insert_after_the_drop()
    assert lost.value.connection_invalidated
    async with engines.writing("t") as conn:
        await insert.run(conn, group_row("g"))
    assert await groups_stored(engines) == 1


@ON_POSTGRES
async def test_a_write_transaction_that_fails_leaves_nothing_of_its_asyncpg_writes(
    engines: Engines,
) -> None:
    """asyncpg runs a statement only inside the transaction SQLAlchemy began: one it ran
    before (in autocommit) would stay written when the change fails."""
    insert = PreparedWrite(GROUPS.insert())

    async def fail_after_writing() -> None:
        async with engines.writing("t") as conn:
            await insert.run(conn, group_row("first"))  # the transaction's first statement
            await insert.run(conn, group_row("second"))
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        await fail_after_writing()
    assert await groups_stored(engines) == 0
