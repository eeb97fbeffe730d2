"""modelyard vs MLflow, side by side: the driver behind `make bench`.

Runs in the top-level .venv. One stage at a time, so that no idle server competes for
the two cores with the one being measured:
1. the empty-RPC server (empty_server.py) and its client (empty_worker.py): the limit;
then, for each backend (SQLite, then PostgreSQL: fresh databases on one server):
2. modelyard-server on a fresh data directory (and database), driven by
   modelyard_worker.py: the ops, the reads under writes, the followed view;
3. `mlflow server` on fresh directories (and database), driven by mlflow_worker.py, which
   runs with bench/.venv-mlflow's python;
4. the fan-out: fanout.py's server with 1,000 WatchEvents streams.
Each worker reports its measurements as JSON on stdout. The driver prints the tables,
writes bench/results/latest.json (the rows) and bench/results/latest-run.json (how it
was run: configuration, seeding times, server memory, machine load), and refreshes the
section between the bench-table markers of bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchlib import DISTURBED
from pgdb import DEFAULT_SERVER, fresh_database, reachable
from procs import Server, free_port, grpc_serving, http_ok, tcp_accepts
from profile_summary import write_summary
from table import BACKEND_TITLES, fanout_row, follow_rows, limit_rows, op_rows, render_markdown
from workload import BACKENDS, OPS, Config

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
README = HERE / "README.md"
TABLE_START = "<!-- bench-table:start -->"
TABLE_END = "<!-- bench-table:end -->"
PROFILE_RAW = HERE / "data" / "profile"  # py-spy's raw stacks (not committed)
PROFILE_SUMMARY = RESULTS / "profile.md"

MLFLOW_WORKERS = 4  # gunicorn sync workers; see README ("How MLflow is configured")

FULL = Config(max_seconds=10.0)
QUICK = Config(
    seq_n=300,
    register_seq_n=100,
    register_c8_n=200,
    get_c16_n=600,
    list_n=50,
    max_seconds=5.0,
    list_group_size=1000,
    promotions=20,
    fanout_streams=200,
    fanout_events=10,
)
STAGES = ["empty", "modelyard", "mlflow", "fanout"]

Json = dict[str, Any]


def machine_busy_share(seconds: float = 2.0) -> float:
    """Share of the machine's CPU in use over the next `seconds` (0..1), from /proc/stat."""

    def sample() -> tuple[int, int]:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
        idle = fields[3] + fields[4]
        return sum(fields[:8]) - idle, sum(fields[:8])

    busy0, total0 = sample()
    time.sleep(seconds)
    busy1, total1 = sample()
    return (busy1 - busy0) / max(1, total1 - total0)


