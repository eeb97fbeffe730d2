"""Fan-out: many concurrent WatchEvents subscribers on one server, each receiving every event.

Starts a modelyard server (SQLite in a temporary directory, or --database-url), opens
--subscribers streams through the SDK's AsyncWatch, spread over --clients processes (one
gRPC channel per 100 streams), then commits --events registrations one at a time and
records when each subscriber receives each event. Reports delivery latency per (subscriber,
event) from the commit (the entry's time, taken in the writing transaction just before it
commits) and from the writer's acknowledgement (after the commit), as p50/p99/max.

    .venv/bin/python bench/fanout.py                      # 1,000 subscribers, 20 events
    .venv/bin/python bench/fanout.py --subscribers 200 --database-url postgresql://...

Not a test: it asserts nothing about time, only that every subscriber got every event once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import modelyard

SERVER_BIN = Path(sys.executable).parent / "modelyard-server"
SERVING = re.compile(r"modelyard serving on (\S+):(\d+)")
STREAMS_PER_CHANNEL = 100
GROUP = "fanout"


@dataclass
class Received:
    """What one client process saw: per event seq, the receipt times of its subscribers."""

    times: dict[int, list[float]]
    subscribers: int
    repeats: int


def start_server(
    data_dir: Path, database_url: str | None, streams: int = 100
) -> tuple[subprocess.Popen[bytes], str]:
    """Starts a server that lets the one principal of the benchmark hold `streams` streams."""
    log = (data_dir / "server.log").open("wb")
    command = [str(SERVER_BIN), "--data-dir", str(data_dir), "--address", "127.0.0.1:0"]
    command += ["--watch-streams-per-principal", str(max(streams, 100))]
    if database_url:
        command += ["--database-url", database_url]
    process = subprocess.Popen(
        [*command, "serve"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        match = SERVING.search((data_dir / "server.log").read_text(errors="replace"))
        if match:
            return process, f"127.0.0.1:{match.group(2)}"
        if process.poll() is not None:
            break
        time.sleep(0.05)
    raise SystemExit((data_dir / "server.log").read_text())


def client(address: str, token: str, count: int, events: int, ready: Any, results: Any) -> None:
    """One client process: `count` subscribers; reports their receipt times."""
    results.put(asyncio.run(subscribe(address, token, count, events, ready)))


async def subscribe(address: str, token: str, count: int, events: int, ready: Any) -> Received:
    registries = [
        modelyard.AsyncRegistry(address, token=token, timeout=60)
        for _ in range(-(-count // STREAMS_PER_CHANNEL))
    ]
    watches = [
        await registries[i // STREAMS_PER_CHANNEL].watch(groups=[GROUP]) for i in range(count)
    ]
    times: dict[int, list[float]] = {}
    repeats = 0

    async def follow(watch: modelyard.AsyncWatch) -> None:
        nonlocal repeats
        seen: set[int] = set()
        async for event in watch:
            now = time.time()
            if event.seq in seen:
                repeats += 1
            seen.add(event.seq)
            times.setdefault(event.seq, []).append(now)
            if len(seen) == events:
                return

    ready.put(count)
    await asyncio.wait_for(asyncio.gather(*(follow(w) for w in watches)), timeout=300)
    for watch in watches:
        await watch.close()
    for registry in registries:
        await registry.close()
    return Received(times, count, repeats)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=4, help="client processes")
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--interval", type=float, default=0.25, help="seconds between commits")
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temp dir")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="modelyard-fanout-") as tmp:
        server, address = start_server(Path(tmp), args.database_url, streams=args.subscribers)
        try:
            token = (Path(tmp) / "admin.token").read_text().strip()
            figures = run(address, token, args)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(
        f"{figures['subscribers']} subscribers x {figures['events']} events "
        f"({figures['backend']}, {figures['clients']} client processes, {os.cpu_count()} cores)"
    )
    print(f"  every subscriber got every event once: {figures['complete']}")
    for basis in ("from_commit", "from_ack"):
        ms = figures[basis]
        print(
            f"  {basis.replace('_', ' '):12}  p50 {ms['p50']:7.1f} ms   "
            f"p99 {ms['p99']:7.1f} ms   max {ms['max']:7.1f} ms"
        )


def run(address: str, token: str, args: argparse.Namespace) -> dict[str, Any]:
    with modelyard.Registry(address, token=token) as registry:
        registry.create_group(GROUP)
        context = mp.get_context("spawn")
        ready, results = context.Queue(), context.Queue()
        shares = [args.subscribers // args.clients] * args.clients
        shares[0] += args.subscribers - sum(shares)
        processes = [
            context.Process(target=client, args=(address, token, n, args.events, ready, results))
            for n in shares
            if n
        ]
        for process in processes:
            process.start()
        subscribed = sum(ready.get(timeout=300) for _ in processes)
        acks: dict[int, float] = {}
        for i in range(args.events):
            version = registry.register(GROUP, uri=f"s3://bench/{i}", sha256=f"{i + 1:064x}")
            acked = time.time()
            seq = next(
                e.seq for e in registry.list_audit_events(resource=version.name, page_size=1)
            )
            acks[seq] = acked
            time.sleep(args.interval)
        received = [results.get(timeout=600) for _ in processes]
        for process in processes:
            process.join(timeout=60)
        committed = {
            e.seq: e.time.timestamp()
            for e in registry.list_audit_events(resource=f"groups/{GROUP}", page_size=1000)
            if e.seq in acks and e.time is not None
        }
    from_commit: list[float] = []
    from_ack: list[float] = []
    complete = subscribed == args.subscribers and not any(r.repeats for r in received)
    for part in received:
        for seq, times in part.times.items():
            complete = complete and len(times) == part.subscribers
            from_commit += [(t - committed[seq]) * 1000 for t in times]
            from_ack += [(t - acks[seq]) * 1000 for t in times]
    complete = complete and len(from_commit) == args.subscribers * args.events

    def summary(values: list[float]) -> dict[str, float]:
        return {
            "p50": statistics.median(values),
            "p99": percentile(values, 0.99),
            "max": max(values),
        }

    return {
        "subscribers": args.subscribers,
        "events": args.events,
        "clients": len(processes),
        "backend": "postgresql" if args.database_url else "sqlite",
        "complete": complete,
        "from_commit": summary(from_commit),
        "from_ack": summary(from_ack),
    }


if __name__ == "__main__":
    main()
