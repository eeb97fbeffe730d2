"""The event hub: one shared read of new log entries per tenant, fanned out to every stream.

Each tenant with watchers has a feed. Woken after a commit (this process's, or another
replica's through NOTIFY) or by its slow poll, the feed reads the new entries once per batch
and hands them to every subscriber at the head. A subscriber behind the head (it resumed
from an old cursor) reads the log itself, in batches, until it reaches the feed's head, then
joins it. Entries are matched against each subscriber's filters when they are handed over;
a subscriber holds at most `buffer` entries waiting to be sent, and one that falls further
behind is ended (SUBSCRIBER_TOO_SLOW) so that it never slows the writers or the others.

Seq order is commit order (the chain-head lock serializes writers), so following
`seq > cursor` never skips an entry that commits late: no gaps, no duplicates.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from dataclasses import dataclass
from functools import cached_property
from typing import Generic, TypeVar

from modelyard.v1 import errors_pb2 as reasons

from modelyard_server.domain.errors import OutOfRange, ResourceExhausted, Unavailable
from modelyard_server.domain.repositories import Store
from modelyard_server.domain.watch import WatchFilter, touched_resources
from modelyard_server.log.chain import LogEntry

log = logging.getLogger("modelyard.events")

R = TypeVar("R")


@dataclass(frozen=True)
class HubSettings:
    """How often streams hear from the hub, and how much a subscriber may have waiting."""

    # A quiet stream hears a heartbeat after this long (up to a quarter of it later).
    heartbeat_seconds: float = 5.0
    # The safety net when a wakeup is lost (and the only wakeup for other processes on SQLite).
    poll_seconds: float = 1.0
    # Entries a subscriber at the head may have waiting to be sent before it is ended.
    buffer: int = 1000
    # Entries read from the log at once.
    batch: int = 500


class Event(Generic[R]):
    """One log entry on its way to the streams, rendered once however many receive it."""

    def __init__(self, entry: LogEntry, render: Callable[[LogEntry], R]) -> None:
        self.entry = entry
        self._render = render

    @cached_property
    def resources(self) -> frozenset[str]:
        return touched_resources(self.entry)

    @cached_property
    def rendered(self) -> R:
        return self._render(self.entry)


@dataclass(frozen=True)
class Heartbeat:
    """Every entry up to `seq` that matches the stream's filters has been delivered."""

    seq: int


class Subscriber(Generic[R]):
    """One stream's place in the log and, while it is at the head, its waiting events."""

    def __init__(self, wanted: WatchFilter, scanned: int) -> None:
        self.wanted = wanted
        # Every entry up to here was matched: sent, waiting in `pending`, or filtered out.
        self.scanned = scanned
        self.pending: deque[Event[R]] = deque()
        self.ready = asyncio.Event()
        self.live = False
        self.too_slow = False
        # When the stream last sent something: a heartbeat is due `heartbeat_seconds` later.
        self.quiet_since = time.monotonic()

    def offer(self, events: list[Event[R]], buffer: int) -> None:
        """Takes the events of a shared read that are new to it and match its filters, and
        wakes its stream only if there is something to send: a stream whose filters match
        none of them stays asleep (its next heartbeat reports them scanned)."""
        taken = False
        for event in events:
            seq = event.entry.seq
            if seq <= self.scanned:
                continue
            if self.wanted.matches(event.entry, event.resources):
                if len(self.pending) >= buffer:
                    self.too_slow = True
                    self.pending.clear()
                    taken = True
                    break
                self.pending.append(event)
                taken = True
            self.scanned = seq
        if taken:
            self.ready.set()


