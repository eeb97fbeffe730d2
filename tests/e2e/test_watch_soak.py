"""The soak: writers moving versions between stages while subscribers with all kinds of
filters are disconnected and reconnected at random; each must end with exactly the log's
sequence of its matching events, with no gap and no repeat."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from modelyard import Action, AsyncRegistry, AsyncWatch, AuditEvent

from tests.support.events import touched
from tests.support.factory import BACKENDS, ServerFactory
from tests.support.servers import Server

GROUPS = ["alpha", "beta", "gamma", "delta"]
WRITERS = 8
MOVES = 40  # per writer: STAGING, ARCHIVED, STAGING, ...
SUBSCRIBERS = 20
DISCONNECTS = 100


@dataclass
class Subscriber:
    """One subscriber's filters, where it starts, when it is cut off, and what it received."""

    filters: dict[str, list[str]]
    wanted: Callable[[AuditEvent], bool]
    start_after: int | None
    cut_after_writes: list[int]
    received: list[int] = field(default_factory=list)
    sessions: int = 0
    pinned: int | None = None  # where its first watch started


def subscribers(rng: random.Random, versions: list[str], origin: int) -> list[Subscriber]:
    """Returns subscribers with varied filters and starts, sharing DISCONNECTS cut-offs."""

    def in_groups(*groups: str) -> Callable[[AuditEvent], bool]:
        return lambda e: e.group.removeprefix("groups/") in groups

    def about(version: str) -> Callable[[AuditEvent], bool]:
        return lambda e: version in touched(e)

    def moves(e: AuditEvent) -> bool:
        return e.action == Action.STAGE_CHANGED

    kinds: list[tuple[dict[str, list[str]], Callable[[AuditEvent], bool]]] = [
        ({"groups": [group]}, in_groups(group)) for group in GROUPS
    ]
    kinds.append(({}, in_groups(*GROUPS)))
    kinds.append(({"groups": GROUPS[:2]}, in_groups(*GROUPS[:2])))
    kinds.append(({"groups": GROUPS, "actions": ["STAGE_CHANGED"]}, moves))
    kinds.extend(({"versions": [name]}, about(name)) for name in versions[:3])
    cuts = [rng.randrange(WRITERS * MOVES) for _ in range(DISCONNECTS)]
    made = []
    for i in range(SUBSCRIBERS):
        filters, wanted = kinds[i % len(kinds)]
        start = (None, origin, 0)[i % 3]  # from now, from a cursor, from the beginning
        made.append(Subscriber(filters, wanted, start, sorted(cuts[i::SUBSCRIBERS])))
    return made


async def follow(
    registry: AsyncRegistry,
    subscriber: Subscriber,
    writes: list[int],
    final_head: asyncio.Future[int],
    connected: asyncio.Semaphore,
) -> None:
    """Watches until the cursor reaches the final head, closing the stream at each cut-off
    and resuming from the cursor the closed watch reports, as a user who persists it would."""
    cursor = subscriber.start_after
    while True:
        watch = await registry.watch(start_after=cursor, **subscriber.filters)  # type: ignore[arg-type]
        subscriber.sessions += 1
        if subscriber.pinned is None:
            subscriber.pinned = watch.cursor
            connected.release()
        closer = asyncio.create_task(close_when_due(watch, subscriber, writes, final_head))
        async for event in watch:
            subscriber.received.append(event.seq)
        await closer
        cursor = watch.cursor
        if final_head.done() and (cursor or 0) >= final_head.result():
            return


async def close_when_due(
    watch: AsyncWatch, subscriber: Subscriber, writes: list[int], final_head: asyncio.Future[int]
) -> None:
    while True:
        if subscriber.cut_after_writes and writes[0] >= subscriber.cut_after_writes[0]:
            subscriber.cut_after_writes.pop(0)
            break
        if final_head.done() and (watch.cursor or 0) >= final_head.result():
            break
        await asyncio.sleep(0.01)
    await watch.close()


# Its own 60 s bound is on the soak alone; starting and stopping the server come on top.
@pytest.mark.timeout(180)
@pytest.mark.parametrize("backend", BACKENDS)
def test_subscribers_cut_off_at_random_end_with_exactly_their_events(
    server_factory: ServerFactory, backend: str
) -> None:
    with server_factory(backend, process=True, heartbeat_seconds="0.2") as server:
        asyncio.run(soak(server))


async def soak(server: Server) -> None:
    """Runs the writers and the subscribers, then checks what each subscriber received."""
    rng = random.Random(5)
    async with AsyncRegistry(server.address, token=server.token) as registry:
        for group in GROUPS:
            await registry.create_group(group)
        versions = [
            (
                await registry.register(
                    GROUPS[i % len(GROUPS)], uri=f"s3://m/{i}", sha256=f"{i + 1:064x}"
                )
            ).name
            for i in range(WRITERS)
        ]
        origin = (await registry.verify_audit_log()).head_seq
        subs = subscribers(rng, versions, origin)
        writes = [0]
        final_head: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        async def write(name: str) -> None:
            for move in range(MOVES):
                await registry.transition(name, "staging" if move % 2 == 0 else "archived")
                writes[0] += 1

        connected = asyncio.Semaphore(0)
        async with asyncio.timeout(60):
            followers = [
                asyncio.create_task(follow(registry, s, writes, final_head, connected))
                for s in subs
            ]
            for _ in subs:  # every subscriber is watching before the first write
                await connected.acquire()
            await asyncio.gather(*(write(name) for name in versions))
            final_head.set_result((await registry.verify_audit_log()).head_seq)
            await asyncio.gather(*followers)
        pager = await registry.list_audit_events(page_size=1000)
        log = [event async for event in pager]

    assert final_head.result() == origin + WRITERS * MOVES
    assert sum(s.sessions for s in subs) == SUBSCRIBERS + DISCONNECTS
    for i, sub in enumerate(subs):
        start = sub.pinned
        assert start == (origin if sub.start_after is None else sub.start_after)
        expected = [e.seq for e in log if e.seq > start and sub.wanted(e)]
        assert sub.received == expected, f"subscriber {i} ({sub.filters}, from {start})"
