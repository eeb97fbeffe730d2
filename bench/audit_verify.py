"""How a simple read fares while a viewer verifies the audit log in a loop.

Imports ENTRIES versions (one log entry each) into a fresh SQLite data directory, serves it
as a subprocess, and times `get_group` from one client: first alone, then while another
client (a viewer) calls VerifyAuditLog back to back, incremental (the default) and full.

    ../.venv/bin/python audit_verify.py [--entries 20000] [--reads 300] [--server-src DIR]

`--server-src` runs the server from another source tree (e.g. an older release's `server/`
unpacked with `git archive`), to compare before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from modelyard import Registry

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def server_command(src: str | None) -> list[str]:
    return [sys.executable, "-m", "modelyard_server"] if src else [str(BIN / "modelyard-server")]


def environment(src: str | None) -> dict[str, str]:
    env = dict(os.environ)
    if src:
        env["PYTHONPATH"] = src
    return env


def timed_reads(registry: Registry, group: str, count: int) -> list[float]:
    took = []
    for _ in range(count):
        started = time.perf_counter()
        registry.get_group(group)
        took.append((time.perf_counter() - started) * 1000)
    return took


def verify_until(
    address: str, token: str, full: bool, stop: threading.Event, done: list[int]
) -> None:
    """Calls VerifyAuditLog back to back, as a viewer, until stopped; counts the calls."""
    with Registry(address, token=token, timeout=600) as looping:
        while not stop.is_set():
            looping.verify_audit_log(full=full)
            done[0] += 1


def summary(label: str, took: list[float], verifications: int = 0) -> str:
    took = sorted(took)
    p50 = statistics.median(took)
    p99 = took[int(len(took) * 0.99) - 1]
    extra = f", {verifications} verifications meanwhile" if verifications else ""
    return f"{label:<34} p50 {p50:8.2f} ms  p99 {p99:8.2f} ms{extra}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=20_000)
    parser.add_argument("--reads", type=int, default=300)
    parser.add_argument("--server-src", default=None)
    args = parser.parse_args()
    command, env = server_command(args.server_src), environment(args.server_src)
    with tempfile.TemporaryDirectory(prefix="audit-bench-") as tmp:
        data = Path(tmp) / "data"
        versions = Path(tmp) / "v.jsonl"
        with versions.open("w") as out:
            for i in range(args.entries):
                artifact = {"uri": f"s3://m/{i}", "sha256": f"{i:064x}", "sizeBytes": "10"}
                out.write(json.dumps({"artifact": artifact, "tags": {"n": str(i)}}) + "\n")
        subprocess.run([*command, "--data-dir", str(data), "migrate"], env=env, check=True)
        subprocess.run(
            [*command, "--data-dir", str(data), "import", "--group", "bench", str(versions)],
            env=env,
            check=True,
        )

        def token(role: str) -> str:
            made = subprocess.run(
                [*command, "--data-dir", str(data), "token", "--subject", role, "--role", role],
                env=env,
                check=True,
                capture_output=True,
                text=True,
            )
            return made.stdout.strip()

        admin_token, viewer = token("admin"), token("viewer")
        address = f"127.0.0.1:{free_port()}"
        server = subprocess.Popen(
            [*command, "--data-dir", str(data), "--address", address, "serve"],
            env=env,
            stderr=subprocess.DEVNULL,
        )
        try:
            with Registry(address, token=admin_token, timeout=600) as reader:
                for _ in range(100):
                    try:
                        reader.get_group("bench")
                        break
                    except Exception:
                        time.sleep(0.1)
                print(summary("get_group alone", timed_reads(reader, "bench", args.reads)))
                with Registry(address, token=viewer, timeout=600) as once:
                    for label, full in (("first", False), ("next", False), ("full", True)):
                        started = time.perf_counter()
                        once.verify_audit_log(full=full)
                        seconds = time.perf_counter() - started
                        print(f"VerifyAuditLog ({label}):{'':<17} {seconds * 1000:8.1f} ms")
                for full in (False, True):
                    stop = threading.Event()
                    done = [0]
                    loop = threading.Thread(
                        target=verify_until, args=(address, viewer, full, stop, done)
                    )
                    loop.start()
                    time.sleep(0.5)
                    took = timed_reads(reader, "bench", args.reads)
                    stop.set()
                    loop.join()
                    label = "while verifying " + ("(full)" if full else "(default)")
                    print(summary(label, took, done[0]))
        finally:
            server.terminate()
            server.wait(30)


if __name__ == "__main__":
    main()
