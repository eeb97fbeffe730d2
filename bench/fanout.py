"""Fan-out: many concurrent WatchEvents subscribers on one server, each receiving every event.

Starts a modelyard server (SQLite in a temporary directory, or --database-url), opens
--subscribers streams through the SDK's AsyncWatch, spread over --clients processes (one
gRPC channel per 100 streams), then commits --events registrations one at a time and
records when each subscriber receives each event. Reports delivery latency per (subscriber,
event) from the commit (the entry's time, taken in the writing transaction just before it
commits) and from the writer's acknowledgement (after the commit), as p50/p99/max.

    .venv/bin/python bench/fanout.py                      # 1,000 subscribers, 20 events
    .venv/bin/python bench/fanout.py --subscribers 200 --database-url postgresql://...
    .venv/bin/python bench/fanout.py --limit              # the same on a bare gRPC server

--limit measures the same shape (processes, channels, streams, events, message size) on
empty_server.py's Fanout service instead: no modelyard, no SDK, no log, the event's bytes
serialized once. That is the limit of this machine and of gRPC's Python stack, as the
empty RPC is for calls; "commit" there is the moment the publisher sends the event.

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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import modelyard
from empty_server import FANOUT_PUBLISH, FANOUT_WATCH, as_is  # bench/ is first on sys.path
from google.protobuf.struct_pb2 import Struct
from google.protobuf.timestamp_pb2 import Timestamp
from modelyard.v1 import registry_service_pb2 as rs
from modelyard.v1 import resources_pb2 as pb
from procs import Server, cpu_seconds, free_port, tcp_accepts

SERVER_BIN = Path(sys.executable).parent / "modelyard-server"
SERVING = re.compile(r"modelyard serving on (\S+):(\d+)")
STREAMS_PER_CHANNEL = 100
GROUP = "fanout"


@dataclass
class Received:
    """What one client process saw: per event seq, the receipt times of its subscribers; and
    the CPU time it spent from subscribed to the last receipt."""

    times: dict[int, list[float]]
    subscribers: int
    repeats: int
    cpu_seconds: float


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


def client(
    address: str, token: str | None, count: int, events: int, ready: Any, results: Any
) -> None:
    """One client process: `count` subscribers (bare streams without a token); reports
    their receipt times."""
    if token is None:
        results.put(asyncio.run(subscribe_bare(address, count, events, ready)))
    else:
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
    cpu = time.process_time()
    await asyncio.wait_for(asyncio.gather(*(follow(w) for w in watches)), timeout=300)
    cpu = time.process_time() - cpu
    for watch in watches:
        await watch.close()
    for registry in registries:
        await registry.close()
    return Received(times, count, repeats, cpu)


async def subscribe_bare(address: str, count: int, events: int, ready: Any) -> Received:
    """The limit's subscribers: grpc's own streams, each message parsed as the SDK must."""
    channels = [grpc.aio.insecure_channel(address) for _ in range(-(-count // STREAMS_PER_CHANNEL))]
    calls = []
    for i in range(count):
        watch = channels[i // STREAMS_PER_CHANNEL].unary_stream(
            FANOUT_WATCH,
            request_serializer=as_is,
            response_deserializer=rs.WatchEventsResponse.FromString,
        )
        call = watch(b"")
        await call.read()  # the opening message: the server has this stream in its set
        calls.append(call)
    times: dict[int, list[float]] = {}
    repeats = 0

    async def follow(call: Any) -> None:
        nonlocal repeats
        seen: set[int] = set()
        while len(seen) < events:
            message = await call.read()
            now = time.time()
            seq = message.event.seq
            if seq in seen:
                repeats += 1
            seen.add(seq)
            times.setdefault(seq, []).append(now)

    ready.put(count)
    cpu = time.process_time()
    await asyncio.wait_for(asyncio.gather(*(follow(c) for c in calls)), timeout=300)
    cpu = time.process_time() - cpu
    for call in calls:
        call.cancel()
    for channel in channels:
        await channel.close(None)
    return Received(times, count, repeats, cpu)


def limit_event(seq: int, sent: float) -> bytes:
    """A WatchEvents message the size of modelyard's for a registration."""
    after = Struct()
    after.update(
        {
            "name": f"groups/{GROUP}/versions/{seq}",
            "uri": f"s3://bench/{seq}",
            "sha256": f"{seq:064x}",
            "stage": "STAGE_NONE",
            "approval": "APPROVAL_PENDING",
            "created_by": "admin",
            "create_time": "2026-01-01T00:00:00Z",
        }
    )
    stamp = Timestamp()
    stamp.FromNanoseconds(int(sent * 1e9))
    event = pb.AuditEvent(
        seq=seq,
        time=stamp,
        actor="admin",
        action=pb.ACTION_MODEL_VERSION_CREATED,
        resource=f"groups/{GROUP}/versions/{seq}",
        group=f"groups/{GROUP}",
        version=seq,
        after=after,
        request_id=f"{seq:032x}",
        prev_hash=f"{seq - 1:064x}",
        hash=f"{seq:064x}",
    )
    return rs.WatchEventsResponse(event=event).SerializeToString()


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
    parser.add_argument(
        "--limit", action="store_true", help="the same streams on a bare gRPC server instead"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="modelyard-fanout-") as tmp:
        if args.limit:
            figures = measure_limit(Path(tmp), args)
        else:
            server, address = start_server(Path(tmp), args.database_url, streams=args.subscribers)
            try:
                token = (Path(tmp) / "admin.token").read_text().strip()
                figures = run(address, token, args, server.pid)
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
    cpu = figures["cpu_us_per_receipt"]
    print(f"  CPU per receipt: server {cpu['server']} us, clients {cpu['clients']} us")
    for basis in ("from_commit", "from_ack"):
        ms = figures[basis]
        print(
            f"  {basis.replace('_', ' '):12}  p50 {ms['p50']:7.1f} ms   "
            f"p99 {ms['p99']:7.1f} ms   max {ms['max']:7.1f} ms"
        )


