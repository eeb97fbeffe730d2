"""At most --max-concurrent-writes calls that change the registry run at once in a server
process: the others wait their turn, first come first served, without having started, and
reads are never held behind them.

A write is held on PostgreSQL: the test takes the row lock of the tenant's log head that
every write takes, so the admitted write waits on the database while the server's event loop
stays free, and what happens to the next calls can be watched.
"""

from __future__ import annotations

import asyncio
import urllib.request
from collections.abc import Awaitable, Callable, Iterator

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


def writes_waiting(metrics_address: str) -> float:
    with urllib.request.urlopen(f"http://{metrics_address}/metrics", timeout=10) as response:
        text = response.read().decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "modelyard_writes_waiting":
                return sample.value
    raise AssertionError("the server reports no modelyard_writes_waiting")


async def until(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    for _ in range(400):
        if await condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{what} did not happen within 20 s")


@pytest.fixture
def one_write_at_a_time(
    server_factory: ServerFactory, backend: str
) -> Iterator[tuple[InProcessServer, str]]:
    """A server that admits one write at a time, and the address of its metrics."""
    metrics = free_address()
    with server_factory(backend, metrics_address=metrics, max_concurrent_writes="1") as server:
        yield server, metrics


@ON_POSTGRES
async def test_a_write_beyond_the_limit_waits_unstarted_while_reads_go_on(
    one_write_at_a_time: tuple[InProcessServer, str], unique_group: str
) -> None:
    server, metrics = one_write_at_a_time
    async with AsyncRegistry(server.address, token=server.token) as registry:
        await registry.create_group(unique_group)
        await registry.register(unique_group, uri="s3://m/1", sha256=sha(1))

        def register(seed: int, timeout: float = 60) -> asyncio.Task[ModelVersion]:
            call = registry.register(
                unique_group, uri=f"s3://m/{seed}", sha256=sha(seed), timeout=timeout
            )
            return asyncio.ensure_future(call)

        async def waiting() -> float:
            return await asyncio.to_thread(writes_waiting, metrics)

        locker = await asyncpg.connect(server.database_url)
        # Who waits is asked outside the locker's transaction: a transaction sees
        # pg_stat_activity as it was when it first looked.
        watcher = await asyncpg.connect(server.database_url)
        try:
            held = locker.transaction()
            await held.start()
            await locker.execute("SELECT 1 FROM chain_heads FOR UPDATE")

            async def blocked_on_the_lock() -> int:
                return int(
                    await watcher.fetchval(
                        "SELECT count(*) FROM pg_stat_activity"
                        " WHERE wait_event_type = 'Lock' AND datname = current_database()"
                    )
                )

            admitted = register(2)
            await until(lambda: _equals(blocked_on_the_lock(), 1), "the write reaching the lock")
            queued = register(3)
            await until(lambda: _equals(waiting(), 1), "the second write waiting its turn")
            # A third gives up while it waits: it ends unstarted, nothing of it written.
            with pytest.raises(modelyard.DeadlineExceeded):
                await register(4, timeout=1.0)
            # Reads go on: neither held by the limit nor behind the writes.
            assert (await registry.get_version(unique_group, 1, timeout=10)).version == 1
            assert [
                v.version async for v in await registry.list_versions(unique_group, timeout=10)
            ] == [1]
            assert not admitted.done() and not queued.done()
            assert await blocked_on_the_lock() == 1  # the queued write never reached it
            assert await waiting() == 1
            await held.rollback()
        finally:
            await locker.close()
            await watcher.close()
        # In the order they came: the held write first, then the one that waited.
        assert [(await admitted).version, (await queued).version] == [2, 3]
        assert await waiting() == 0
        stored = [v async for v in await registry.list_versions(unique_group)]
        assert sorted(v.artifact.sha256 for v in stored) == sorted(sha(n) for n in (1, 2, 3))
        assert (await registry.verify_audit_log(full=True)).ok


async def _equals(value: Awaitable[float], expected: float) -> bool:
    return await value == expected
