"""Migration 0005 indexes the depends_on of the versions an older server stored."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from modelyard.v1 import resources_pb2 as pb

from tests.support.inprocess import DEFAULT_TENANT, migrate_sqlite_to, open_domain


def store_version(db: sqlite3.Connection, group_pk: int, group: str, *needs: str) -> None:
    number = db.execute(
        "SELECT count(*) + 1 FROM model_versions WHERE group_pk = ?", (group_pk,)
    ).fetchone()[0]
    version = pb.ModelVersion(
        name=f"groups/{group}/versions/{number}",
        version=number,
        stage=pb.STAGE_PRODUCTION,
        lineage=pb.Lineage(depends_on=list(needs)),
    )
    db.execute(
        "INSERT INTO model_versions (tenant, group_pk, number, stage, approval_status, "
        "artifact_sha256, artifact_format, created_by, create_time_us, update_time_us, tags, "
        "metrics, body) VALUES (?, ?, ?, ?, 2, ?, 0, 'admin', 1, 1, '{}', '{}', ?)",
        (
            DEFAULT_TENANT,
            group_pk,
            number,
            version.stage,
            f"{group}{number}".ljust(64, "0"),
            version.SerializeToString(),
        ),
    )


def store_group(db: sqlite3.Connection, group: str) -> int:
    body = pb.ModelGroup(name=f"groups/{group}").SerializeToString()
    cursor = db.execute(
        "INSERT INTO model_groups (tenant, group_id, created_by, create_time_us, "
        "update_time_us, latest_version, tags, body) VALUES (?, ?, 'admin', 1, 1, 1, ?, ?)",
        (DEFAULT_TENANT, group, json.dumps({}), body),
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


async def test_the_versions_stored_before_the_index_are_found_as_dependents(
    tmp_path: Path,
) -> None:
    database = tmp_path / "registry.db"
    migrate_sqlite_to(database, "0004")
    with sqlite3.connect(database) as db:
        store_version(db, store_group(db, "encoder"), "encoder")
        store_version(db, store_group(db, "ranker"), "ranker", "groups/encoder/versions/1")
        app = store_group(db, "app")
        # Named twice, once with a leading zero: indexed once.
        store_version(db, app, "app", "groups/ranker/versions/1", "groups/ranker/versions/01")
    async with open_domain(database) as domain:
        found = await domain.registry.dependencies.dependents(
            domain.principal("ann", "viewer"), "groups/encoder/versions/1"
        )
    assert [(d.name, d.depth) for d in found] == [
        ("groups/ranker/versions/1", 1),
        ("groups/app/versions/1", 2),
    ]
