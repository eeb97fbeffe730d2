"""Sequential reads against the empty-RPC limit, interleaved over server source trees (issue 15).

    ../.venv/bin/python reads.py [--src LABEL=DIR ...] [--calls 3000] [--rounds 3]

Seeds one SQLite data directory (`modelyard-server import`: 100 versions with 5 tags and 5
metrics in `bench`, 10,000 with the main run's tags in `bench-list`) and then, each round:
the empty RPC (empty_server.py, the sync channel the SDK uses, a bearer token and a
deadline per call), then for each source tree a server (`serve`, one process) on a fresh
copy of that directory, timed through `modelyard.Registry`: `get_version` (versions 1..100
in turn), `by_alias` (`champion` -> 1) and the first page of `list_versions` filtered by
`tags.team = "risk"` (100 of 10,000; a third as many calls). Each op: 300 untimed calls,
then the p50 of the timed ones, and the server's CPU per call (/proc, all its threads).
Prints the median of the rounds per op and its fraction of the limit of the same session.
`--src LABEL=DIR` runs the server from another tree's `server/` (PYTHONPATH=DIR, e.g. an
older commit unpacked with `git archive`); without it, the installed server.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
from benchlib import sha256_for
from empty_server import FULL_METHOD
from google.protobuf.empty_pb2 import Empty
from procs import Server, cpu_seconds, free_port, grpc_serving
from workload import METRIC_NAMES, tags_for

PY = sys.executable
HERE = Path(__file__).resolve().parent
METADATA = (("authorization", "Bearer " + "x" * 43),)  # the size of a real token
LIST_FILTER = 'tags.team = "risk"'


def timed(
    op: Callable[[int], object], calls: int, warmup: int, pid: int | None
) -> tuple[float, int]:
    """Returns the p50 in ms of `calls` calls after `warmup`, and the server's CPU per call in us."""
    for i in range(warmup):
        op(i)
    took = []
    before = cpu_seconds(pid) if pid else 0.0
    for i in range(calls):
        start = time.perf_counter()
        op(i)
        took.append((time.perf_counter() - start) * 1000)
    cpu = round((cpu_seconds(pid) - before) / calls * 1e6) if pid else 0
    return round(statistics.median(took), 3), cpu


def empty_limit(calls: int, workdir: Path) -> float:
    address = f"127.0.0.1:{free_port()}"
    server = Server(
        "empty", [PY, str(HERE / "empty_server.py"), "--address", address], workdir / "empty.log"
    )
    try:
        server.wait_ready(lambda: _channel_ready(address))
        with grpc.insecure_channel(address) as channel:
            call = channel.unary_unary(
                FULL_METHOD,
                request_serializer=Empty.SerializeToString,
                response_deserializer=Empty.FromString,
            )
            return timed(lambda i: call(Empty(), timeout=10, metadata=METADATA), calls, 300, None)[
                0
            ]
    finally:
        server.stop()


def _channel_ready(address: str) -> bool:
    with grpc.insecure_channel(address) as channel:
        try:
            grpc.channel_ready_future(channel).result(timeout=1)
        except grpc.FutureTimeoutError:
            return False
        return True


def write_jsonl(path: Path, prefix: str, count: int, metrics: bool) -> None:
    with open(path, "w") as f:
        for i in range(count):
            version: dict[str, Any] = {
                "artifact": {
                    "uri": f"s3://bench/{prefix}/{i}",
                    "sha256": sha256_for(prefix, i),
                    "sizeBytes": "1",
                },
                "tags": tags_for(i),
            }
            if metrics:
                version["metrics"] = {name: 0.5 + i / 1e4 for name in METRIC_NAMES}
            f.write(json.dumps(version) + "\n")


def seed(data: Path) -> None:
    base = [PY, "-m", "modelyard_server", "--data-dir", str(data)]
    subprocess.run([*base, "migrate"], check=True, capture_output=True)
    for group, count, metrics in (("bench", 100, True), ("bench-list", 10_000, False)):
        path = data.parent / f"{group}.jsonl"
        write_jsonl(path, group, count, metrics)
        subprocess.run(
            [*base, "import", "--group", group, str(path)], check=True, capture_output=True
        )


def measure(
    src: str, template: Path, calls: int, ops: list[str], workdir: Path
) -> dict[str, float]:
    from modelyard import Registry

    data = workdir / "data"
    shutil.rmtree(data, ignore_errors=True)
    shutil.copytree(template, data)
    address = f"127.0.0.1:{free_port()}"
    argv = [PY, "-m", "modelyard_server", "--address", address, "--data-dir", str(data), "serve"]
    server = Server(
        "modelyard", argv, workdir / "server.log", env={"PYTHONPATH": src} if src else None
    )
    found: dict[str, float] = {}
    try:
        token_file = data / "admin.token"
        server.wait_ready(grpc_serving(address, also=token_file.exists), timeout_s=60)
        with Registry(address, token=token_file.read_text().strip(), timeout=10) as registry:
            registry.set_alias("bench", "champion", 1)

            def list_page(i: int) -> None:
                pager = registry.list_versions("bench-list", filter=LIST_FILTER, page_size=100)
                assert len(next(iter(pager.pages)).model_versions) == 100

            table: dict[str, tuple[Callable[[int], object], int]] = {
                "get": (lambda i: registry.get_version("bench", 1 + i % 100), calls),
                "alias": (lambda i: registry.by_alias("bench", "champion"), calls),
                "list": (list_page, max(calls // 3, 300)),
            }
            for op in ops:
                run, count = table[op]
                found[op], found[f"{op}_cpu_us"] = timed(run, count, 300, server.pid)
    finally:
        server.stop()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", action="append", default=[], help="LABEL=DIR ('' = installed)")
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--ops", default="get,alias,list")
    args = parser.parse_args()
    sources = [tuple(s.split("=", 1)) for s in args.src] or [("installed", "")]
    workdir = Path(tempfile.mkdtemp(prefix="modelyard-reads-"))
    try:
        template = workdir / "template" / "data"
        template.parent.mkdir()
        seed(template)
        limits: list[float] = []
        results: dict[str, dict[str, list[float]]] = {label: {} for label, _ in sources}
        for r in range(args.rounds):
            limits.append(empty_limit(args.calls, workdir))
            for label, src in sources:
                measured = measure(src, template, args.calls, args.ops.split(","), workdir)
                for op, value in measured.items():
                    results[label].setdefault(op, []).append(value)
            print(json.dumps({"round": r + 1, "empty": limits, **results}), file=sys.stderr)
        limit = statistics.median(limits)
        print(f"empty RPC p50, median of {args.rounds}: {limit:.3f} ms  {limits}")
        for label, _ in sources:
            for op, values in results[label].items():
                median = statistics.median(values)
                if op.endswith("_cpu_us"):
                    print(f"{label:>10} {op:>12}: server CPU per call {median:.0f} us  {values}")
                else:
                    share = f"{limit / median:.0%}"
                    print(f"{label:>10} {op:>12}: p50 {median:.3f} ms ({share} of limit)  {values}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
