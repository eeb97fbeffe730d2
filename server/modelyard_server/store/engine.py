"""Database connections for SQLite (embedded default) and PostgreSQL, and migrations at start.

SQLite runs inline on the event loop through a synchronous engine. A point query takes
microseconds there, while the async driver (aiosqlite) hands every statement to a thread
and back: measured on a 2-core machine, that hand-off was nearly all of a 2 ms read and a
10 ms registration. PostgreSQL, a network database, goes through asyncpg.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from modelyard.v1 import errors_pb2 as reasons
from sqlalchemy import (
    Connection,
    Engine,
    Executable,
    Result,
    ScalarResult,
    create_engine,
    event,
    inspect,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    IntegrityError,
    InternalError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
)
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from modelyard_server.domain.errors import Unavailable

MIGRATIONS = Path(__file__).parent / "migrations"
WRITE_LOCK_TIMEOUT = 30.0


class Conn(Protocol):
    """The async statement interface the store uses, over either kind of connection."""

    async def execute(self, statement: Executable, parameters: Any = None) -> Result[Any]: ...

    async def scalar(self, statement: Executable, parameters: Any = None) -> Any: ...

    async def scalars(self, statement: Executable, parameters: Any = None) -> ScalarResult[Any]: ...


class InlineConnection:
    """A synchronous SQLAlchemy connection behind the async methods of Conn."""

    def __init__(self, conn: Connection) -> None:
        self.sync = conn

    async def execute(self, statement: Executable, parameters: Any = None) -> Result[Any]:
        return self.sync.execute(statement, parameters)

    async def scalar(self, statement: Executable, parameters: Any = None) -> Any:
        return self.sync.scalar(statement, parameters)

    async def scalars(self, statement: Executable, parameters: Any = None) -> ScalarResult[Any]:
        return self.sync.scalars(statement, parameters)


class ReadConnection(InlineConnection):
    """An inline SQLite read: its SQLAlchemy connection, and the driver's connection under it
    for prepared reads (store/prepared.py). Kept between reads: making one per read cost more
    than the read."""

    def __init__(self, conn: Connection) -> None:
        super().__init__(conn)
        driver = conn.connection.driver_connection
        assert isinstance(driver, sqlite3.Connection)
        self.driver = driver

    def begin(self) -> None:
        self.run("BEGIN")

    def end(self) -> None:
        """Ends the read transaction, whichever of the two connections began it."""
        self.sync.rollback()
        if self.driver.in_transaction:
            self.run("ROLLBACK")

    def run(self, sql: str, arguments: Sequence[Any] = ()) -> list[Any]:
        """Returns the rows of a statement run by the driver; its errors are raised as
        SQLAlchemy raises them (OperationalError and the like), so that callers tell an
        outage from a refusal whichever way a statement ran."""
        try:
            return self.driver.execute(sql, arguments).fetchall()
        except sqlite3.Error as error:
            raise DBAPIError.instance(
                sql, arguments, error, sqlite3.Error, hide_parameters=True
            ) from error


class ThreadConnection:
    """A synchronous SQLAlchemy connection whose statements run in a worker thread, for long
    reads (verifying the log) that must not hold up the event loop."""

    def __init__(self, conn: Connection) -> None:
        self.sync = conn

    async def execute(self, statement: Executable, parameters: Any = None) -> Result[Any]:
        frozen = await asyncio.to_thread(lambda: self.sync.execute(statement, parameters).freeze())
        return frozen()

    async def scalar(self, statement: Executable, parameters: Any = None) -> Any:
        return await asyncio.to_thread(self.sync.scalar, statement, parameters)

    async def scalars(self, statement: Executable, parameters: Any = None) -> ScalarResult[Any]:
        return (await self.execute(statement, parameters)).scalars()


def normalize_url(url: str) -> str:
    """Returns the URL with its driver: sqlite -> pysqlite (inline), postgresql -> asyncpg."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        parsed = parsed.set(drivername="sqlite+pysqlite")
    elif parsed.drivername in {
        "postgresql",
        "postgres",
        "postgresql+psycopg2",
        "postgresql+psycopg",
    }:
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_engine(url: str, *, pool_size: int, max_overflow: int, busy_ms: int) -> Engine:
    engine = create_engine(
        url,
        hide_parameters=True,  # errors and logs never show values: secrets, tokens' digests
        pool_size=pool_size,
        max_overflow=max_overflow,
        connect_args={"check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Transactions are begun by the store itself (BEGIN, or BEGIN IMMEDIATE for writers).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=FULL")  # an acknowledged write survives power loss
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.close()

    return engine


class StatementRefused(Exception):
    """The database refused a statement; the message names the statement and the rule it
    broke, never the values: PostgreSQL's DETAIL echoes the row (a webhook's secret, say)."""


# Refusals of a statement, whose messages may hold its values; connection errors do not,
# and stay what they are, so that callers can tell an outage (retried) from them.
_REFUSALS = (IntegrityError, DataError, ProgrammingError, InternalError, NotSupportedError)


@contextmanager
def values_kept_out_of_errors() -> Iterator[None]:
    """Turns a statement's refusal into StatementRefused, keeping only its first line (the
    rule broken) and dropping the driver's exception, whose text holds the row's values."""
    try:
        yield
    except _REFUSALS as error:
        cause = type(error.orig).__name__ if error.orig is not None else type(error).__name__
        said = "" if isinstance(error, DataError) else str(error.orig).splitlines()[0]
        said = said.partition(": ")[2] if said.startswith("<class") else said
        raise StatementRefused(
            f"the database refused a statement ({cause}: {said}); statement: {error.statement}"
        ) from None


@dataclass
class Engines:
    """The connections of one database, handed out as Conn for reads and for write transactions."""

    url: str
    postgres: AsyncEngine | None = None
    sqlite_read: Engine | None = None
    sqlite_write: Engine | None = None
    # SQLite has one writer per file: this process's writers queue here, fairly, without
    # blocking the event loop in SQLite's busy handler.
    write_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # SQLite read connections between reads, at most `idle_reads_kept` of them.
    idle_reads: list[ReadConnection] = field(default_factory=list)
    idle_reads_kept: int = 8

    @property
    def sqlite(self) -> bool:
        return self.postgres is None

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[Conn]:
        """Yields a connection whose statements read one consistent snapshot."""
        with values_kept_out_of_errors():
            if self.postgres is not None:
                async with self.postgres.connect() as conn:
                    yield conn
                return
            read = self.idle_read()
            try:
                read.begin()
                yield read
                read.end()
            except BaseException:
                # Not kept: its pool checks it (and rolls it back) when it goes back.
                read.sync.close()
                raise
            self.keep_read(read)

    def idle_read(self) -> ReadConnection:
        """Returns a SQLite read connection, outside any transaction, for keep_read."""
        if self.idle_reads:
            return self.idle_reads.pop()
        assert self.sqlite_read is not None
        return ReadConnection(self.sqlite_read.connect())

    def keep_read(self, read: ReadConnection) -> None:
        """Takes back a read connection that idle_read gave and is outside any transaction."""
        if len(self.idle_reads) < self.idle_reads_kept:
            self.idle_reads.append(read)
        else:
            read.sync.close()

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[Conn]:
        """Yields a connection for a long read: its statements see one consistent snapshot
        and never run on the event loop (SQLite's in a worker thread)."""
        if self.postgres is not None:
            async with self.postgres.connect() as conn:
                await conn.execution_options(isolation_level="REPEATABLE READ")
                async with conn.begin():
                    yield conn
            return
        engine = self.sqlite_read
        assert engine is not None

        def begin() -> Connection:
            sync = engine.connect()
            sync.exec_driver_sql("BEGIN")
            return sync

        def end(sync: Connection) -> None:
            sync.rollback()
            sync.close()

        sync = await asyncio.to_thread(begin)
        try:
            yield ThreadConnection(sync)
        finally:
            await asyncio.to_thread(end, sync)

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[Conn]:
        """Yields a connection in a write transaction that commits when the block exits cleanly."""
        with values_kept_out_of_errors():
            if self.postgres is not None:
                async with self.postgres.begin() as conn:
                    yield conn
                return
            assert self.sqlite_write is not None
            async with self.write_lock:
                with self.sqlite_write.connect() as sync:
                    await _begin_immediate(sync)
                    try:
                        yield InlineConnection(sync)
                    except BaseException:
                        sync.rollback()
                        raise
                    sync.commit()

    async def dispose(self) -> None:
        while self.idle_reads:
            self.idle_reads.pop().sync.close()
        if self.postgres is not None:
            await self.postgres.dispose()
        for engine in (self.sqlite_read, self.sqlite_write):
            if engine is not None:
                engine.dispose()


async def _begin_immediate(sync: Connection) -> None:
    """Takes SQLite's write lock, waiting (without blocking the loop) while another process holds it."""
    delay = 0.001
    deadline = time.monotonic() + WRITE_LOCK_TIMEOUT
    while True:
        try:
            sync.exec_driver_sql("BEGIN IMMEDIATE")
            return
        except OperationalError as error:
            sync.rollback()
            if "locked" not in str(error) and "busy" not in str(error):
                raise
            if time.monotonic() > deadline:
                raise Unavailable(
                    reasons.DATABASE_UNAVAILABLE,
                    "the database stayed locked by another writer; retry the request",
                ) from error
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.05)


