"""Real modelyard servers for the tests: subprocesses on loopback ports, real databases."""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

SERVER_BIN = Path(sys.executable).parent / "modelyard-server"
SERVING = re.compile(r"modelyard serving on (\S+):(\d+)")
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"


@dataclass
class ServerProcess:
    """A modelyard-server process; `restart` keeps its data directory and database."""

    data_dir: Path
    database_url: str | None = None
    backend: str = "sqlite"
    extra_env: dict[str, str] = field(default_factory=dict)
    workers: int = 1
    process: subprocess.Popen[bytes] | None = None
    address: str = ""
    port: int = 0

    @property
    def token(self) -> str:
        return (self.data_dir / "admin.token").read_text().strip()

    @property
    def log_file(self) -> Path:
        return self.data_dir / "server.log"

    def start(self, timeout: float = 30.0) -> ServerProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # Reuse the port across restarts so clients that remember the address reconnect.
        address = f"127.0.0.1:{self.port}"
        command = [str(SERVER_BIN), "--data-dir", str(self.data_dir), "--address", address]
        if self.database_url:
            command += ["--database-url", self.database_url]
        log = self.log_file.open("ab")
        offset = self.log_file.stat().st_size
        env = {**os.environ, **self.extra_env}
        env.pop("MODELYARD_DATABASE_URL", None)
        serve = ["serve", "--workers", str(self.workers)] if self.workers > 1 else ["serve"]
        self.process = subprocess.Popen([*command, *serve], stdout=log, stderr=log, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log_file.read_bytes()[offset:].decode(errors="replace")
            match = SERVING.search(text)
            if match:
                self.port = int(match.group(2))
                self.address = f"127.0.0.1:{self.port}"
                wait_serving(self.address, timeout=deadline - time.monotonic())
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

    def mint_token(self, subject: str, *roles: str) -> str:
        """Returns a new bearer token for `subject`, made by the operator command."""
        command = [str(SERVER_BIN), "--data-dir", str(self.data_dir)]
        if self.database_url:
            command += ["--database-url", self.database_url]
        command += ["token", "--subject", subject]
        for role in roles:
            command += ["--role", role]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
        return done.stdout.strip()

    def restart(self) -> ServerProcess:
        self.stop()
        return self.start()


def wait_serving(address: str, timeout: float = 20.0) -> None:
    """Waits until the health service says SERVING."""
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(address) as channel:
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


class PostgresUnavailable(Exception):
    pass


def postgres_admin_url() -> str:
    return os.environ.get("MODELYARD_TEST_POSTGRES_URL", DEFAULT_POSTGRES)


async def _admin(sql: str) -> None:
    import asyncpg

    url = postgres_admin_url().replace("postgresql+asyncpg://", "postgresql://")
    try:
        conn = await asyncpg.connect(url, timeout=5)
    except (OSError, asyncpg.PostgresError) as error:
        raise PostgresUnavailable(f"no PostgreSQL at {url}: {error}") from error
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def create_database() -> str:
    """Creates a fresh database for this test run and returns its URL."""
    name = f"modelyard_test_{os.getpid()}_{secrets.token_hex(4)}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    base = postgres_admin_url().rsplit("/", 1)[0]
    return f"{base}/{name}"


def drop_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
