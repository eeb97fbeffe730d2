"""A modelyard server as the tests see it, and the kind that runs as a real subprocess.

The in-process kind is in `tests.support.inprocess`; `tests.support.factory` starts either.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Self

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.support.paths import SERVER_BIN

SERVING = re.compile(r"modelyard serving on (\S+):(\d+)")


@dataclass
class Server:
    """A started modelyard server: where it listens, its data directory and its database.

    As a context manager it is stopped at the end of the block, and a database made for it
    is dropped.
    """

    data_dir: Path
    # None: the SQLite file in the data directory, as the server defaults to.
    database_url: str | None = None
    backend: str = "sqlite"
    address: str = ""
    port: int = 0
    # The web UI's port, when the server was given an http_address.
    http_port: int = 0
    # Run after the server stopped, e.g. to drop the database made for it.
    cleanups: list[Callable[[], None]] = field(default_factory=list)

    @property
    def token(self) -> str:
        """The admin token the first start wrote."""
        return (self.data_dir / "admin.token").read_text().strip()

    @property
    def log_file(self) -> Path:
        """What the server logged."""
        return self.data_dir / "server.log"

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> int | None:
        """Stops the server gracefully; returns the exit code of a process."""
        raise NotImplementedError

    def mint_token(self, subject: str, *roles: str, tenant: str | None = None) -> str:
        """Returns a new bearer token for `subject` (in the default tenant unless given)."""
        raise NotImplementedError

    def close(self) -> None:
        """Stops the server and runs its cleanups; once is enough, twice does no harm."""
        try:
            self.stop()
        finally:
            cleanups, self.cleanups = self.cleanups, []
            for cleanup in reversed(cleanups):
                cleanup()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self.close()


def operator_command(server: Server, *args: str) -> str:
    """Runs `modelyard-server ARGS` on the server's data directory and database, as an
    operator would; returns its stdout and raises CalledProcessError when it fails."""
    command = [str(SERVER_BIN), "--data-dir", str(server.data_dir)]
    if server.database_url:
        command += ["--database-url", server.database_url]
    done = subprocess.run([*command, *args], capture_output=True, text=True, timeout=60, check=True)
    return done.stdout.strip()


def token_command(subject: str, roles: tuple[str, ...], tenant: str | None) -> list[str]:
    """Returns the arguments of `modelyard-server token` for a principal."""
    args = ["token", "--subject", subject]
    if tenant is not None:
        args += ["--tenant", tenant]
    for role in roles:
        args += ["--role", role]
    return args


@dataclass
class ServerProcess(Server):
    """A modelyard-server process; `restart` keeps its data directory, database and port."""

    flags: list[str] = field(default_factory=list)
    workers: int = 1
    # Variables the process gets beyond the test's (OTEL_*, for instance).
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    # What a channel to it needs when it serves TLS: waiting for it uses them.
    credentials: grpc.ChannelCredentials | None = None

    def start(self, timeout: float = 30.0) -> Self:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # Reuse the port across restarts so clients that remember the address reconnect.
        address = f"127.0.0.1:{self.port}"
        command = [str(SERVER_BIN), "--data-dir", str(self.data_dir), "--address", address]
        if self.database_url:
            command += ["--database-url", self.database_url]
        # The server's settings are its flags alone, whatever the shell running the tests has.
        env = {k: v for k, v in os.environ.items() if not k.startswith("MODELYARD_")}
        env.update(self.env)
        serve = ["serve", *self.flags]
        if self.workers > 1:
            serve += ["--workers", str(self.workers)]
        offset = self.log_file.stat().st_size if self.log_file.exists() else 0
        with self.log_file.open("ab") as log:  # the child keeps its own descriptor
            self.process = subprocess.Popen([*command, *serve], stdout=log, stderr=log, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log_file.read_bytes()[offset:].decode(errors="replace")
            match = SERVING.search(text)
            if match:
                self.port = int(match.group(2))
                self.address = f"127.0.0.1:{self.port}"
                wait_serving(self.address, deadline - time.monotonic(), self.credentials)
                return self
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"modelyard-server exited with {self.process.returncode}:\n{text}"
                )
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(
            f"modelyard-server did not start in {timeout}s:\n{self.log_file.read_text()}"
        )

    def kill9(self) -> None:
        """Kills the process with SIGKILL: no shutdown code runs."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> int | None:
        """Stops the process with SIGTERM (graceful shutdown) and returns its exit code."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(timeout=10)

    def mint_token(self, subject: str, *roles: str, tenant: str | None = None) -> str:
        """Returns a new bearer token for `subject`, made by the operator command."""
        return operator_command(self, *token_command(subject, roles, tenant))

    def restart(self) -> Self:
        self.stop()
        return self.start()


def wait_serving(
    address: str, timeout: float = 20.0, credentials: grpc.ChannelCredentials | None = None
) -> None:
    """Waits until the health service says SERVING (over TLS with `credentials`)."""
    deadline = time.monotonic() + timeout
    channel = (
        grpc.insecure_channel(address)
        if credentials is None
        else grpc.secure_channel(address, credentials)
    )
    with channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while True:
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{address} is not SERVING after {timeout}s")
            time.sleep(0.05)


def shared_key_file(directory: Path) -> str:
    """Writes and returns a key file for replicas of one database: they must all hold the
    same one (a replica with a key of its own refuses to start)."""
    path = directory / "shared-server.key"
    path.write_text(secrets.token_hex(32) + "\n")
    path.chmod(0o600)
    return str(path)
