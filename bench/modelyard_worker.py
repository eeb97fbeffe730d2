"""The workload against modelyard-server, through the SDK (modelyard.Registry for the
sequential operations, modelyard.AsyncRegistry for the concurrent ones and the seeding).

Runs in the top-level .venv. Prints one JSON document on stdout:
{"ops": {op: result}, "seed": {...}, ...}. An operation the SDK does not offer yet is
reported as {"pending": why}, never estimated.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import modelyard
from benchlib import (
    ANALYZE_EVERY_S,
    BackgroundLoad,
    Periodically,
    Result,
    emit,
    failed,
    least_disturbed,
    log,
    measure_async,
    measure_sequential,
    measure_shards,
    measured_under,
    pending,
    run_load_async,
    run_shard,
    sha256_for,
    watch_server,
)
from follow import measure_view
from modelyard import AsyncRegistry, Registry
from pgdb import analyze
from workload import (
    ALIAS,
    LIST_GROUP,
    REGISTER_GROUP,
    TITLES,
    Config,
    metrics_for,
    tags_for,
)

LIST_FILTER = 'tags.team = "risk"'
_attempt = itertools.count(1)


def fresh(prefix: str) -> str:
    """A new artifact prefix for each attempt at a registration op: the server refuses a
    sha256 it has seen in the group (DUPLICATE_ARTIFACT), so a repeated measurement must
    not reuse the artifacts of the one before."""
    return f"{prefix}{next(_attempt)}"


def register_op(reg: Registry, prefix: str) -> Callable[[int], object]:
    def op(i: int) -> object:
        return reg.register(
            REGISTER_GROUP,
            uri=f"s3://bench/{prefix}/{i}",
            sha256=sha256_for(prefix, i),
            size_bytes=1,
            metrics=metrics_for(i),
            tags=tags_for(i),
        )

    return op


async def seed_list_group(address: str, token: str, cfg: Config) -> Result:
    """Fill LIST_GROUP through the API (CreateModelVersion, cfg.seed_clients at once)."""
    async with AsyncRegistry(address, token=token) as reg:
        await reg.create_group(LIST_GROUP, description="")

        async def op(i: int) -> object:
            if i < 0:
                return None  # no warm-up: every version counts toward the group's size
            return await reg.register(
                LIST_GROUP,
                uri=f"s3://bench/list/{i}",
                sha256=sha256_for("list", i),
                size_bytes=1,
                tags=tags_for(i),
            )

        started = time.perf_counter()
        result = await measure_async(
            op, cfg.seed_clients, cfg.list_group_size, warmup_per_client=0, max_seconds=3600
        )
        result["total_seconds"] = round(time.perf_counter() - started, 2)
        return result


def register_async_op(reg: AsyncRegistry, prefix: str) -> Callable[[int], Awaitable[object]]:
    async def op(i: int) -> object:
        return await reg.register(
            REGISTER_GROUP,
            uri=f"s3://bench/{prefix}/{i}",
            sha256=sha256_for(prefix, i),
            size_bytes=1,
            metrics=metrics_for(i),
            tags=tags_for(i),
        )

    return op


def get_async_op(reg: AsyncRegistry, reads: int) -> Callable[[int], Awaitable[object]]:
    async def op(i: int) -> object:
        return await reg.get_version(REGISTER_GROUP, 1 + i % reads)

    return op


async def concurrent_in_process(
    address: str, token: str, cfg: Config, name: str, clients: int, n: int
) -> Result:
    """All clients in this process: coroutines on one loop, one connection."""
    async with AsyncRegistry(address, token=token) as reg:
        op = (
            register_async_op(reg, fresh("c8"))
            if name == "register_c8"
            else get_async_op(reg, cfg.read_versions)
        )
        return await measure_async(op, clients, n, max_seconds=cfg.max_seconds)


def concurrent(argv: list[str], cfg: Config, name: str, clients: int, n: int) -> Result:
    """The clients split over cfg.client_procs processes (one connection each), or all in
    this one (cfg.client_procs == 1)."""
    address, token = argv[argv.index("--address") + 1], _read_token(argv)
    procs = max(1, min(cfg.client_procs, clients))
    if procs == 1:
        return asyncio.run(concurrent_in_process(address, token, cfg, name, clients, n))
    prefix = fresh("c8")
    shards = []
    for k in range(procs):
        shards.append(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                *argv,
                "--shard",
                name,
                "--shard-clients",
                str(clients // procs + (1 if k < clients % procs else 0)),
                "--shard-n",
                str(n // procs),
                "--shard-prefix",
                f"{prefix}-s{k}",
            ]
        )
    return measure_shards(shards, clients)


async def shard_main(address: str, token: str, cfg: Config, args: argparse.Namespace) -> None:
    async with AsyncRegistry(address, token=token) as reg:
        op = (
            register_async_op(reg, args.shard_prefix)
            if args.shard == "register_c8"
            else get_async_op(reg, cfg.read_versions)
        )
        await run_shard(op, args.shard_clients, args.shard_n, max_seconds=cfg.max_seconds)


async def load_main(address: str, token: str, args: argparse.Namespace) -> None:
    """A background writer process: its clients register until the driver says stop."""
    async with AsyncRegistry(address, token=token) as reg:
        await run_load_async(register_async_op(reg, args.load_prefix), args.load_clients)


def writers(argv: list[str], cfg: Config) -> BackgroundLoad:
    """cfg.writers clients registering at full speed, over cfg.client_procs processes (one
    connection each, as register_c8's), for the length of a `with` block."""
    procs = max(1, min(cfg.client_procs, cfg.writers))
    prefix = fresh("load")
    argvs = [
        [
            sys.executable,
            str(Path(__file__).resolve()),
            *argv,
            "--load-clients",
            str(cfg.writers // procs + (1 if k < cfg.writers % procs else 0)),
            "--load-prefix",
            f"{prefix}-s{k}",
        ]
        for k in range(procs)
    ]
    return BackgroundLoad(argvs, cfg.writers)


def _read_token(argv: list[str]) -> str:
    with open(argv[argv.index("--token-file") + 1]) as f:
        return f.read().strip()


def alias_op(reg: Registry) -> tuple[Callable[[int], object] | None, str]:
    """The by-alias read, if the SDK has it; else None and why."""
    by_alias = getattr(reg, "by_alias", None)
    set_alias = getattr(reg, "set_alias", None)
    if by_alias is None:
        return None, "Registry.by_alias does not exist yet (governance work not landed)"
    if set_alias is None:
        return None, "Registry.set_alias does not exist yet (governance work not landed)"
    try:
        set_alias(REGISTER_GROUP, ALIAS, 1)
    except TypeError as exc:
        return None, f"Registry.set_alias(group, alias, version) does not fit the SDK: {exc}"
    found = by_alias(REGISTER_GROUP, ALIAS)
    assert found.version == 1, found
    return (lambda i: by_alias(REGISTER_GROUP, ALIAS)), ""


class Profiler:
    """py-spy attached to the server for the length of one measurement (--profile-dir)."""

    def __init__(self, py_spy: str | None, server_pid: int | None, out_dir: Path | None) -> None:
        self.enabled = bool(py_spy and server_pid and out_dir)
        self.py_spy = py_spy or ""
        self.server_pid = server_pid or 0
        self.out_dir = out_dir or Path()

    @contextlib.contextmanager
    def op(self, name: str) -> Iterator[None]:
        if not self.enabled:
            yield
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        # --subprocesses: the server may fork workers; raw = collapsed stacks, one a line.
        recorder = subprocess.Popen(
            [
                self.py_spy,
                "record",
                "--pid",
                str(self.server_pid),
                "--subprocesses",
                "--native",
                "--rate",
                "200",
                "--format",
                "raw",
                "--output",
                str(self.out_dir / f"{name}.txt"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(1.0)  # let it attach before the measurement starts
        try:
            yield
        finally:
            recorder.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
            recorder.wait(60)


def ensure_read_versions(reg: Registry, cfg: Config) -> None:
    """The read ops read versions 1..read_versions; register them if the ops that
    normally create them were left out (--ops)."""
    existing = 0
    with contextlib.suppress(modelyard.NotFound):
        existing = reg.get_version(REGISTER_GROUP, "latest").version
    fill = register_op(reg, "fill")
    for i in range(existing, cfg.read_versions):
        fill(i)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--address", required=True)
    parser.add_argument("--token-file", required=True)
    parser.add_argument("--config", required=True, help="workload.Config as JSON")
    parser.add_argument("--server-sid", type=int, help="session id of the server under test")
    parser.add_argument("--database-url", help="the server's PostgreSQL database, if any")
    parser.add_argument("--py-spy", help="py-spy executable, to profile the server per op")
    parser.add_argument("--server-pid", type=int)
    parser.add_argument("--profile-dir", type=Path)
    parser.add_argument("--shard", choices=["register_c8", "get_c16"], help=argparse.SUPPRESS)
    parser.add_argument("--shard-clients", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--shard-n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--shard-prefix", help=argparse.SUPPRESS)
    parser.add_argument("--load-clients", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--load-prefix", help=argparse.SUPPRESS)
    args = parser.parse_args()
    cfg = Config.from_json(json.loads(args.config))
    address: str = args.address
    with open(args.token_file) as f:
        token = f.read().strip()
    if args.shard:  # one of several client processes of a concurrent measurement
        asyncio.run(shard_main(address, token, cfg, args))
        return
    if args.load_clients:  # one of the writer processes of get_seq_under_writes
        asyncio.run(load_main(address, token, args))
        return
    watch_server(args.server_sid, args.database_url)
    # What a client shard needs to reach the server (no profiling, no server watching).
    shard_argv = ["--address", address, "--token-file", args.token_file, "--config", args.config]
    profiler = Profiler(args.py_spy, args.server_pid, args.profile_dir)
    ops: dict[str, Result] = {}
    extra: dict[str, Result] = {}
    seed: Result | None = None
    reads = cfg.read_versions

    with Registry(address, token=token) as reg:
        reg.create_group(REGISTER_GROUP, description="")

        if cfg.wants("list_10k"):
            log(f"modelyard: seeding {cfg.list_group_size} versions into {LIST_GROUP}")
            url = args.database_url
            with Periodically((lambda: analyze(url)) if url else None, ANALYZE_EVERY_S):
                seed = asyncio.run(seed_list_group(address, token, cfg))
            log(f"modelyard: seeded in {seed['total_seconds']} s ({seed['ops_per_s']} versions/s)")
            if seed["errors"]:
                log(f"modelyard: seeding failed: {seed.get('first_error')}")

        def list_page(i: int) -> int:
            pager = reg.list_versions(LIST_GROUP, filter=LIST_FILTER, page_size=100)
            return len(next(iter(pager.pages)).model_versions)

        def check_reads() -> None:
            ensure_read_versions(reg, cfg)
            first = reg.get_version(REGISTER_GROUP, 1)
            assert first.tags["framework"] == "sklearn" and len(first.metrics) == 5, first

        def check_list() -> None:
            page = next(
                iter(reg.list_versions(LIST_GROUP, filter=LIST_FILTER, page_size=100).pages)
            ).model_versions
            assert len(page) == 100 and all(v.tags["team"] == "risk" for v in page), len(page)

        def get_under_writes() -> Result:
            with writers(shard_argv, cfg) as load:
                result = measure_sequential(
                    lambda i: reg.get_version(REGISTER_GROUP, 1 + i % reads),
                    cfg.seq_n,
                    max_seconds=cfg.max_seconds,
                )
            return measured_under(result, load.result)

        def run_alias() -> Result:
            op, why = alias_op(reg)
            if op is None:
                log(f"modelyard: get by alias is pending: {why}")
                return pending(why)
            return measure_sequential(op, cfg.seq_n, max_seconds=cfg.max_seconds)

        plan: list[tuple[str, Callable[[], None] | None, Callable[[], Result]]] = [
            (
                "register_seq",
                None,
                lambda: measure_sequential(
                    register_op(reg, fresh("seq")), cfg.register_seq_n, max_seconds=cfg.max_seconds
                ),
            ),
            (
                "register_c8",
                None,
                lambda: concurrent(shard_argv, cfg, "register_c8", 8, cfg.register_c8_n),
            ),
            (
                "get_seq",
                check_reads,
                lambda: measure_sequential(
                    lambda i: reg.get_version(REGISTER_GROUP, 1 + i % reads),
                    cfg.seq_n,
                    max_seconds=cfg.max_seconds,
                ),
            ),
            ("get_alias_seq", check_reads, run_alias),
            (
                "get_c16",
                check_reads,
                lambda: concurrent(shard_argv, cfg, "get_c16", 16, cfg.get_c16_n),
            ),
            (
                "list_10k",
                check_list,
                lambda: measure_sequential(
                    list_page, cfg.list_n, warmup=5, max_seconds=cfg.max_seconds
                ),
            ),
            (
                "set_tag_seq",
                check_reads,
                lambda: measure_sequential(
                    lambda i: reg.set_tag(REGISTER_GROUP, 1 + i % reads, "team", f"team-{i % 7}"),
                    cfg.seq_n,
                    max_seconds=cfg.max_seconds,
                ),
            ),
            # Last: its writers add thousands of versions to the group the others use.
            ("get_seq_under_writes", check_reads, get_under_writes),
        ]
        for name, check, measure in plan:
            if not cfg.wants(name):
                continue
            if name == "list_10k" and seed is not None and seed["errors"]:
                ops[name] = failed(f"seeding the list group failed: {seed.get('first_error')}")
                continue
            log(f"modelyard: {TITLES[name]}")
            try:
                if args.database_url is not None:
                    analyze(args.database_url)
                if check is not None:
                    check()
                with profiler.op(name):
                    # py-spy itself counts as other load: no repeats while profiling.
                    attempts = 1 if profiler.enabled else 3
                    ops[name] = least_disturbed(measure, name, attempts)
            except Exception as exc:  # one broken op must not hide the others' numbers
                log(f"modelyard: {name} failed: {exc!r}")
                ops[name] = failed(repr(exc))

        if cfg.wants("get_alias_seq"):  # the followed view answers what get_alias_seq asks
            log("modelyard: the followed view, and promotions reaching it")
            try:
                extra.update(measure_view(reg, cfg.seq_n, cfg.promotions, cfg.max_seconds))
            except Exception as exc:
                log(f"modelyard: the followed view failed: {exc!r}")
                extra["view_production"] = failed(repr(exc))

    emit(
        {
            "ops": ops,
            "seed": seed,
            "extra": extra,
            "client_version": getattr(modelyard, "__version__", "unknown"),
        }
    )


if __name__ == "__main__":
    main()
