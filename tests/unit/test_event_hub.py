"""The event hub in process, on a real SQLite store: one read shared by every subscriber at
the head, no repeat for a subscriber that caught up past the feed, bounded buffers, and
nothing left behind when streams end."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

import pytest
from modelyard.v1 import resources_pb2 as pb
from sqlalchemy import event

from tests.support.inprocess import (
    DEFAULT_TENANT,
    Domain,
    Event,
    EventHub,
    Heartbeat,
    HubSettings,
    LogEntry,
    ResourceExhausted,
    SqlStore,
    WatchFilter,
)

TENANT = DEFAULT_TENANT  # the domain fixture's
QUIET = HubSettings(heartbeat_seconds=3600, poll_seconds=3600)  # only explicit wakeups

Items = AsyncGenerator[Event[int] | Heartbeat]


def log_reads(store: SqlStore) -> list[str]:
    """Returns a list that collects every statement that reads log entries."""
    reads: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "FROM log_entries" in statement and "ORDER BY" in statement:
            reads.append(statement)

    for engine in (store.engines.sqlite_read, store.engines.sqlite_write):
        assert engine is not None
        event.listen(engine, "before_cursor_execute", seen)
    return reads


def render(entry: LogEntry) -> int:
    return entry.seq


async def create_groups(domain: Domain, *groups: str) -> None:
    admin = domain.mutation("admin", "admin")
    for group in groups:
        await domain.registry.groups.create(admin, group, pb.ModelGroup())


async def take(items: Items, count: int) -> list[int]:
    """Returns the seqs of the next `count` events (heartbeats skipped), within 5 s."""
    seqs: list[int] = []
    async with asyncio.timeout(5):
        while len(seqs) < count:
            item = await anext(items)
            if isinstance(item, Event):
                seqs.append(item.rendered)
    return seqs


async def nothing_more(items: Items) -> bool:
    """Returns whether the stream stays quiet for a moment (besides heartbeats)."""
    try:
        async with asyncio.timeout(0.3):
            while True:
                if isinstance(await anext(items), Event):
                    return False
    except TimeoutError:
        return True


async def test_one_read_of_the_log_serves_every_subscriber_at_the_head(domain: Domain) -> None:
    hub = EventHub(domain.store, render, QUIET)
    domain.store.committed.append(hub.wake)
    streams = [hub.subscribe(TENANT, WatchFilter(), None) for _ in range(50)]
    for stream in streams:
        assert isinstance(await anext(stream), Heartbeat)
    await asyncio.sleep(0.05)  # every subscriber has joined the feed
    reads = log_reads(domain.store)
    await create_groups(domain, "a")
    assert [await take(stream, 1) for stream in streams] == [[1]] * 50
    assert len(reads) == 1
    for stream in streams:
        await stream.aclose()
    assert hub.feeds == {}


async def test_subscribers_that_start_ahead_of_a_lagging_feed_get_no_repeats(
    domain: Domain,
) -> None:
    hub = EventHub(domain.store, render, QUIET)  # not woken by commits: the feed lags behind
    async with aclosing(hub.subscribe(TENANT, WatchFilter(), None)) as first:
        assert await anext(first) == Heartbeat(0)
        await asyncio.sleep(0.05)  # the feed has read the (empty) log and waits
        await create_groups(domain, "a", "b", "c")
        async with (
            aclosing(hub.subscribe(TENANT, WatchFilter(), None)) as from_now,
            aclosing(hub.subscribe(TENANT, WatchFilter(), 1)) as from_cursor,
        ):
            assert await anext(from_now) == Heartbeat(3)  # the log's head, not the feed's
            assert await anext(from_cursor) == Heartbeat(1)
            hub.wake(TENANT)  # the feed reads 1..3 for everyone
            assert await take(first, 3) == [1, 2, 3]
            await create_groups(domain, "d")
            hub.wake(TENANT)
            assert await take(from_now, 1) == [4]
            assert await take(from_cursor, 3) == [2, 3, 4]
            assert await nothing_more(from_now) and await nothing_more(from_cursor)


async def test_filters_are_applied_to_the_shared_read(domain: Domain) -> None:
    hub = EventHub(domain.store, render, QUIET)
    domain.store.committed.append(hub.wake)
    async with (
        aclosing(hub.subscribe(TENANT, WatchFilter(groups=frozenset({"b"})), None)) as only_b,
        aclosing(hub.subscribe(TENANT, WatchFilter(), None)) as everything,
    ):
        await anext(only_b)
        await anext(everything)
        await create_groups(domain, "a", "b", "c")
        assert await take(everything, 3) == [1, 2, 3]
        assert await take(only_b, 1) == [2]


async def test_a_subscriber_that_stops_reading_is_ended_and_holds_nothing(
    domain: Domain,
) -> None:
    hub = EventHub(
        domain.store, render, HubSettings(heartbeat_seconds=3600, poll_seconds=3600, buffer=3)
    )
    domain.store.committed.append(hub.wake)
    async with (
        aclosing(hub.subscribe(TENANT, WatchFilter(), None)) as stuck,
        aclosing(hub.subscribe(TENANT, WatchFilter(), None)) as healthy,
    ):
        await anext(stuck)
        await anext(healthy)
        keeping_up = asyncio.create_task(take(healthy, 6))
        await create_groups(domain, "a")
        assert await take(stuck, 1) == [1]  # then it stops reading
        for group in "bcdef":
            await create_groups(domain, group)
            await asyncio.sleep(0.01)  # commits a moment apart; the healthy one keeps up
        assert await keeping_up == [1, 2, 3, 4, 5, 6]
        feed = hub.feeds[TENANT]
        assert len(feed.live) == 1  # the slow one was dropped, its buffer with it
        with pytest.raises(ResourceExhausted) as ended:
            await anext(stuck)
        assert ended.value.reason_name == "SUBSCRIBER_TOO_SLOW"


async def test_closing_the_hub_ends_every_stream_for_a_restart(domain: Domain) -> None:
    hub = EventHub(domain.store, render, QUIET)
    stream = hub.subscribe(TENANT, WatchFilter(), None)
    await anext(stream)
    waiting = asyncio.create_task(anext(stream))
    await asyncio.sleep(0.05)
    hub.close()
    with pytest.raises(Exception, match="shutting down") as ended:
        await waiting
    assert getattr(ended.value, "reason_name", "") == "SERVER_SHUTTING_DOWN"
    assert hub.feeds == {}
