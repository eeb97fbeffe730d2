"""Group commit: concurrent writers share one database transaction and one commit, each in a
savepoint of its own, and none returns before the commit is durable (real SQLite files and
a real PostgreSQL database)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from modelyard_server.domain.errors import Unavailable
from modelyard_server.store.engine import Engines, GroupCommit, migrate, open_engines
from modelyard_server.store.tables import ALIASES, HEADS
from sqlalchemy import select, text


def commits_made(engines: Engines) -> int:
    """Returns how many batches the tenant's writers have committed. Not the process-wide
    metric: another test's server, still delivering webhooks in this process, commits too."""
    commits = engines.group_commit("tenant")
    assert commits is not None
    return commits.committed


async def stored_heads(engines: Engines) -> set[str]:
    async with engines.reading() as conn:
        return set((await conn.scalars(select(HEADS.c.tenant))).all())


class Refused(Exception):
    """What a failing writer raises after it wrote."""


async def test_concurrent_writers_share_commits_and_a_failing_one_fails_alone(
    engines: Engines,
) -> None:
    committed: list[int] = []

    async def write(i: int) -> None:
        def announce() -> None:
            committed.append(i)

        async with engines.writing("tenant", on_commit=announce) as conn:
            await conn.execute(HEADS.insert(), {"tenant": f"w{i:02d}", "seq": i, "hash": "h"})
            if i % 5 == 0:
                raise Refused(i)

    before = commits_made(engines)
    outcomes = await asyncio.gather(*(write(i) for i in range(40)), return_exceptions=True)

    failed = {i for i, outcome in enumerate(outcomes) if isinstance(outcome, Refused)}
    assert failed == set(range(0, 40, 5))
    assert [o for o in outcomes if o is not None and not isinstance(o, Refused)] == []
    succeeded = set(range(40)) - failed
    # Each success is stored and announced once; each failure's row was rolled back alone.
    assert await stored_heads(engines) == {f"w{i:02d}" for i in succeeded}
    assert sorted(committed) == sorted(succeeded)
    # 32 writes that queued together took far fewer than 32 commits.
    assert commits_made(engines) - before < len(succeeded) / 2


async def test_a_write_that_returned_is_visible_to_a_reader_at_once(engines: Engines) -> None:
    async with engines.writing("tenant") as conn:
        await conn.execute(HEADS.insert(), {"tenant": "seen", "seq": 1, "hash": "h"})
    assert "seen" in await stored_heads(engines)


async def test_writers_that_queue_behind_a_slow_one_commit_together(engines: Engines) -> None:
    inside, go = asyncio.Event(), asyncio.Event()

    async def slow() -> None:
        async with engines.writing("tenant") as conn:
            await conn.execute(HEADS.insert(), {"tenant": "slow", "seq": 1, "hash": "h"})
            inside.set()
            await go.wait()

    async def quick(i: int) -> None:
        async with engines.writing("tenant") as conn:
            await conn.execute(HEADS.insert(), {"tenant": f"q{i}", "seq": i, "hash": "h"})

    first = asyncio.create_task(slow())
    await inside.wait()
    rest = [asyncio.create_task(quick(i)) for i in range(10)]
    await asyncio.sleep(0.05)
    # Nothing is visible, nor acknowledged, while the batch is still open.
    assert await stored_heads(engines) == set()
    assert not any(task.done() for task in [first, *rest])
    before = commits_made(engines)
    go.set()
    await asyncio.gather(first, *rest)
    assert await stored_heads(engines) == {"slow", *(f"q{i}" for i in range(10))}
    assert commits_made(engines) - before == 1


async def test_a_writer_cancelled_in_the_queue_leaves_no_batch_open(tmp_path: Path) -> None:
    engines = open_engines(f"sqlite:///{tmp_path / 'registry.db'}")
    await migrate(engines)
    commits = engines.group_commit(None)
    assert isinstance(commits, GroupCommit)
    inside, go = asyncio.Event(), asyncio.Event()

    async def first() -> None:
        async with engines.writing() as conn:
            await conn.execute(HEADS.insert(), {"tenant": "first", "seq": 1, "hash": "h"})
            inside.set()
            await go.wait()

    async def second() -> None:
        async with engines.writing() as conn:
            await conn.execute(HEADS.insert(), {"tenant": "second", "seq": 2, "hash": "h"})

    writer = asyncio.create_task(first())
    await inside.wait()
    queued = asyncio.create_task(second())
    await asyncio.sleep(0)
    assert commits.queued == 1
    go.set()
    # The first writer leaves the batch open for the one queued behind it ...
    for _ in range(1000):
        if not commits.turn.locked() and commits.open is not None:
            break
        await asyncio.sleep(0)
    assert commits.open is not None and not commits.turn.locked()
    queued.cancel()  # ... which gives up before its turn comes.
    await asyncio.wait_for(writer, timeout=10)
    with pytest.raises(asyncio.CancelledError):
        await queued
    assert await stored_heads(engines) == {"first"}
    assert commits.open is None
    await engines.dispose()


async def test_a_failed_commit_fails_every_writer_of_its_batch_and_keeps_nothing(
    tmp_path: Path,
) -> None:
    engines = open_engines(f"sqlite:///{tmp_path / 'registry.db'}")
    await migrate(engines)
    inside, go = asyncio.Event(), asyncio.Event()

    async def good() -> None:
        async with engines.writing() as conn:
            await conn.execute(HEADS.insert(), {"tenant": "good", "seq": 1, "hash": "h"})
            inside.set()
            await go.wait()

    async def dangling() -> None:
        async with engines.writing() as conn:
            # A foreign key checked only at commit, pointing at no group: the commit fails.
            await conn.execute(text("PRAGMA defer_foreign_keys = ON"))
            row = {"tenant": "t", "group_pk": 999, "alias": "a", "number": 1, "body": b""}
            await conn.execute(ALIASES.insert(), row)

    first = asyncio.create_task(good())
    await inside.wait()
    second = asyncio.create_task(dangling())
    await asyncio.sleep(0)
    go.set()
    outcomes = await asyncio.gather(first, second, return_exceptions=True)
    assert [type(o) for o in outcomes] == [Unavailable, Unavailable]
    assert all("retry" in str(o) for o in outcomes)
    assert await stored_heads(engines) == set()
    # The connection is usable again: the next write commits.
    async with engines.writing() as conn:
        await conn.execute(HEADS.insert(), {"tenant": "after", "seq": 1, "hash": "h"})
    assert await stored_heads(engines) == {"after"}
    await engines.dispose()
