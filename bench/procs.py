"""Starting, probing and stopping the servers under test.

Each server is started in a new session, so that it and every process it forks (MLflow's
gunicorn workers) share one process group whose id is the pid we started; stopping sends
SIGTERM to that group, by that id, and SIGKILL only if it has not exited in time. Nothing
is ever stopped by name.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Server:
    """One server process (and its process group) with its output in a log file."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 (closed in stop())
        self.proc = subprocess.Popen(
            self.argv,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            start_new_session=True,
        )
        self.started = time.monotonic()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_ready(self, probe: Callable[[], bool], timeout_s: float = 120.0) -> float:
        """Polls probe() until it is true; returns the seconds the server took to be ready."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.proc.returncode} before it was ready; "
                    f"its log:\n{self.tail()}"
                )
            try:
                if probe():
                    return time.monotonic() - self.started
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready after {timeout_s} s; its log:\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        self._log.flush()
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def rss_mb(self) -> float:
        """Resident memory of every process in the server's session, in MiB."""
        total_kb = 0
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if os.getsid(int(entry.name)) != self.pid:
                    continue
                for line in (entry / "status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total_kb += int(line.split()[1])
            except (OSError, ValueError):
                continue
        return round(total_kb / 1024, 1)

    def stop(self, grace_s: float = 15.0) -> int | None:
        """SIGTERM to the group we started, SIGKILL after grace_s; returns the exit code."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(grace_s)
            except subprocess.TimeoutExpired:
                os.killpg(self.pid, signal.SIGKILL)
                self.proc.wait()
        # Children that outlived the leader (they still carry our group id) go too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        self._log.close()
        return self.proc.returncode


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and its threads so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tcp_accepts(port: int) -> Callable[[], bool]:
    def probe() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True

    return probe


def http_ok(url: str) -> Callable[[], bool]:
    def probe() -> bool:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)

    return probe


def grpc_serving(address: str, also: Callable[[], bool] | None = None) -> Callable[[], bool]:
    """The standard gRPC health check says SERVING (and `also`, if given, holds)."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    def probe() -> bool:
        if also is not None and not also():
            return False
        with grpc.insecure_channel(address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1)
            except grpc.RpcError:
                return False
            return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

    return probe
