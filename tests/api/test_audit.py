"""The audit log: one hash-chained entry per change, listed by filter, verified end to end."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from modelyard import Action, ModelVersion, Registry

from tests.support.factory import ServerFactory
from tests.support.servers import Server
from tests.support.versions import register


def test_every_change_writes_one_entry_with_before_and_after(
    registry: Registry, unique_group: str
) -> None:
    registry.create_group(unique_group)
    version = register(registry, unique_group, description="one")
    registry.update_version(
        ModelVersion(name=version.name, description="two"), update_mask=["description"]
    )
    registry.delete_version(version.name)
    trail = list(registry.list_audit_events(resource=f"groups/{unique_group}"))
    assert [e.action for e in trail] == [
        Action.MODEL_GROUP_CREATED,
        Action.MODEL_VERSION_CREATED,
        Action.MODEL_VERSION_UPDATED,
        Action.MODEL_VERSION_DELETED,
    ]
    created, updated, deleted = trail[1:]
    assert created.before is None
    assert created.after is not None and created.after["description"] == "one"
    assert updated.before is not None and updated.before["description"] == "one"
    assert updated.after is not None and updated.after["description"] == "two"
    assert deleted.before is not None and deleted.before["description"] == "two"
    assert deleted.after is None
    assert all(e.actor == "admin" and e.group == f"groups/{unique_group}" for e in trail)
    assert [e.seq for e in trail] == sorted(e.seq for e in trail)
    for previous, entry in pairwise(trail):
        if entry.seq == previous.seq + 1:
            assert entry.prev_hash == previous.hash


def test_entries_filter_by_resource_actor_action_and_time(
    registry: Registry, unique_group: str
) -> None:
    registry.create_group(unique_group)
    one = register(registry, unique_group)
    register(registry, unique_group)
    assert [e.resource for e in registry.list_audit_events(resource=one.name)] == [one.name]
    assert (
        len(
            list(
                registry.list_audit_events(
                    resource=f"groups/{unique_group}", actions=[Action.MODEL_VERSION_CREATED]
                )
            )
        )
        == 2
    )
    assert (
        list(registry.list_audit_events(resource=f"groups/{unique_group}", actor="somebody-else"))
        == []
    )
    future = datetime.now(UTC) + timedelta(hours=1)
    assert (
        list(registry.list_audit_events(resource=f"groups/{unique_group}", start_time=future)) == []
    )
    past = datetime.now(UTC) - timedelta(hours=1)
    assert (
        len(
            list(
                registry.list_audit_events(
                    resource=f"groups/{unique_group}", start_time=past, end_time=future
                )
            )
        )
        == 3
    )
    newest = list(
        registry.list_audit_events(
            resource=f"groups/{unique_group}", newest_first=True, page_size=1
        )
    )
    assert [e.action for e in newest] == [Action.MODEL_VERSION_CREATED] * 2 + [
        Action.MODEL_GROUP_CREATED
    ]


ALTER = "UPDATE log_entries SET actor = 'mallory' WHERE tenant = 'default' AND seq = {seq}"
REMOVE = "DELETE FROM log_entries WHERE tenant = 'default' AND seq = {seq}"


async def _tamper_postgres(url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def tamper(server: Server, sql: str) -> None:
    """Changes the log directly in the database, as an intruder with database access would."""
    if server.backend == "postgres":
        assert server.database_url is not None
        asyncio.run(_tamper_postgres(server.database_url, sql))
    else:
        with sqlite3.connect(server.data_dir / "modelyard.db") as db:
            db.execute(sql)


@pytest.mark.parametrize(
    ("change", "problem"), [(ALTER, "altered"), (REMOVE, "missing")], ids=["altered", "removed"]
)
def test_verify_finds_the_first_entry_changed_in_the_database(
    server: Server, server_factory: ServerFactory, unique_group: str, change: str, problem: str
) -> None:
    # A server of the same backend with a log of its own, so tampering harms no other test.
    with (
        server_factory(server.backend) as own_server,
        Registry(own_server.address, token=own_server.token) as registry,
    ):
        registry.create_group(unique_group)
        for _ in range(4):
            register(registry, unique_group)
        clean = registry.verify_audit_log()
        assert (
            clean.ok
            and clean.entries_checked == clean.head_seq == 5
            and clean.first_broken_seq == 0
        )
        tamper(own_server, change.format(seq=3))
        broken = registry.verify_audit_log(full=True)
        assert not broken.ok
        assert broken.first_broken_seq == 3
        assert problem in broken.problem
        assert broken.entries_checked == 2