def measure_limit(data_dir: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Runs the streams against empty_server.py, whose Fanout service is the limit."""
    port = free_port()
    address = f"127.0.0.1:{port}"
    server = Server(
        "empty server",
        [sys.executable, str(Path(__file__).with_name("empty_server.py")), "--address", address],
        data_dir / "empty-server.log",
    )
    try:
        server.wait_ready(tcp_accepts(port), timeout_s=30)
        return run_limit(address, args, server.pid)
    finally:
        server.stop()


def run(address: str, token: str, args: argparse.Namespace, server_pid: int) -> dict[str, Any]:
    with modelyard.Registry(address, token=token) as registry:
        registry.create_group(GROUP)
        names: list[str] = []

        def commit(i: int) -> float:
            version = registry.register(GROUP, uri=f"s3://bench/{i}", sha256=f"{i + 1:064x}")
            names.append(version.name)
            return time.time()

        subscribed, acked, received, server_cpu = drive(address, token, args, commit, server_pid)
        # Afterwards, so that finding a seq does not slow the commits down: each registration's
        # entry in the log, with the time it was written in the committing transaction.
        logged = {
            e.resource: e
            for e in registry.list_audit_events(resource=f"groups/{GROUP}", page_size=1000)
        }
    seqs = [logged[name].seq for name in names]
    acks = dict(zip(seqs, acked, strict=True))
    committed = {
        logged[name].seq: when.timestamp() for name in names if (when := logged[name].time)
    }
    backend = "postgresql" if args.database_url else "sqlite"
    return summarize(args, backend, subscribed, acks, committed, received, server_cpu)


def run_limit(address: str, args: argparse.Namespace, server_pid: int) -> dict[str, Any]:
    sent: dict[int, float] = {}
    with grpc.insecure_channel(address) as channel:
        publish = channel.unary_unary(
            FANOUT_PUBLISH, request_serializer=as_is, response_deserializer=as_is
        )

        def commit(i: int) -> float:
            sent[i + 1] = time.time()
            publish(limit_event(i + 1, sent[i + 1]), timeout=30)
            return time.time()

        subscribed, acked, received, server_cpu = drive(address, None, args, commit, server_pid)
    acks = {i + 1: t for i, t in enumerate(acked)}
    return summarize(args, "limit", subscribed, acks, sent, received, server_cpu)


def drive(
    address: str,
    token: str | None,
    args: argparse.Namespace,
    commit: Callable[[int], float],
    server_pid: int,
) -> tuple[int, list[float], list[Received], float]:
    """Opens the subscribers' processes, makes --events commits --interval apart (`commit`
    makes the i-th and returns when it was acknowledged), and returns how many subscribed,
    when each commit was acknowledged, what each process saw, and the CPU seconds the
    server spent meanwhile."""
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
    server_cpu = cpu_seconds(server_pid)
    acks: list[float] = []
    for i in range(args.events):
        acks.append(commit(i))
        time.sleep(args.interval)
    received = [results.get(timeout=600) for _ in processes]
    server_cpu = cpu_seconds(server_pid) - server_cpu
    for process in processes:
        process.join(timeout=60)
    return subscribed, acks, received, server_cpu


def summarize(
    args: argparse.Namespace,
    backend: str,
    subscribed: int,
    acks: dict[int, float],
    committed: dict[int, float],
    received: list[Received],
    server_cpu: float,
) -> dict[str, Any]:
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
        "clients": len(received),
        "backend": backend,
        "complete": complete,
        "from_commit": summary(from_commit),
        "from_ack": summary(from_ack),
        # CPU per stream message, commits and heartbeats included, while the events went out.
        "cpu_us_per_receipt": {
            "server": round(server_cpu / len(from_commit) * 1e6, 1),
            "clients": round(sum(r.cpu_seconds for r in received) / len(from_commit) * 1e6, 1),
        },
    }


if __name__ == "__main__":
    main()
