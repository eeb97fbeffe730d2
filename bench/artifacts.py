"""Model bytes in and out: modelyard's artifact store vs MLflow's artifact proxy, in one run,
beside the machine's limit for moving bytes over gRPC on loopback.

Three stages, one at a time (no idle server shares the two cores with the one measured):
1. the limit: artifact_limit.py, a bare grpc.aio byte stream each way (no disk, no hash);
2. modelyard-server on a fresh data directory, driven here with modelyard.Registry:
   register(path=) and download() of one large file and of a 20-file directory, and the
   second upload of the unchanged directory (what the client sends before registering it
   again elsewhere in its group: nothing, the group holds every blob);
3. `mlflow server --serve-artifacts` (SQLite, local artifact destination), driven by
   mlflow_artifacts_worker.py with MlflowClient.log_artifact(s) / download_artifacts.

Each server's resident memory is sampled every 50 ms while the large file goes in and out:
the growth shows whether it streams or buffers. modelyard's times include hashing every
file on the client (MLflow's client hashes nothing), and every download is checked
against its digests.

Writes results/artifacts.json and the table between the artifacts markers of README.md.
Usage: python artifacts.py --mlflow-python .venv-mlflow/bin/python [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
from modelyard import Registry
from procs import Server, free_port, grpc_serving, http_ok, tcp_accepts

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
README = HERE / "README.md"
TABLE_START = "<!-- artifacts-table:start -->"
TABLE_END = "<!-- artifacts-table:end -->"
MIB = 1 << 20

Json = dict[str, Any]


def write_random(path: Path, size: int) -> None:
    with path.open("wb") as out:
        left = size
        while left:
            block = os.urandom(min(16 * MIB, left))
            out.write(block)
            left -= len(block)


class PeakRss:
    """Samples a server's resident memory in a thread; `growth` is the peak over the start."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.start = server.rss_mb()
        self.peak = self.start
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self.stop.wait(0.05):
            self.peak = max(self.peak, self.server.rss_mb())

    def __enter__(self) -> PeakRss:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()

    @property
    def growth(self) -> float:
        return round(self.peak - self.start, 1)


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def disk_write_mbps(workdir: Path, size: int) -> float:
    """The disk's own limit: writing `size` bytes to a new file and fsyncing it, as the
    registry must before it says a blob is stored (MLflow does not fsync)."""
    block = os.urandom(16 * MIB)
    path = workdir / "disk-probe"
    start = time.perf_counter()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for _ in range(size // len(block)):
            os.write(fd, block)
        os.fsync(fd)
    finally:
        os.close(fd)
    seconds = time.perf_counter() - start
    path.unlink()
    return size / MIB / seconds


def stage_limit(workdir: Path, size: int) -> Json:
    port = free_port()
    server = Server(
        "limit", [sys.executable, str(HERE / "artifact_limit.py"), str(port)], workdir / "limit.log"
    )
    try:
        server.wait_ready(tcp_accepts(port))
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            put = channel.stream_unary("/bench.Bytes/Put")
            get = channel.unary_stream("/bench.Bytes/Get")
            chunk = b"\1" * MIB

            def chunks() -> Iterator[bytes]:
                for _ in range(size // MIB):
                    yield chunk

            up = timed(lambda: put(chunks(), timeout=600))
            down = timed(lambda: sum(len(c) for c in get(str(size).encode(), timeout=600)))
        return {"upload_file": up, "download_file": down}
    finally:
        server.stop()


def stage_modelyard(workdir: Path, big: Path, directory: Path) -> Json:
    port = free_port()
    data = workdir / "modelyard-data"
    exe = Path(sys.executable).parent / "modelyard-server"
    argv = [str(exe), "--address", f"127.0.0.1:{port}", "--data-dir", str(data), "serve"]
    server = Server("modelyard-server", argv, workdir / "modelyard.log")
    out = workdir / "modelyard-out"
    try:
        token_file = data / "admin.token"
        server.wait_ready(grpc_serving(f"127.0.0.1:{port}", also=token_file.exists))
        with Registry(f"127.0.0.1:{port}", token=token_file.read_text().strip()) as registry:
            registry.create_group("bench")
            with PeakRss(server) as rss:
                up = timed(lambda: registry.register("bench", path=big))
                down = timed(lambda: registry.download("bench", 1, dest=out / big.name))
            result = {"upload_file": up, "download_file": down, "rss_growth_mb": rss.growth}
            result["upload_dir"] = timed(lambda: registry.register("bench", path=directory))
            result["download_dir"] = timed(lambda: registry.download("bench", 2, dest=out / "d"))
            sent: list[int] = []
            result["reupload_dir"] = timed(lambda: sent.append(registry.upload("bench", directory)))
            result["reupload_dir_bytes_sent"] = sent[0]
        if (out / big.name).stat().st_size != big.stat().st_size:
            raise SystemExit("modelyard returned a file of another size")
        return result
    finally:
        server.stop()


def stage_mlflow(workdir: Path, mlflow_python: Path, big: Path, directory: Path) -> Json:
    port = free_port()
    root = workdir / "mlflow"
    root.mkdir()
    argv = [
        str(mlflow_python.parent / "mlflow"), "server",
        "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
        "--serve-artifacts", "--artifacts-destination", str(root / "artifacts"),
        "--host", "127.0.0.1", "--port", str(port), "--workers", "4",
        "--gunicorn-opts", "--log-level warning --timeout 600",
    ]  # fmt: skip
    env = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    server = Server("mlflow server", argv, workdir / "mlflow.log", env=env, cwd=root)
    try:
        server.wait_ready(http_ok(f"http://127.0.0.1:{port}/health"), timeout_s=180)
        out = workdir / "mlflow-out"
        out.mkdir()
        with PeakRss(server) as rss:
            done = subprocess.run(
                [str(mlflow_python), str(HERE / "mlflow_artifacts_worker.py"),
                 f"http://127.0.0.1:{port}", str(big), str(directory), str(out)],
                capture_output=True, text=True, timeout=3600, check=False,
            )  # fmt: skip
        if done.returncode != 0:
            raise SystemExit(f"the MLflow worker failed:\n{done.stderr[-3000:]}")
        result: Json = json.loads(done.stdout.strip().splitlines()[-1])
        result["rss_growth_mb"] = rss.growth  # over the whole worker: an upper bound
        return result
    finally:
        server.stop()


ROWS = [
    ("upload_file", "upload, one {big} file", "big"),
    ("download_file", "download, one {big} file", "big"),
    ("upload_dir", "upload, {n} files ({dir} in all)", "dir"),
    ("download_dir", "download, {n} files ({dir} in all)", "dir"),
    ("reupload_dir", "the same {n} files again", "dir"),
]


def render(sizes: Json, limit: Json, ours: Json, mlflow: Json) -> str:
    def mbps(size: int, seconds: float) -> float:
        return size / MIB / seconds

    disk = limit.get("disk_write_mbps")
    lines = [
        "| operation | modelyard MB/s | MLflow MB/s | modelyard / MLflow | gRPC limit MB/s "
        "| durable limit MB/s | modelyard / durable limit |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    words = {
        "big": f"{sizes['big'] // MIB} MiB",
        "dir": f"{sizes['dir'] // MIB} MiB",
        "n": sizes["files"],
    }
    for key, label, which in ROWS:
        size = sizes[which]
        ours_rate = mbps(size, ours[key])
        theirs = mbps(size, mlflow[key])
        limit_cell, durable_cell, share = "", "", ""
        if key in limit:
            # Both ways end on the disk: the server fsyncs what it stores, the client what it
            # downloads. So the most a durable transfer can move is the slower of the bare
            # stream and the disk's own write-and-fsync rate, measured in the same run.
            limit_rate = mbps(size, limit[key])
            durable = min(limit_rate, disk) if disk else limit_rate
            limit_cell, durable_cell = f"{limit_rate:.0f}", f"{durable:.0f}"
            share = f"{ours_rate / durable:.0%}"
        if key == "reupload_dir":
            cell = f"{ours[key]:.2f} s, {ours['reupload_dir_bytes_sent']} bytes sent"
            lines.append(
                f"| {label.format(**words)} | {cell} | {mlflow[key]:.2f} s, every byte sent "
                f"| {mlflow[key] / ours[key]:.1f}x | | | |"
            )
            continue
        lines.append(
            f"| {label.format(**words)} | {ours_rate:.0f} | {theirs:.0f} | "
            f"{ours_rate / theirs:.1f}x | {limit_cell} | {durable_cell} | {share} |"
        )
    lines.append(
        f"| server RSS growth while {words['big']} goes in and out | {ours['rss_growth_mb']:.0f} MiB "
        f"| {mlflow['rss_growth_mb']:.0f} MiB (all operations) | | | | |"
    )
    return "\n".join(lines)


def update_readme(table: str, meta: str) -> None:
    text = README.read_text()
    block = f"{TABLE_START}\n{meta}\n\n{table}\n{TABLE_END}"
    if TABLE_START in text:
        head, rest = text.split(TABLE_START, 1)
        text = head + block + rest.split(TABLE_END, 1)[1]
    else:
        text = text.rstrip() + "\n\n## Artifacts\n\n" + block + "\n"
    README.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mlflow-python", type=Path, required=True)
    parser.add_argument("--quick", action="store_true", help="128 MiB and 20 x 2 MiB")
    parser.add_argument("--no-readme", action="store_true")
    parser.add_argument(
        "--render-only",
        action="store_true",
        help="rebuild README.md's table from results/artifacts.json without measuring",
    )
    args = parser.parse_args()
    if args.render_only:
        saved = json.loads((RESULTS / "artifacts.json").read_text())
        table = render(saved["sizes"], saved["limit_s"], saved["modelyard_s"], saved["mlflow_s"])
        update_readme(table, meta_line(saved))
        print(table)
        return
    big_size = 128 * MIB if args.quick else 1024 * MIB
    file_size = 2 * MIB if args.quick else 10 * MIB
    files = 20
    with tempfile.TemporaryDirectory(prefix="modelyard-artifacts-bench-") as tmp:
        workdir = Path(tmp)
        big = workdir / "model.bin"
        write_random(big, big_size)
        directory = workdir / "model-dir"
        for index in range(files):
            path = directory / f"part-{index // 5}" / f"shard-{index}.bin"
            path.parent.mkdir(parents=True, exist_ok=True)
            write_random(path, file_size)
        limit = stage_limit(workdir, big_size)
        limit["disk_write_mbps"] = disk_write_mbps(workdir, big_size)
        ours = stage_modelyard(workdir, big, directory)
        shutil.rmtree(workdir / "modelyard-data")
        mlflow = stage_mlflow(workdir, args.mlflow_python.absolute(), big, directory)
    sizes = {"big": big_size, "dir": files * file_size, "files": files}
    table = render(sizes, limit, ours, mlflow)
    print(table)
    RESULTS.mkdir(exist_ok=True)
    name = "artifacts-quick.json" if args.quick else "artifacts.json"
    record = {"sizes": sizes, "limit_s": limit, "modelyard_s": ours, "mlflow_s": mlflow,
              "loadavg": os.getloadavg(), "time": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}  # fmt: skip
    (RESULTS / name).write_text(json.dumps(record, indent=2) + "\n")
    if not args.quick and not args.no_readme:
        update_readme(table, meta_line(record))


def meta_line(record: Json) -> str:
    """The line above the table: when, where, and the disk's rate in the same run."""
    return (
        f"Measured {record['time']} on this machine ({os.cpu_count()} cores), "
        f"`make -C bench artifacts`; load average after: {record['loadavg'][0]:.1f}. "
        f"The disk itself wrote {record['limit_s']['disk_write_mbps']:.0f} MB/s in the same "
        f"run ({record['sizes']['big'] // MIB} MiB written and fsynced): every upload and "
        "every download ends on it."
    )


if __name__ == "__main__":
    main()