class Feed(Generic[R]):
    """The shared reader of one tenant's log."""

    def __init__(self, hub: EventHub[R], tenant: str) -> None:
        self.hub = hub
        self.tenant = tenant
        self.head = 0  # the newest seq read; set from the first subscriber's read of the head
        self.started = asyncio.Event()
        self.wakeup = asyncio.Event()
        self.live: set[Subscriber[R]] = set()
        # The live subscribers by the groups they watch (those without a group filter are in
        # `everyone`): a batch is offered only to those that may want one of its entries, so
        # a write costs nothing for the streams that watch other groups.
        self.by_group: dict[str, set[Subscriber[R]]] = {}
        self.everyone: set[Subscriber[R]] = set()
        self.members = 0
        self.task: asyncio.Task[None] | None = None

    async def read(self, after: int) -> list[LogEntry]:
        async with self.hub.store.lookup(self.tenant) as reader:
            return await reader.log.range(after, self.hub.batch)

    async def read_head(self) -> int:
        async with self.hub.store.lookup(self.tenant) as reader:
            return (await reader.log.head())[0]

    async def run(self) -> None:
        """Reads new entries whenever woken (or polled) and offers them to the live subscribers;
        wakes those that are due a heartbeat."""
        beats = asyncio.create_task(self.beat(), name=f"event feed {self.tenant} heartbeats")
        try:
            await self.follow()
        finally:
            beats.cancel()

    async def beat(self) -> None:
        """Wakes the live subscribers that have been quiet for `heartbeat_seconds`, a quarter of
        that interval late at most. One timer for the feed: a timer per waiting stream cost
        every stream a timer for every event it was sent."""
        interval = self.hub.settings.heartbeat_seconds
        while True:
            await asyncio.sleep(interval / 4)
            due = time.monotonic() - interval
            for subscriber in self.live:
                if subscriber.quiet_since <= due:
                    subscriber.ready.set()

    async def follow(self) -> None:
        settings = self.hub.settings
        pause = 0.1
        await self.started.wait()
        while True:
            try:
                self.wakeup.clear()
                await self.catch_up()
                pause = 0.1
            except Exception as error:  # the database went away: keep the streams, retry
                log.warning("event feed of tenant %r cannot read the log: %s", self.tenant, error)
                await asyncio.sleep(pause)
                pause = min(pause * 2, settings.poll_seconds * 5)
                continue
            try:
                async with asyncio.timeout(settings.poll_seconds):
                    await self.wakeup.wait()
            except TimeoutError:
                pass

    async def catch_up(self) -> None:
        batch_size = self.hub.batch
        while True:
            batch = await self.read(self.head)
            if not batch:
                return
            events = [Event(entry, self.hub.render) for entry in batch]
            for subscriber in self.interested(events):
                subscriber.offer(events, self.hub.settings.buffer)
                if subscriber.too_slow:
                    self.leave(subscriber)
            self.head = batch[-1].seq
            if len(batch) < batch_size:
                return
            await asyncio.sleep(0)  # let the streams send before the next batch arrives

    def start_at(self, head: int) -> None:
        """Starts reading after `head`, a committed seq, unless it has started already."""
        if not self.started.is_set():
            self.head = head
            self.started.set()

    def interested(self, events: list[Event[R]]) -> set[Subscriber[R]]:
        """Returns the live subscribers whose group filter lets some of the events through."""
        found = set(self.everyone)
        for group in {event.entry.group for event in events}:
            found.update(self.by_group.get(group, ()))
        return found

    def join(self, subscriber: Subscriber[R]) -> None:
        """Makes a subscriber that has read up to the head one the feed serves."""
        subscriber.live = True
        self.live.add(subscriber)
        for group in subscriber.wanted.groups:
            self.by_group.setdefault(group, set()).add(subscriber)
        if not subscriber.wanted.groups:
            self.everyone.add(subscriber)

    def leave(self, subscriber: Subscriber[R]) -> None:
        """Stops serving a subscriber (it ended, or fell too far behind)."""
        self.live.discard(subscriber)
        self.everyone.discard(subscriber)
        for group in subscriber.wanted.groups:
            members = self.by_group.get(group)
            if members is not None:
                members.discard(subscriber)
                if not members:
                    del self.by_group[group]


