"""Writes run by SQLite's driver (store/prepared.py) store exactly what SQLAlchemy would,
and a refused one is refused as SQLAlchemy's would be: a StatementRefused that names the
rule broken and never the values."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from modelyard_server.store.engine import StatementRefused, migrate, open_engines
from modelyard_server.store.prepared import PreparedWrite
from modelyard_server.store.tables import GROUPS, VERSIONS
from sqlalchemy import select

SECRET = "s3cret-value-that-must-not-leak"


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
