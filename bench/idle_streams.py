"""Idle streams: write latency with no event stream open, then with many idle ones.

Starts a modelyard server (one process, SQLite in a temporary directory), measures a
sequential `set_tag` loop (p50/p99 as the client sees each call), then opens --streams
WatchEvents streams through the SDK's AsyncWatch, spread over --clients processes, that
watch a group nobody writes to (idle: nothing to send but a heartbeat every 5 s), and
measures the same loop again. With --matching the streams watch the written group instead,
so that every write is an event for each of them (fan-out, not idle).

    .venv/bin/python bench/idle_streams.py                  # 2,000 idle streams
    .venv/bin/python bench/idle_streams.py --streams 500 --writes 500

Not a test: it asserts nothing about time, only that every stream was open throughout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import signal
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import modelyard
from fanout import start_server  # bench/ is the script's directory, first on sys.path

STREAMS_PER_CHANNEL = 100
WRITTEN, IDLE = "written", "idle"


def client(address: str, token: str, count: int, group: str, ready: Any, stop: Any) -> None:
    """One client process: holds `count` streams open until told to stop."""
    asyncio.run(hold(address, token, count, group, ready, stop))


async def hold(address: str, token: str, count: int, group: str, ready: Any, stop: Any) -> None:
    registries = [
        modelyard.AsyncRegistry(address, token=token, timeout=60)
        for _ in range(-(-count // STREAMS_PER_CHANNEL))
    ]
    watches = [
        await registries[i // STREAMS_PER_CHANNEL].watch(groups=[group]) for i in range(count)
    ]
    received = 0

    async def follow(watch: modelyard.AsyncWatch) -> None:
        nonlocal received
        async for _ in watch:
            received += 1

    followers = [asyncio.create_task(follow(w)) for w in watches]
    ready.put(count)
    await asyncio.to_thread(stop.wait)
    for watch in watches:
        await watch.close()
    await asyncio.gather(*followers)
    for registry in registries:
        await registry.close()
    ready.put(received)


def write_latencies(registry: modelyard.Registry, writes: int) -> list[float]:
    """Returns the latency in ms of each of `writes` sequential set_tag calls (after a warm-up)."""
    for i in range(30):
        registry.set_tag(WRITTEN, 1, "team", f"warm-{i}")
    latencies = []
    for i in range(writes):
        start = time.perf_counter()
        registry.set_tag(WRITTEN, 1, "team", f"t-{i}")
        latencies.append((time.perf_counter() - start) * 1000)
    return latencies


def summary(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "p50": round(statistics.median(ordered), 2),
        "p99": round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 2),
    }


def run(address: str, token: str, args: argparse.Namespace) -> dict[str, Any]:
    with modelyard.Registry(address, token=token) as registry:
        registry.create_group(WRITTEN)
        registry.create_group(IDLE)
        registry.register(WRITTEN, uri="s3://bench/1", sha256="1" * 64)
        without = summary(write_latencies(registry, args.writes))
        context = mp.get_context("spawn")
        ready, stop = context.Queue(), context.Event()
        group = WRITTEN if args.matching else IDLE
        shares = [args.streams // args.clients] * args.clients
        shares[0] += args.streams - sum(shares)
        processes = [
            context.Process(target=client, args=(address, token, n, group, ready, stop))
            for n in shares
            if n
        ]
        for process in processes:
            process.start()
        opened = sum(ready.get(timeout=300) for _ in processes)
        time.sleep(args.settle)  # let the streams' first heartbeats pass
        with_streams = summary(write_latencies(registry, args.writes))
        stop.set()
        received = sum(ready.get(timeout=120) for _ in processes)
        for process in processes:
            process.join(timeout=60)
    return {
        "streams": opened,
        "watching": group,
        "writes": args.writes,
        "events_received": received,
        "set_tag_ms_without_streams": without,
        "set_tag_ms_with_streams": with_streams,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--writes", type=int, default=300)
    parser.add_argument("--settle", type=float, default=6.0, help="seconds before measuring")
    parser.add_argument("--matching", action="store_true", help="streams watch the writes")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="modelyard-idle-") as tmp:
        server, address = start_server(Path(tmp), None, streams=args.streams)
        try:
            token = (Path(tmp) / "admin.token").read_text().strip()
            figures = run(address, token, args)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    figures["cores"] = os.cpu_count()
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
