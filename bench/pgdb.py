"""Fresh PostgreSQL databases for the stages on PostgreSQL: created empty for one stage,
dropped after it, under names no one else uses (prefix, process id, a random part).

Runs in the top-level venv, which has asyncpg (the server's driver).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from benchlib import ANALYZE

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432"
_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


def _url(server: str, database: str) -> str:
    parts = urlsplit(server)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, ""))


async def _admin(server: str, statement: str) -> None:
    connection = await asyncpg.connect(_url(server, "postgres"))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def reachable(server: str) -> str | None:
    """None when the server answers, else why not (one sentence)."""
    try:
        asyncio.run(_admin(server, "SELECT 1"))
    except (OSError, asyncpg.PostgresError) as exc:
        return f"PostgreSQL at {server} is not reachable ({exc}); start it or pass --pg-server"
    return None


def analyze(database_url: str) -> None:
    """Refreshes the planner statistics of a database (see benchlib.ANALYZE)."""
    connection_url = database_url.replace("postgresql+asyncpg://", "postgresql://", 1)

    async def run() -> None:
        connection = await asyncpg.connect(connection_url)
        try:
            await connection.execute(ANALYZE)
        finally:
            await connection.close()

    asyncio.run(run())


@contextlib.contextmanager
def fresh_database(server: str, prefix: str, stage: str) -> Iterator[str]:
    """Yields the URL of a new, empty database on `server`; drops it afterwards."""
    name = f"{prefix}_{stage}_{os.getpid()}_{secrets.token_hex(3)}".lower()
    if not _NAME.match(name):
        raise ValueError(f"{name!r} is no plain database name; pick a prefix of a-z, 0-9, _")
    asyncio.run(_admin(server, f'CREATE DATABASE "{name}"'))
    try:
        yield _url(server, name)
    finally:
        # WITH (FORCE) ends connections a stopped server may have left behind.
        asyncio.run(_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
