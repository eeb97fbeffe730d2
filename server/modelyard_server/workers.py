"""Several server processes on one port, for the cores of one machine.

gRPC in Python serves from one process per core at best, so `serve --workers N` starts N
server processes that share the listening port (SO_REUSEPORT; the kernel spreads new
connections among them). They hold no state another needs: the database is shared, and each
worker's event hub follows the log. The supervisor migrates and writes the admin token once,
forwards SIGTERM/SIGINT, and stops every worker if one dies, so that a process manager sees
the failure and restarts the whole server.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from types import FrameType

from modelyard_server import app
from modelyard_server.config import Settings
from modelyard_server.observability import metrics

log = logging.getLogger("modelyard.workers")


def _address_with_port(address: str) -> str:
    """Returns the address with a concrete port: workers must agree on one."""
    host, _, port = address.rpartition(":")
    if port != "0":
        return address
    with socket.socket(socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET) as probe:
        probe.bind((host.strip("[]"), 0))
        return f"{host}:{probe.getsockname()[1]}"


def supervise(settings: Settings) -> int:
    """Runs `settings.workers` server processes until a signal or a worker's death; returns the exit code."""
    asyncio.run(app.prepare(settings))
    address = _address_with_port(settings.address)
    # Every setting reaches the workers through its variable, as config.load reads it.
    env = {
        **os.environ,
        **settings.as_environment(),
        "MODELYARD_ADDRESS": address,
        # The web UI's port too: each worker serves it on the shared port.
        "MODELYARD_HTTP_ADDRESS": _address_with_port(settings.http_address)
        if settings.http_address
        else "",
        "MODELYARD_REUSE_PORT": "1",
        "MODELYARD_WORKERS": "1",
    }
    metrics_dir = None
    if settings.metrics_address:
        # One directory for every worker's metrics, so whichever answers a scrape reports
        # all of them (prometheus-client's multiprocess mode); fresh, so no stale counts.
        metrics_dir = tempfile.mkdtemp(prefix="modelyard-metrics-")
        env[metrics.MULTIPROCESS_ENV] = metrics_dir
        env["MODELYARD_METRICS_ADDRESS"] = _address_with_port(settings.metrics_address)
    try:
        return _run_workers(settings, address, env)
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _run_workers(settings: Settings, address: str, env: dict[str, str]) -> int:
    command = [sys.executable, "-m", "modelyard_server", "serve"]
    children = [subprocess.Popen(command, env=env) for _ in range(settings.workers)]
    log.info(
        "modelyard serving on %s with %d workers (%s; data %s)",
        address,
        len(children),
        app.transport(settings),
        settings.data_dir,
    )
    stopping = False

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    code = 0
    while not stopping:
        dead = [c for c in children if c.poll() is not None]
        if dead:
            log.error(
                "worker %d exited with %s; stopping the others", dead[0].pid, dead[0].returncode
            )
            code = 1
            break
        time.sleep(0.2)
    log.info("shutting down %d workers", len(children))
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + settings.grace_seconds + 10
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    return code