def open_engines(url: str, *, pool_size: int = 8) -> Engines:
    url = normalize_url(url)
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        return Engines(
            url,
            # Readers never wait for a connection: a blocking checkout would stall the loop.
            sqlite_read=_sqlite_engine(url, pool_size=pool_size, max_overflow=-1, busy_ms=5000),
            # The writer never blocks in SQLite's busy handler; _begin_immediate retries instead.
            sqlite_write=_sqlite_engine(url, pool_size=1, max_overflow=0, busy_ms=0),
        )
    engine = create_async_engine(
        url,
        hide_parameters=True,  # errors and logs never show values: secrets, tokens' digests
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
    )
    return Engines(url, postgres=engine)


def _alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url)
    return config


def _upgrade(url: str, connection: Connection) -> None:
    config = _alembic_config(url)
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def migrate(engines: Engines) -> None:
    """Applies every Alembic migration the database lacks, in one transaction."""
    if engines.postgres is not None:
        async with engines.postgres.begin() as conn:
            # Replicas starting together: one migrates, the others wait for it.
            await conn.exec_driver_sql("SELECT pg_advisory_xact_lock(727274)")
            await conn.run_sync(lambda sync: _upgrade(engines.url, sync))
        return
    assert engines.sqlite_write is not None
    async with engines.write_lock:
        with engines.sqlite_write.connect() as sync:
            await _begin_immediate(sync)
            try:
                _upgrade(engines.url, sync)
            except BaseException:
                sync.rollback()
                raise
            sync.commit()


async def schema_revision(engines: Engines) -> str | None:
    """Returns the migration the database is at; None when it has none (no schema yet).
    Raises what connecting raises when the database cannot be reached or opened."""
    if engines.postgres is not None:
        async with engines.postgres.connect() as conn:
            return await conn.run_sync(_current_revision)
    assert engines.sqlite_read is not None
    with engines.sqlite_read.connect() as sync:
        return _current_revision(sync)


def _current_revision(connection: Connection) -> str | None:
    # Read directly: alembic's MigrationContext would log two INFO lines for one SELECT.
    if not inspect(connection).has_table("alembic_version"):
        return None
    revision: str | None = connection.exec_driver_sql(
        "SELECT version_num FROM alembic_version"
    ).scalar()
    return revision


def known_revisions() -> list[str]:
    """Returns the migrations this server has, oldest first."""
    scripts = ScriptDirectory(str(MIGRATIONS))
    return [script.revision for script in reversed(list(scripts.walk_revisions()))]


__all__: Sequence[str] = [
    "Conn",
    "Engines",
    "InlineConnection",
    "ReadConnection",
    "StatementRefused",
    "ThreadConnection",
    "known_revisions",
    "migrate",
    "open_engines",
    "schema_revision",
]
