"""modelyard vs MLflow, side by side: the driver behind `make bench`.

Runs in the top-level .venv. One stage at a time, so that no idle server competes for
the two cores with the one being measured:
1. the empty-RPC server (empty_server.py) and its client (empty_worker.py): the limit;
2. modelyard-server on a fresh data directory, driven by modelyard_worker.py;
3. `mlflow server` (SQLite, fresh directories), driven by mlflow_worker.py, which runs
   with bench/.venv-mlflow's python.
Each worker reports its measurements as JSON on stdout. The driver prints one table,
writes bench/results/latest.json (the table) and bench/results/latest-run.json (how it
was run: configuration, seeding times, server memory, machine load), and refreshes the
table in bench/README.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchlib import DISTURBED
from procs import Server, free_port, grpc_serving, http_ok, tcp_accepts
from profile_summary import write_summary
from workload import LIMIT_FOR_OP, LIMITS, OPS, Config

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
)

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


def modelyard_argv(address: str, data_dir: Path, workers: int = 1) -> list[str]:
    argv = [modelyard_exe(), "--address", address, "--data-dir", str(data_dir), "serve"]
    return [*argv, "--workers", str(workers)] if workers > 1 else argv


def stage_modelyard(workdir: Path, cfg: Config, workers: int, py_spy: Path | None = None) -> Json:
    port = free_port()
    address = f"127.0.0.1:{port}"
    data_dir = workdir / "modelyard-data"
    token_file = data_dir / "admin.token"
    server = Server(
        "modelyard-server",
        modelyard_argv(address, data_dir, workers),
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


def stage_mlflow(workdir: Path, cfg: Config, mlflow_python: Path) -> Json:
    port = free_port()
    root = workdir / "mlflow"
    root.mkdir()
    argv = [
        str(mlflow_python.parent / "mlflow"),
        "server",
        "--backend-store-uri",
        f"sqlite:///{root / 'mlflow.db'}",
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


def stats(result: Json | None) -> Json | None:
    """What the table shows of one measurement (the JSON keeps every field)."""
    if result is None:
        return None
    return dict(result)


def ratio(a: Json | None, b: Json | None) -> float | None:
    if not a or not b or "ops_per_s" not in a or "ops_per_s" not in b or not b["ops_per_s"]:
        return None
    return round(float(a["ops_per_s"]) / float(b["ops_per_s"]), 2)


def build_table(
    modelyard: Json | None, mlflow: Json | None, empty: Json | None, cfg: Config
) -> list[Json]:
    rows: list[Json] = []
    limits: Json = empty["limits"] if empty else {}
    for op, title in OPS:
        if op == "list_10k":
            title = f"list 100 of {cfg.list_group_size:,} filtered by tag"
        ours = stats(modelyard["ops"].get(op)) if modelyard else None
        theirs = stats(mlflow["ops"].get(op)) if mlflow else None
        limit_name = LIMIT_FOR_OP[op]
        limit = limits.get(limit_name)
        row: Json = {
            "op": op,
            "title": title,
            "modelyard": ours,
            "mlflow": theirs,
            "ratio": ratio(ours, theirs),
            "limit_op": limit_name,
            "limit": stats(limit),
            "fraction_of_limit": ratio(ours, limit),
        }
        if op == "register_seq" and mlflow:
            version_only = mlflow["extra"].get("register_seq_version_only")
            row["mlflow_version_only"] = stats(version_only)
            row["ratio_vs_mlflow_version_only"] = ratio(ours, version_only)
        rows.append(row)
    for name, title, clients in LIMITS:
        rows.append(
            {
                "op": name,
                "title": title,
                "kind": "limit",
                "clients": clients,
                "modelyard": None,
                "mlflow": None,
                "ratio": None,
                "empty_rpc": stats(limits.get(name)),
            }
        )
    return rows


def _num(value: Any, digits: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def _cells(result: Json | None) -> list[str]:
    if result is None:
        return ["—", "—", "—"]
    if "pending" in result:
        return ["pending", "", ""]
    if "failed" in result:
        return ["failed", "", ""]
    errors = f" ({result['errors']} errors)" if result.get("errors") else ""
    share = other_load([result])
    mark = "\\*" if share is not None and share > DISTURBED else ""
    return [
        _num(result["ops_per_s"]) + mark + errors,
        _num(result["p50_ms"], 2),
        _num(result["p99_ms"], 2),
    ]


def other_load(results: list[Json | None]) -> float | None:
    """Share of the machine's CPU that other processes used during these measurements."""
    cpus = os.cpu_count() or 1
    other = wall = 0.0
    for r in results:
        if r and "other_cpu_s" in r:
            other += r["other_cpu_s"]
            wall += r["seconds"]
    return other / (wall * cpus) if wall else None