class EventHub(Generic[R]):
    """Serves every stream of this process from one feed per tenant."""

    def __init__(
        self, store: Store, render: Callable[[LogEntry], R], settings: HubSettings | None = None
    ) -> None:
        self.store = store
        self.render = render
        self.settings = settings or HubSettings()
        # One batch never overflows a subscriber that has kept up.
        self.batch = max(1, min(self.settings.batch, self.settings.buffer))
        self.feeds: dict[str, Feed[R]] = {}
        self.closing = False

    def head(self, tenant: str) -> int:
        """The newest seq this process has read of the tenant's log (0 before any stream)."""
        feed = self.feeds.get(tenant)
        return feed.head if feed is not None else 0

    def wake(self, tenant: str | None = None) -> None:
        """Tells the feed of `tenant` (every feed when None) that entries may have committed."""
        if tenant is None:
            for feed in self.feeds.values():
                feed.wakeup.set()
        elif tenant in self.feeds:
            self.feeds[tenant].wakeup.set()

    def close(self) -> None:
        """Ends every stream with SERVER_SHUTTING_DOWN and stops the feeds."""
        self.closing = True
        for feed in self.feeds.values():
            for subscriber in feed.live:
                subscriber.ready.set()
            if feed.task is not None:
                feed.task.cancel()
        self.feeds.clear()

    def _enter(self, tenant: str) -> Feed[R]:
        feed = self.feeds.get(tenant)
        if feed is None:
            feed = Feed(self, tenant)
            self.feeds[tenant] = feed
            feed.task = asyncio.create_task(feed.run(), name=f"event feed {tenant}")
        feed.members += 1
        return feed

    def _leave(self, feed: Feed[R], subscriber: Subscriber[R]) -> None:
        feed.leave(subscriber)
        subscriber.pending.clear()
        feed.members -= 1
        if feed.members == 0 and self.feeds.get(feed.tenant) is feed:
            del self.feeds[feed.tenant]
            if feed.task is not None:
                feed.task.cancel()

    def _check_open(self) -> None:
        if self.closing:
            raise Unavailable(
                reasons.SERVER_SHUTTING_DOWN,
                "the server is shutting down; resume the stream from your cursor",
            )

    async def subscribe(
        self, tenant: str, wanted: WatchFilter, start_after: int | None
    ) -> AsyncGenerator[Event[R] | Heartbeat]:
        """Yields a heartbeat with the starting seq, then every matching entry after it, in seq
        order, with heartbeats whenever the stream has been quiet for `heartbeat_seconds`.

        `start_after` None means from the head of the log now.
        """
        self._check_open()
        feed = self._enter(tenant)
        subscriber: Subscriber[R] = Subscriber(wanted, 0)
        try:
            head = await feed.read_head()
            if start_after is not None and start_after > head:
                raise OutOfRange(
                    reasons.CURSOR_AHEAD_OF_LOG,
                    f"start_after {start_after} is beyond the head of the log ({head}): the "
                    "cursor comes from another log; start again without start_after",
                    metadata={"head_seq": str(head)},
                )
            feed.start_at(head)
            subscriber.scanned = head if start_after is None else start_after
            if subscriber.scanned >= feed.head:
                feed.join(subscriber)  # at the head already: from now on the feed reads for it
            yield Heartbeat(subscriber.scanned)
            async with aclosing(self._follow(feed, subscriber)) as items:
                async for item in items:
                    yield item
        finally:
            self._leave(feed, subscriber)

    async def _follow(
        self, feed: Feed[R], subscriber: Subscriber[R]
    ) -> AsyncGenerator[Event[R] | Heartbeat]:
        settings = self.settings
        subscriber.quiet_since = time.monotonic()
        while True:
            self._check_open()
            if not subscriber.live:
                if subscriber.scanned >= feed.head:
                    feed.join(subscriber)
                    continue
                batch = await feed.read(subscriber.scanned)
                if not batch:  # the feed's head is always readable; give the database a moment
                    await asyncio.sleep(0.05)
                for entry in batch:
                    event = Event(entry, self.render)
                    if subscriber.wanted.matches(entry, event.resources):
                        yield event
                        subscriber.quiet_since = time.monotonic()
                    subscriber.scanned = entry.seq
                if time.monotonic() - subscriber.quiet_since >= settings.heartbeat_seconds:
                    yield Heartbeat(subscriber.scanned)
                    subscriber.quiet_since = time.monotonic()
                continue
            if subscriber.too_slow:
                raise ResourceExhausted(
                    reasons.SUBSCRIBER_TOO_SLOW,
                    f"the stream fell more than {settings.buffer} events behind; "
                    "resume from the last seq you processed",
                    metadata={"buffer": str(settings.buffer)},
                )
            if subscriber.pending:
                yield subscriber.pending.popleft()
                subscriber.quiet_since = time.monotonic()
                continue
            subscriber.ready.clear()
            if time.monotonic() - subscriber.quiet_since >= settings.heartbeat_seconds:
                # Nothing waits to be sent, and the feed offers this subscriber every entry of
                # the groups it watches: all up to the feed's head is scanned, even what was
                # never offered to it.
                yield Heartbeat(max(subscriber.scanned, feed.head))
                subscriber.quiet_since = time.monotonic()
                continue
            # Woken by an offer, by the feed's heartbeat timer or by the hub closing.
            await subscriber.ready.wait()
