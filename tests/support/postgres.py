"""PostgreSQL for the tests: a fresh database per use on the server the environment names."""

from __future__ import annotations

import asyncio
import os
import secrets

import pytest

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"


class PostgresUnavailable(Exception):
    pass


def admin_url() -> str:
    """Returns the URL of the maintenance database the tests create their databases from."""
    return os.environ.get("MODELYARD_TEST_POSTGRES_URL", DEFAULT_POSTGRES)


async def run_admin_sql(sql: str) -> None:
    """Runs one statement on the maintenance database (CREATE/DROP DATABASE, pg_terminate_backend)."""
    import asyncpg

    url = admin_url().replace("postgresql+asyncpg://", "postgresql://")
    try:
        conn = await asyncpg.connect(url, timeout=5)
    except (OSError, asyncpg.PostgresError) as error:
        raise PostgresUnavailable(f"no PostgreSQL at {url}: {error}") from error
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def create_database() -> str:
    """Creates a fresh database and returns its URL; raises PostgresUnavailable without a server."""
    name = f"modelyard_test_{os.getpid()}_{secrets.token_hex(4)}"
    asyncio.run(run_admin_sql(f'CREATE DATABASE "{name}"'))
    base = admin_url().rsplit("/", 1)[0]
    return f"{base}/{name}"


def create_database_or_skip() -> str:
    """Returns the URL of a fresh database; skips the test without PostgreSQL, except under CI,
    where every PostgreSQL test must run and its absence fails the test instead."""
    try:
        return create_database()
    except PostgresUnavailable as error:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the PostgreSQL tests, but: {error}")
        pytest.skip(f"PostgreSQL tests skipped: {error} (set MODELYARD_TEST_POSTGRES_URL)")


def drop_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    asyncio.run(run_admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def database_name(url: str) -> str:
    return url.rsplit("/", 1)[1]