def wait_quiet(limit_s: float, stage: str) -> None:
    """Waits (at most limit_s) until other work leaves the machine under 20% busy."""
    if limit_s <= 0:
        return
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        share = machine_busy_share()
        if share < DISTURBED:
            return
        print(f"machine {share:.0%} busy before the {stage} stage; waiting", file=sys.stderr)
        time.sleep(5)
    print(f"machine still busy; running the {stage} stage anyway", file=sys.stderr)


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def run_worker(argv: list[str], name: str) -> Json:
    """Runs a worker to completion; its stderr (progress) goes to ours, stdout is JSON."""
    started = time.monotonic()
    done = subprocess.run(argv, cwd=HERE, stdout=subprocess.PIPE, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{name} worker failed with exit code {done.returncode}")
    document: Json = json.loads(done.stdout)
    document["worker_seconds"] = round(time.monotonic() - started, 1)
    return document


def stage_empty(workdir: Path, cfg: Config) -> Json:
    port = free_port()
    address = f"127.0.0.1:{port}"
    server = Server(
        "empty-rpc server",
        [sys.executable, str(HERE / "empty_server.py"), "--address", address],
        workdir / "empty-server.log",
        cwd=HERE,
    )
    try:
        server.wait_ready(tcp_accepts(port), timeout_s=30)
        result = run_worker(
            [
                sys.executable,
                str(HERE / "empty_worker.py"),
                "--address",
                address,
                "--max-seconds",
                str(cfg.max_seconds / 2),
                "--client-procs",
                str(cfg.client_procs),
                "--server-sid",
                str(server.pid),
            ],
            "empty-rpc",
        )
    finally:
        server.stop()
    return result


def modelyard_exe() -> str:
    exe = shutil.which("modelyard-server", path=str(Path(sys.executable).parent))
    if exe is None:
        raise RuntimeError(f"modelyard-server is not installed next to {sys.executable}")
    return exe


def serve_takes_workers() -> bool:
    """Whether `modelyard-server serve` has --workers (several processes on one port)."""
    done = subprocess.run(
        [modelyard_exe(), "serve", "--help"], capture_output=True, text=True, check=False
    )
    return "--workers" in done.stdout


def modelyard_argv(
    address: str, data_dir: Path, workers: int = 1, database_url: str | None = None
) -> list[str]:
    argv = [modelyard_exe(), "--address", address, "--data-dir", str(data_dir)]
    if database_url is not None:
        argv += ["--database-url", database_url]
    argv.append("serve")
    return [*argv, "--workers", str(workers)] if workers > 1 else argv


class Databases:
    """Where each stage keeps its data: SQLite in its directory, or a fresh PostgreSQL
    database (dropped after the stage) on one server."""

    def __init__(self, server: str, prefix: str) -> None:
        self.server = server
        self.prefix = prefix

    @contextlib.contextmanager
    def for_stage(self, backend: str, stage: str) -> Iterator[str | None]:
        if backend == "sqlite":
            yield None
            return
        with fresh_database(self.server, self.prefix, stage) as url:
            yield url


def database_argv(database_url: str | None) -> list[str]:
    """Tells a worker which PostgreSQL database its server uses: its backends' CPU is the
    server's, not other work's, and the worker refreshes its planner statistics."""
    return [] if database_url is None else ["--database-url", database_url]


def stage_modelyard(
    workdir: Path,
    cfg: Config,
    workers: int,
    database_url: str | None,
    py_spy: Path | None = None,
) -> Json:
    port = free_port()
    address = f"127.0.0.1:{port}"
    data_dir = workdir / "modelyard-data"
    token_file = data_dir / "admin.token"
    server = Server(
        "modelyard-server",
        modelyard_argv(address, data_dir, workers, database_url),
        workdir / "modelyard-server.log",
    )
    try:
        ready_s = server.wait_ready(grpc_serving(address, also=token_file.exists), timeout_s=60)
        argv = [
            sys.executable,
            str(HERE / "modelyard_worker.py"),
            "--address",
            address,
            "--token-file",
            str(token_file),
            "--config",
            json.dumps(cfg.to_json()),
            "--server-sid",
            str(server.pid),
            *database_argv(database_url),
        ]
        if py_spy is not None:
            argv += ["--py-spy", str(py_spy), "--server-pid", str(server.pid)]
            argv += ["--profile-dir", str(PROFILE_RAW)]
        result = run_worker(argv, "modelyard")
        result["server_ready_s"] = round(ready_s, 2)
        result["server_rss_mb_after"] = server.rss_mb()
        result["server_argv"] = server.argv
    finally:
        server.stop()
    return result


def mlflow_store_uri(database_url: str) -> str:
    """The database URL with MLflow's driver named: SQLAlchemy 2.1 (in MLflow's venv)
    takes a bare postgresql:// to mean psycopg 3, while the venv has psycopg2."""
    return database_url.replace("postgresql://", "postgresql+psycopg2://", 1)


def stage_mlflow(workdir: Path, cfg: Config, mlflow_python: Path, database_url: str | None) -> Json:
    port = free_port()
    root = workdir / "mlflow"
    root.mkdir()
    argv = [
        str(mlflow_python.parent / "mlflow"),
        "server",
        "--backend-store-uri",
        mlflow_store_uri(database_url) if database_url else f"sqlite:///{root / 'mlflow.db'}",
        "--default-artifact-root",
        str(root / "artifacts"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(MLFLOW_WORKERS),
        # gunicorn rather than the default uvicorn: see README ("How MLflow is configured").
        "--gunicorn-opts",
        "--log-level warning",
    ]
    env = {
        # The job runner (huey consumers for GenAI jobs) has nothing to do with the model
        # registry; left on it keeps seven polling processes busy on our two cores.
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    }
    server = Server("mlflow server", argv, workdir / "mlflow-server.log", env=env, cwd=root)
    uri = f"http://127.0.0.1:{port}"
    try:
        ready_s = server.wait_ready(http_ok(f"{uri}/health"), timeout_s=180)
        result = run_worker(
            [
                str(mlflow_python),
                str(HERE / "mlflow_worker.py"),
                "--uri",
                uri,
                "--config",
                json.dumps(cfg.to_json()),
                "--server-sid",
                str(server.pid),
                *database_argv(database_url),
            ],
            "mlflow",
        )
        result["server_ready_s"] = round(ready_s, 2)
        result["server_rss_mb_after"] = server.rss_mb()
        result["server_argv"] = server.argv
        result["server_env"] = env
    finally:
        server.stop()
    return result


def stage_fanout(workdir: Path, cfg: Config, database_url: str | None, limit: bool = False) -> Json:
    """fanout.py: its own server, cfg.fanout_streams streams, cfg.fanout_events commits; with
    `limit`, the same streams on the bare gRPC server instead."""
    argv = [sys.executable, str(HERE / "fanout.py"), "--json"]
    argv += ["--subscribers", str(cfg.fanout_streams), "--events", str(cfg.fanout_events)]
    if database_url is not None:
        argv += ["--database-url", database_url]
    if limit:
        argv.append("--limit")
    started = time.monotonic()
    done = subprocess.run(argv, cwd=workdir, stdout=subprocess.PIPE, check=False)
    if done.returncode != 0:
        return {"failed": f"fanout.py exited with {done.returncode}"}
    result: Json = json.loads(done.stdout)
    result["worker_seconds"] = round(time.monotonic() - started, 1)
    return result


@contextlib.contextmanager
def stage_failure(got: Json, system: str) -> Iterator[None]:
    """A stage that breaks (a server that does not start, a worker that dies) is reported
    as failed, op by op, and the run goes on: the other stages' numbers still count."""
    try:
        yield
    except (RuntimeError, OSError, ValueError) as exc:
        print(f"{system} stage failed: {exc}", file=sys.stderr)
        why = f"the {system} stage failed: {str(exc).splitlines()[0]}"
        got[system] = {"failed": why, "ops": {op: {"failed": why} for op, _ in OPS}, "extra": {}}


def update_readme(table: str, meta: Json) -> None:
    if not README.exists():
        return
    text = README.read_text()
    if TABLE_START not in text or TABLE_END not in text:
        return
    before, rest = text.split(TABLE_START, 1)
    _, after = rest.split(TABLE_END, 1)
    notes = []
    for backend, stages in meta["backends"].items():
        for system in ("modelyard", "mlflow"):
            seed = (stages.get(system) or {}).get("seed")
            if seed:
                notes.append(
                    f"{system} on {BACKEND_TITLES[backend]} seeded {seed['ops']:,} versions in "
                    f"{seed['total_seconds']} s ({seed['ops_per_s']:,.0f}/s, "
                    f"{seed['clients']} concurrent clients)"
                )
    versions = meta.get("versions", {})
    stamp = (
        f"Run {meta['finished']} on {meta['machine']['cpus']} cores "
        f"(load average before: {meta['machine']['loadavg_before']}), "
        f"`make bench` driver time {meta['seconds']:.0f} s, MLflow "
        f"{versions.get('mlflow', '?')}; " + "; ".join(notes) + "."
    )
    README.write_text(f"{before}{TABLE_START}\n{stamp}\n\n{table}\n{TABLE_END}{after}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--mlflow-python",
        type=Path,
        default=HERE / ".venv-mlflow" / "bin" / "python",
        help="python of the venv that has mlflow (made by `make -C bench venv`)",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, for trying things")
    parser.add_argument(
        "--only",
        choices=STAGES,
        action="append",
        help="run only these stages (repeatable)",
    )
    parser.add_argument(
        "--backends",
        default=",".join(BACKENDS),
        help=f"comma-separated, in order (default: {','.join(BACKENDS)})",
    )
    parser.add_argument(
        "--pg-server",
        default=DEFAULT_SERVER,
        help=f"PostgreSQL server for the postgresql backend (default {DEFAULT_SERVER}); "
        "each stage gets a fresh database there, dropped after it",
    )
    parser.add_argument(
        "--pg-db-prefix",
        default="modelyard_bench",
        help="the fresh databases are named PREFIX_STAGE_PID_RANDOM",
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before each stage, wait up to this long for other work to leave the machine",
    )
    parser.add_argument(
        "--modelyard-workers",
        type=int,
        default=1,
        # On 2 cores the clients need the second core: two workers measured no faster for
        # concurrent reads (1,567 vs 1,602/s) and slower for concurrent writes on one SQLite
        # file (SQLite has one writer; two processes contend for its lock).
        help="modelyard-server serve --workers (default 1; more where cores are spare)",
    )
    parser.add_argument(
        "--client-procs",
        type=int,
        help="processes the concurrent gRPC clients are spread over (default 2)",
    )
    parser.add_argument("--ops", help="comma-separated ops to run (default: all)")
    parser.add_argument(
        "--py-spy",
        type=Path,
        help="profile modelyard-server with this py-spy during each op; summary in "
        "results/profile.md",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="default: results/latest.json for a full run, results/quick.json otherwise",
    )
    parser.add_argument("--no-readme", action="store_true", help="leave README.md as it is")
    parser.add_argument("--keep", action="store_true", help="keep the servers' data and logs")
    args = parser.parse_args()
    cfg = QUICK if args.quick else FULL
    # absolute(), not resolve(): a venv's python is a symlink that must stay unresolved.
    args.mlflow_python = args.mlflow_python.absolute()
    if args.ops:
        known = {op for op, _ in OPS}
        cfg = dataclasses.replace(cfg, only_ops=[op.strip() for op in args.ops.split(",")])
        if unknown := set(cfg.only_ops or []) - known:
            parser.error(f"unknown ops {sorted(unknown)}; known: {sorted(known)}")
    if args.client_procs is not None:
        cfg = dataclasses.replace(cfg, client_procs=args.client_procs)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if unknown_backends := set(backends) - set(BACKENDS):
        parser.error(f"unknown backends {sorted(unknown_backends)}; known: {BACKENDS}")
    if args.py_spy is not None:
        shutil.rmtree(PROFILE_RAW, ignore_errors=True)
    stages = set(args.only or STAGES)
    if "mlflow" in stages and not args.mlflow_python.exists():
        raise SystemExit(f"{args.mlflow_python} missing: run `make -C bench venv` first")
    needs_pg = "postgresql" in backends and bool(stages - {"empty"})
    if needs_pg and (why := reachable(args.pg_server)):
        raise SystemExit(why)
    databases = Databases(args.pg_server, args.pg_db_prefix)

    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="modelyard-bench-"))
    meta: Json = {
        "config": cfg.to_json(),
        "quick": args.quick,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "loadavg_before": loadavg(),
        },
        "workdir": str(workdir),
        "backends": {},
        "versions": {},
    }
    empty = None
    fanout_limit: Json | None = None
    found: dict[str, Json] = {}
    try:
        if "empty" in stages:
            wait_quiet(args.wait_quiet, "limit")
            empty = stage_empty(workdir, cfg)
            meta["empty"] = empty
        for backend in backends:
            here = workdir / backend
            here.mkdir()
            got: Json = found.setdefault(backend, {})
            meta["backends"][backend] = got
            if "modelyard" in stages:
                wait_quiet(args.wait_quiet, f"modelyard ({backend})")
                got["loadavg_before_modelyard"] = loadavg()
                workers = args.modelyard_workers if serve_takes_workers() else 1
                with (
                    stage_failure(got, "modelyard"),
                    databases.for_stage(backend, "modelyard") as url,
                ):
                    got["modelyard"] = stage_modelyard(here, cfg, workers, url, args.py_spy)
                meta["versions"]["modelyard"] = got["modelyard"].get("client_version")
                if args.py_spy is not None:
                    write_summary(PROFILE_RAW, PROFILE_SUMMARY)
                    print(f"wrote {PROFILE_SUMMARY.relative_to(ROOT)}", file=sys.stderr)
            if "mlflow" in stages:
                wait_quiet(args.wait_quiet, f"mlflow ({backend})")
                got["loadavg_before_mlflow"] = loadavg()
                with stage_failure(got, "mlflow"), databases.for_stage(backend, "mlflow") as url:
                    got["mlflow"] = stage_mlflow(here, cfg, args.mlflow_python, url)
                meta["versions"]["mlflow"] = got["mlflow"].get("client_version")
            if "fanout" in stages and fanout_limit is None:
                wait_quiet(args.wait_quiet, "fan-out limit")
                meta["fanout_limit"] = fanout_limit = stage_fanout(here, cfg, None, limit=True)
            if "fanout" in stages:
                wait_quiet(args.wait_quiet, f"fan-out ({backend})")
                got["loadavg_before_fanout"] = loadavg()
                with stage_failure(got, "fanout"), databases.for_stage(backend, "fanout") as url:
                    got["fanout"] = stage_fanout(here, cfg, url)
    finally:
        if args.keep:
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    rows: list[Json] = []
    for backend in backends:
        got = found.get(backend, {})
        if {"modelyard", "mlflow"} & got.keys():
            rows += op_rows(backend, got.get("modelyard"), got.get("mlflow"), empty, cfg)
    rows += limit_rows(empty)
    for backend in backends:
        got = found.get(backend, {})
        rows += follow_rows(backend, got.get("modelyard"), got.get("mlflow"))
    for backend in backends:
        rows += fanout_row(backend, found.get(backend, {}).get("fanout"), fanout_limit)
    table = render_markdown(rows, backends)
    meta["seconds"] = round(time.monotonic() - started, 1)
    meta["finished"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    complete = stages == set(STAGES) and backends == BACKENDS and cfg.only_ops is None
    if args.out is None:  # a quick or partial run does not overwrite the committed figures
        args.out = RESULTS / ("latest.json" if complete and not args.quick else "quick.json")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=2) + "\n")
    args.out.with_name(args.out.stem + "-run.json").write_text(json.dumps(meta, indent=2) + "\n")
    print()
    print(table)
    print()
    print(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    broken = [
        f"{system} on {backend}"
        for backend, got in found.items()
        for system in ("modelyard", "mlflow", "fanout")
        if "failed" in (got.get(system) or {})
    ]
    if broken:
        raise SystemExit(f"failed stages: {', '.join(broken)} (README.md left alone)")
    if complete and not args.quick and not args.no_readme and args.py_spy is None:
        update_readme(table, meta)
    elif not args.no_readme and not args.quick:
        print("README.md left alone: only a run of every stage and backend updates it")


if __name__ == "__main__":
    main()
