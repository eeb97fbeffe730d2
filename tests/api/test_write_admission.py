"""Reads first: while reads are being answered, at most --max-concurrent-writes calls that
change the registry run at once in a server process; the others wait their turn, first come
first served, without having started. Reads are never held, and with no reads to favour,
writes are not held either.

A write is held on PostgreSQL: the test takes the row lock of the tenant's log head that
every write takes, so the admitted write waits on the database while the server's event loop
stays free, and what happens to the next calls can be watched.
"""

from __future__ import annotations

import asyncio
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager

import asyncpg
import modelyard
import pytest
from modelyard import AsyncRegistry, ModelVersion
from prometheus_client.parser import text_string_to_metric_families

from tests.support.cli import free_address
from tests.support.factory import ServerFactory
from tests.support.inprocess import InProcessServer
from tests.support.versions import sha

ON_POSTGRES = pytest.mark.parametrize("backend", ["postgres"])


def metric(metrics_address: str, name: str, **labels: str) -> float:
    """A sample the server's /metrics reports now (0 for a labelled one not seen yet)."""
    with urllib.request.urlopen(f"http://{metrics_address}/metrics", timeout=10) as response:
        text = response.read().decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and labels.items() <= sample.labels.items():
                return sample.value
    if labels:
        return 0.0
    raise AssertionError(f"the server reports no {name}")


def writes_waiting(metrics_address: str) -> float:
    return metric(metrics_address, "modelyard_writes_waiting")


def registrations_started(metrics_address: str) -> float:
    return metric(metrics_address, "grpc_server_started_total", grpc_method="CreateModelVersion")


async def until(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    for _ in range(400):
        if await condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{what} did not happen within 20 s")


class Held:
    """The tenant's log head locked by the test: the writes that reach it wait."""

    def __init__(self, watcher: asyncpg.Connection) -> None:
        self.watcher = watcher

    async def blocked(self) -> int:
        """How many of the server's statements wait for a lock."""
        return int(
            await self.watcher.fetchval(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
        )


@asynccontextmanager
async def writes_held(server: InProcessServer) -> AsyncIterator[Held]:
    """Holds every write at the log head's lock until the block ends."""
    locker = await asyncpg.connect(server.database_url)
    # Who waits is asked outside the locker's transaction: a transaction sees
    # pg_stat_activity as it was when it first looked.
    watcher = await asyncpg.connect(server.database_url)
    try:
        async with locker.transaction():
            await locker.execute("SELECT 1 FROM chain_heads FOR UPDATE")
            yield Held(watcher)
    finally:
        await locker.close()
        await watcher.close()


@pytest.fixture
def one_write_at_a_time(
    server_factory: ServerFactory, backend: str
) -> Iterator[tuple[InProcessServer, str]]:
    """A server that admits one write at a time while reads go on, and its metrics' address."""
    metrics = free_address()
    with server_factory(backend, metrics_address=metrics, max_concurrent_writes="1") as server:
        yield server, metrics


def registering(registry: AsyncRegistry, group: str) -> Callable[..., asyncio.Task[ModelVersion]]:
    def register(seed: int, timeout: float = 60) -> asyncio.Task[ModelVersion]:
        call = registry.register(group, uri=f"s3://m/{seed}", sha256=sha(seed), timeout=timeout)
        return asyncio.ensure_future(call)

    return register


@ON_POSTGRES
async def test_while_reads_go_on_a_write_beyond_the_limit_waits_unstarted(
    one_write_at_a_time: tuple[InProcessServer, str], unique_group: str
) -> None:
    server, metrics = one_write_at_a_time

    async def waiting() -> float:
        return await asyncio.to_thread(writes_waiting, metrics)

    async with AsyncRegistry(server.address, token=server.token) as registry:
        await registry.create_group(unique_group)
        await registry.register(unique_group, uri="s3://m/1", sha256=sha(1))
        register = registering(registry, unique_group)

        async def read() -> None:
            assert (await registry.get_version(unique_group, 1, timeout=10)).version == 1

        async with writes_held(server) as held:
            admitted = register(2)
            await until(lambda: _equals(held.blocked(), 1), "the write reaching the lock")
            await read()
            queued = register(3)
            await until(lambda: _equals(waiting(), 1), "the second write waiting its turn")
            # A third gives up while it waits: it ends unstarted, nothing of it written.
            await read()
            with pytest.raises(modelyard.DeadlineExceeded):
                await register(4, timeout=1.0)
            # Reads go on: neither held by the limit nor behind the writes.
            await read()
            listed = [
                v.version async for v in await registry.list_versions(unique_group, timeout=10)
            ]
            assert listed == [1]
            assert not admitted.done() and not queued.done()
            assert await held.blocked() == 1  # the queued write never reached the database
            assert await waiting() == 1
        # In the order they came: the held write first, then the one that waited.
        assert [(await admitted).version, (await queued).version] == [2, 3]
        assert await waiting() == 0
        stored = [v async for v in await registry.list_versions(unique_group)]
        assert sorted(v.artifact.sha256 for v in stored) == sorted(sha(n) for n in (1, 2, 3))
        assert (await registry.verify_audit_log(full=True)).ok


@ON_POSTGRES
async def test_with_no_reads_to_favour_writes_are_not_held(
    one_write_at_a_time: tuple[InProcessServer, str], unique_group: str
) -> None:
    server, metrics = one_write_at_a_time
    async with AsyncRegistry(server.address, token=server.token) as registry:
        await registry.create_group(unique_group)
        register = registering(registry, unique_group)

        async def started() -> float:
            return await asyncio.to_thread(registrations_started, metrics)

        async with writes_held(server) as held:
            first = register(1)
            await until(lambda: _equals(held.blocked(), 1), "the write reaching the lock")
            before = await started()
            second = register(2)
            await until(lambda: _equals(started(), before + 1), "the second write arriving")
            # Admitted, it queues behind the first for the database transaction (the group
            # commit's turn), not at the door: nothing is counted as waiting to start.
            for _ in range(10):
                assert await asyncio.to_thread(writes_waiting, metrics) == 0
                await asyncio.sleep(0.05)
            assert not first.done() and not second.done()
        assert [(await first).version, (await second).version] == [1, 2]


async def _equals(value: Awaitable[float], expected: float) -> bool:
    return await value == expected
