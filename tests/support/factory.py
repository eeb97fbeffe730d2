"""The one way the tests get a modelyard server: in this process or as a subprocess, on
SQLite or PostgreSQL, with settings of its own."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, overload

import grpc
import pytest

from tests.support.inprocess import OPTIONS, InProcessServer
from tests.support.postgres import create_database_or_skip, drop_database
from tests.support.servers import Server, ServerProcess

BACKENDS = ["sqlite", "postgres"]
# The tests' webhook receivers listen on loopback, which the server refuses by default:
# every test server allows it, unless a test gives webhook_allow_cidr="" (the default).
TEST_ALLOW_CIDR = "127.0.0.1/32"
# Shared test servers take refused tokens from many tests, all from 127.0.0.1, on purpose;
# the production default (20 a minute) would throttle the tests that come after. The
# throttle's own tests pass their limits.
TEST_AUTH_FAILURE_LIMIT = "100000"


SWITCHES = {option.field for option in OPTIONS if option.kind == "switch"}


def as_flag(name: str, value: str) -> str:
    """Returns a setting as its flag: `--name=value`, or `--name` alone for a switch."""
    flag = "--" + name.replace("_", "-")
    if name not in SWITCHES:
        return f"{flag}={value}"
    if value != "1":
        raise ValueError(f"{flag} is a switch: give it as '1' or leave it out")
    return flag


class ServerFactory:
    """Starts servers and stops, at the latest when it is closed, every one it started.

    `factory(backend, process=False, workers=1, database_url=None, **settings)` returns a
    started server: in this process unless `process` (for kill -9, SIGTERM, workers,
    restarts), with `settings` named as the fields of the server's Settings and given as
    text (`heartbeat_seconds="0.2"`; a subprocess gets them as flags, `--heartbeat-seconds`);
    webhooks may deliver to 127.0.0.1 unless `webhook_allow_cidr` says otherwise. On PostgreSQL it gets a
    fresh database, dropped when it stops, unless `database_url` names one (the caller's).
    Its data directory is a new one, unless `data_dir` names one that holds data already.
    A subprocess that serves TLS is waited for with `credentials` (those that trust its
    certificate). Use it as a context manager to stop it at the end of a test.
    """

    def __init__(self, tmp: pytest.TempPathFactory) -> None:
        self.tmp = tmp
        self.started: list[Server] = []

    @overload
    def __call__(
        self,
        backend: str = ...,
        *,
        process: Literal[False] = ...,
        workers: int = ...,
        database_url: str | None = ...,
        data_dir: Path | None = ...,
        env: dict[str, str] | None = ...,
        credentials: grpc.ChannelCredentials | None = ...,
        **settings: str,
    ) -> InProcessServer: ...

    @overload
    def __call__(
        self,
        backend: str = ...,
        *,
        process: Literal[True],
        workers: int = ...,
        database_url: str | None = ...,
        data_dir: Path | None = ...,
        env: dict[str, str] | None = ...,
        credentials: grpc.ChannelCredentials | None = ...,
        **settings: str,
    ) -> ServerProcess: ...

    def __call__(
        self,
        backend: str = "sqlite",
        *,
        process: bool = False,
        workers: int = 1,
        database_url: str | None = None,
        data_dir: Path | None = None,
        env: dict[str, str] | None = None,
        credentials: grpc.ChannelCredentials | None = None,
        **settings: str,
    ) -> InProcessServer | ServerProcess:
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; use one of {BACKENDS}")
        settings = {
            "webhook_allow_cidr": TEST_ALLOW_CIDR,
            "auth_failure_limit": TEST_AUTH_FAILURE_LIMIT,
            **settings,
        }
        if (workers > 1 or env) and not process:
            raise ValueError("workers and an environment of its own need process=True")
        created = None
        if backend == "postgres" and database_url is None:
            created = database_url = create_database_or_skip()
        if data_dir is None:
            data_dir = self.tmp.mktemp(f"{'process' if process else 'server'}-{backend}")
        server: InProcessServer | ServerProcess
        if process:
            # As an operator would: each setting as its flag on the command line.
            flags = [as_flag(name, value) for name, value in settings.items()]
            server = ServerProcess(
                data_dir,
                database_url,
                backend,
                flags=flags,
                workers=workers,
                credentials=credentials,
                env=env or {},
            )
        else:
            server = InProcessServer(data_dir, database_url, backend, settings=settings)
        if created is not None:
            server.cleanups.append(lambda: drop_database(created))
        self.started.append(server)
        try:
            server.start()
        except BaseException:
            server.close()
            raise
        return server

    def close(self) -> None:
        """Stops every server still running, newest first."""
        for server in reversed(self.started):
            server.close()
        self.started.clear()