def render_markdown(rows: list[Json]) -> str:
    header = (
        "| operation | modelyard ops/s | p50 ms | p99 ms | MLflow ops/s | p50 ms | p99 ms "
        "| modelyard / MLflow | empty-RPC limit ops/s | fraction of limit |"
    )
    lines = [header, "|" + "---|" * 10]
    for row in rows:
        if row.get("kind") == "limit":
            continue
        limit = row["limit"]
        fraction = row["fraction_of_limit"]
        lines.append(
            "| "
            + " | ".join(
                [
                    row["title"],
                    *_cells(row["modelyard"]),
                    *_cells(row["mlflow"]),
                    f"{row['ratio']:.1f}x" if row["ratio"] is not None else "—",
                    _num(limit["ops_per_s"]) if limit else "—",
                    f"{fraction:.0%}" if fraction is not None else "—",
                ]
            )
            + " |"
        )
    lines += ["", "| empty-RPC limit | ops/s | p50 ms | p99 ms |", "|---|---|---|---|"]
    for row in rows:
        if row.get("kind") == "limit":
            lines.append(f"| {row['title']} | " + " | ".join(_cells(row["empty_rpc"])) + " |")
    loads = []
    disturbed = False
    for label, results in (
        ("the limit's", [r.get("empty_rpc") for r in rows if r.get("kind") == "limit"]),
        ("modelyard's", [r["modelyard"] for r in rows if r.get("kind") != "limit"]),
        ("MLflow's", [r["mlflow"] for r in rows if r.get("kind") != "limit"]),
    ):
        share = other_load(results)
        if share is not None:
            loads.append(f"{share:.0%} during {label}")
            disturbed = disturbed or share > DISTURBED
    if loads:
        lines += [
            "",
            "CPU used by other processes on the machine (not the server under test, not its "
            "client) while the measurements ran: " + ", ".join(loads) + ".",
        ]
    if any("\\*" in line for line in lines):
        lines += [
            "",
            f"\\* other processes took over {DISTURBED:.0%} of the machine's CPU during "
            "this measurement.",
        ]
    if disturbed:
        lines[-1] += (
            f" **Over {DISTURBED:.0%}: this run was disturbed by other work on the machine; "
            "rerun when it is quiet.**"
        )
    return "\n".join(lines)


def update_readme(table: str, meta: Json) -> None:
    if not README.exists():
        return
    text = README.read_text()
    if TABLE_START not in text or TABLE_END not in text:
        return
    before, rest = text.split(TABLE_START, 1)
    _, after = rest.split(TABLE_END, 1)
    notes = []
    for system in ("modelyard", "mlflow"):
        seed = meta.get(system, {}).get("seed")
        if seed:
            notes.append(
                f"{system} seeded {seed['ops']:,} versions in {seed['total_seconds']} s "
                f"({seed['ops_per_s']:,.0f}/s, {seed['clients']} concurrent clients)"
            )
    stamp = (
        f"Run {meta['finished']} on {meta['machine']['cpus']} cores "
        f"(load average before: {meta['machine']['loadavg_before']}), "
        f"`make bench` driver time {meta['seconds']:.0f} s; " + "; ".join(notes) + "."
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
        choices=["empty", "modelyard", "mlflow"],
        action="append",
        help="run only these stages (repeatable)",
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
    parser.add_argument("--out", type=Path, default=RESULTS / "latest.json")
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
    if args.py_spy is not None:
        shutil.rmtree(PROFILE_RAW, ignore_errors=True)
    stages = set(args.only or ["empty", "modelyard", "mlflow"])

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
    }
    empty = modelyard = mlflow = None
    try:
        if "empty" in stages:
            wait_quiet(args.wait_quiet, "limit")
            empty = stage_empty(workdir, cfg)
            meta["empty"] = empty
        if "modelyard" in stages:
            wait_quiet(args.wait_quiet, "modelyard")
            meta["machine"]["loadavg_before_modelyard"] = loadavg()
            workers = args.modelyard_workers if serve_takes_workers() else 1
            modelyard = stage_modelyard(workdir, cfg, workers, args.py_spy)
            if args.py_spy is not None:
                write_summary(PROFILE_RAW, PROFILE_SUMMARY)
                print(f"wrote {PROFILE_SUMMARY.relative_to(ROOT)}", file=sys.stderr)
            meta["modelyard"] = modelyard
        if "mlflow" in stages:
            if not args.mlflow_python.exists():
                raise SystemExit(f"{args.mlflow_python} missing: run `make -C bench venv` first")
            wait_quiet(args.wait_quiet, "mlflow")
            meta["machine"]["loadavg_before_mlflow"] = loadavg()
            mlflow = stage_mlflow(workdir, cfg, args.mlflow_python)
            meta["mlflow"] = mlflow
    finally:
        if args.keep:
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    rows = build_table(modelyard, mlflow, empty, cfg)
    table = render_markdown(rows)
    meta["seconds"] = round(time.monotonic() - started, 1)
    meta["finished"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=2) + "\n")
    args.out.with_name(args.out.stem + "-run.json").write_text(json.dumps(meta, indent=2) + "\n")
    print()
    print(table)
    print()
    print(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    complete = stages == {"empty", "modelyard", "mlflow"} and cfg.only_ops is None
    if complete and not args.quick and not args.no_readme and args.py_spy is None:
        update_readme(table, meta)


if __name__ == "__main__":
    main()
