"""Database connections for SQLite (embedded default) and PostgreSQL, and migrations at start.

SQLite runs inline on the event loop through a synchronous engine. A point query takes
microseconds there, while the async driver (aiosqlite) hands every statement to a thread
and back: measured on a 2-core machine, that hand-off was nearly all of a 2 ms read and a
10 ms registration. PostgreSQL, a network database, goes through asyncpg.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

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
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    IntegrityError,
    InternalError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
)

from modelyard_server.domain.errors import Unavailable
from modelyard_server.observability import metrics

if TYPE_CHECKING:  # imported where used (a migration, a PostgreSQL engine), not at start
    from alembic.config import Config
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncTransaction

MIGRATIONS = Path(__file__).parent / "migrations"
# The newest migration in MIGRATIONS (a unit test holds the two together). A database at
# it needs no migrating, and the server starts without importing Alembic at all: that was
# 0.18 s of every start.
SCHEMA_HEAD = "0008"
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


class DriverConnection(InlineConnection):
    """An inline SQLite connection: its SQLAlchemy connection, and the driver's connection
    under it for prepared statements (store/prepared.py), which skip SQLAlchemy's execution."""

    def __init__(self, conn: Connection) -> None:
        super().__init__(conn)
        driver = conn.connection.driver_connection
        assert isinstance(driver, sqlite3.Connection)
        self.driver = driver

    def run(self, sql: str, arguments: Sequence[Any] = ()) -> list[Any]:
        """Returns the rows of a statement run by the driver."""
        with _as_sqlalchemy_errors(sql, arguments):
            return self.driver.execute(sql, arguments).fetchall()

    def run_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Runs a statement once per row of arguments (an INSERT of several rows)."""
        with _as_sqlalchemy_errors(sql, rows):
            self.driver.executemany(sql, rows)


@contextmanager
def _as_sqlalchemy_errors(sql: str, arguments: Any) -> Iterator[None]:
    """Raises the driver's errors as SQLAlchemy raises them (OperationalError,
    IntegrityError and the like), so that callers tell an outage from a refusal whichever
    way a statement ran."""
    try:
        yield
    except sqlite3.Error as error:
        raise DBAPIError.instance(
            sql, arguments, error, sqlite3.Error, hide_parameters=True
        ) from error


class ReadConnection(DriverConnection):
    """An inline SQLite read, kept between reads: making one per read cost more than the read."""

    def begin(self) -> None:
        self.run("BEGIN")

    def end(self) -> None:
        """Ends the read transaction, whichever of the two connections began it."""
        self.sync.rollback()
        if self.driver.in_transaction:
            self.run("ROLLBACK")


class AsyncpgConnection:
    """A PostgreSQL connection: its SQLAlchemy connection, which runs statements as Conn,
    and asyncpg's under it, which prepared statements (store/prepared.py) run on."""

    def __init__(self, conn: AsyncConnection, driver: Any) -> None:
        self.conn = conn
        self.driver = driver

    async def execute(self, statement: Executable, parameters: Any = None) -> Result[Any]:
        return await self.conn.execute(statement, parameters)

    async def scalar(self, statement: Executable, parameters: Any = None) -> Any:
        return await self.conn.scalar(statement, parameters)

    async def scalars(self, statement: Executable, parameters: Any = None) -> ScalarResult[Any]:
        return await self.conn.scalars(statement, parameters)


class LookupConnection(AsyncpgConnection):
    """A PostgreSQL connection in autocommit, for a lookup; prepared reads on asyncpg skip
    SQLAlchemy's execution: about 0.3 ms a statement on two cores, against a round trip of
    0.25 ms."""

    def __init__(self, conn: AsyncConnection, driver: Any, disconnects: int = 0) -> None:
        super().__init__(conn, driver)
        self.disconnects = disconnects  # Engines.disconnects when it was checked out

    async def fetch(self, sql: str, arguments: Sequence[Any]) -> list[Any]:
        """Returns the rows of a statement asyncpg runs (and keeps prepared)."""
        rows: list[Any] = await self.driver.fetch(sql, *arguments)
        return rows


class TransactionConnection(AsyncpgConnection):
    """A PostgreSQL connection in a write transaction; prepared statements on asyncpg skip
    SQLAlchemy's execution (about 80 µs of CPU a statement, of 150).

    A statement goes to asyncpg only once the transaction has begun (SQLAlchemy begins it
    with the first statement it runs), and whatever asyncpg raises is raised as SQLAlchemy
    would have raised it (see `raw`)."""

    def ready(self) -> bool:
        """Whether the transaction has begun on the server, so that asyncpg may run in it."""
        return bool(self.driver.is_in_transaction())

    async def raw(
        self,
        sql: str,
        run: Callable[[], Awaitable[Any]],
        again: Callable[[], Awaitable[Any]],
    ) -> Any:
        """Returns what `run` (a statement on asyncpg) returns. If the database refused the
        statement, raises the error SQLAlchemy raises for it (the transaction is then
        aborted, as it would be). If anything else went wrong (the connection was lost, or
        asyncpg refused the arguments before sending anything), returns what `again`, the
        same statement through SQLAlchemy, returns: on a lost connection it fails as it does
        through SQLAlchemy (UNAVAILABLE, and the pool drops every connection it had)."""
        from asyncpg import PostgresError

        try:
            return await run()
        except PostgresError as error:
            state = str(error.sqlstate or "")
            if not state.startswith(("08", "57P")):  # not a lost connection
                raise _refused(sql, error) from error
        except Exception:  # SQLAlchemy runs it again, below, and raises what it raises
            pass
        return await again()


def _refused(sql: str, error: Exception) -> DBAPIError:
    """The SQLAlchemy error of a statement PostgreSQL refused, of the class SQLAlchemy's
    asyncpg dialect gives it."""
    from asyncpg.exceptions import (
        IntegrityConstraintViolationError,
        InternalServerError,
        SyntaxOrAccessError,
    )

    kind: type[DBAPIError] = DBAPIError
    if isinstance(error, IntegrityConstraintViolationError):
        kind = IntegrityError
    elif isinstance(error, SyntaxOrAccessError):
        kind = ProgrammingError
    elif isinstance(error, InternalServerError):
        kind = InternalError
    return kind(sql, None, error, hide_parameters=True)


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
        if error.connection_invalidated:  # not a refusal: the connection died under it
            raise
        cause = type(error.orig).__name__ if error.orig is not None else type(error).__name__
        said = "" if isinstance(error, DataError) else str(error.orig).splitlines()[0]
        said = said.partition(": ")[2] if said.startswith("<class") else said
        raise StatementRefused(
            f"the database refused a statement ({cause}: {said}); statement: {error.statement}"
        ) from None


class Transaction(Protocol):
    """An open database transaction that units of work take turns on, each in a savepoint."""

    conn: Conn

    async def savepoint(self) -> None: ...

    async def release(self) -> None: ...

    async def rollback_to_savepoint(self) -> None: ...

    async def commit(self) -> None: ...

    async def abort(self) -> None: ...


class SqliteTransaction:
    """A transaction on SQLite's one write connection, which the process keeps (see
    `Engines.write_connection`). Its statements run inline (each takes microseconds); its
    commit, where the write-ahead log is written and fsynced, runs on the writer thread, so
    the event loop never waits on the disk."""

    def __init__(self, engines: Engines, sync: Connection) -> None:
        self.engines = engines
        self.sync = sync
        # Prepared statements and savepoints go straight to the driver: through SQLAlchemy
        # each statement took ~0.1 ms.
        self.conn: Conn = DriverConnection(sync)
        self.driver: Any = sync.connection.dbapi_connection

    @classmethod
    async def begin(cls, engines: Engines) -> SqliteTransaction:
        sync = engines.write_connection()
        try:
            await _begin_immediate(sync)
        except BaseException:
            engines.drop_write_connection()
            raise
        return cls(engines, sync)

    async def savepoint(self) -> None:
        self.driver.execute("SAVEPOINT unit")

    async def release(self) -> None:
        self.driver.execute("RELEASE SAVEPOINT unit")

    async def rollback_to_savepoint(self) -> None:
        self.driver.execute("ROLLBACK TO SAVEPOINT unit")
        self.driver.execute("RELEASE SAVEPOINT unit")

    async def commit(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            await _wait_out(loop.run_in_executor(self.engines.commit_thread, self.sync.commit))
        except BaseException:
            # A failed COMMIT leaves SQLite's transaction open: it is rolled back, and the
            # next transaction starts on a new connection whatever else the failure left.
            with contextlib.suppress(Exception):
                self.sync.rollback()
            self.engines.drop_write_connection()
            raise

    async def abort(self) -> None:
        try:
            self.sync.rollback()
        except BaseException:
            self.engines.drop_write_connection()
            raise


class PostgresTransaction:
    """A transaction on one pooled PostgreSQL connection.

    The savepoint of each unit but a batch's first is taken on asyncpg once the transaction
    has begun (it has: the first unit ran), and a unit that succeeded does not release it:
    PostgreSQL keeps it until the commit, and a later unit's rollback goes back to its own,
    the newest of that name. A batch of n units makes n - 1 round trips fewer, in a
    transaction that holds the tenant's log lock while it makes them."""

    SAVEPOINT = "SAVEPOINT unit"

    def __init__(self, conn: AsyncConnection, root: AsyncTransaction, driver: Any) -> None:
        self.async_conn = conn
        self.tx = TransactionConnection(conn, driver)
        self.conn: Conn = self.tx
        self.root = root
        self.nested: AsyncTransaction | None = None  # SQLAlchemy's savepoint, if it took it

    @classmethod
    async def begin(cls, engine: AsyncEngine) -> PostgresTransaction:
        conn = await engine.connect()
        try:
            root = await conn.begin()
            raw = await conn.get_raw_connection()
        except BaseException:
            await conn.close()
            raise
        return cls(conn, root, raw.driver_connection)

    async def savepoint(self) -> None:
        if self.tx.ready():
            self.nested = None
            await self.tx.driver.execute(self.SAVEPOINT)
        else:
            self.nested = await self.async_conn.begin_nested()

    async def release(self) -> None:
        if self.nested is not None:
            await self.nested.commit()

    async def rollback_to_savepoint(self) -> None:
        if self.nested is not None:
            await self.nested.rollback()
        else:
            await self.tx.driver.execute(f"ROLLBACK TO {self.SAVEPOINT}")

    async def commit(self) -> None:
        try:
            await _wait_out(asyncio.ensure_future(self.root.commit()))
        finally:
            await self.async_conn.close()

    async def abort(self) -> None:
        try:
            await self.root.rollback()
        finally:
            await self.async_conn.close()


@dataclass(eq=False)
class _Batch:
    """The units of work gathered into one transaction, and how its end went."""

    transaction: Transaction
    units: int = 0
    after_commit: list[Callable[[], None]] = field(default_factory=list)
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    error: BaseException | None = None


class GroupCommit:
    """Group commit: concurrent write transactions become savepoints of one database
    transaction, committed (and fsynced) once for all of them, as PostgreSQL and etcd batch
    their log writes.

    Writers take turns on the open transaction, each in its own savepoint, so one that fails
    is rolled back alone. The writer that finds nobody queued behind it (or the batch full)
    commits, and every writer of the batch returns only once that commit is durable. Under
    no load a batch is one writer, which commits at once; under load, the writers that
    queued while one commit was on the disk share the next. A batch's writers append to the
    log one after another and commit together, so seq order is still commit order.
    """

    def __init__(self, begin: Callable[[], Awaitable[Transaction]], *, max_batch: int = 64) -> None:
        self.begin = begin
        self.max_batch = max_batch
        self.turn = asyncio.Lock()  # one writer at a time on the open transaction
        self.queued = 0  # writers waiting for their turn
        self.open: _Batch | None = None
        self.committed = 0  # batches committed (the metric counts every GroupCommit's)

    async def _take_turn(self) -> None:
        self.queued += 1
        try:
            await self.turn.acquire()
        except BaseException:
            # The writer ahead left the batch open for this one: another must commit it.
            if self.queued == 1 and self.open is not None:
                asyncio.get_running_loop().create_task(self._flush())
            raise
        finally:
            self.queued -= 1

    @asynccontextmanager
    async def transaction(self, on_commit: Callable[[], None] | None = None) -> AsyncIterator[Conn]:
        """Yields a connection in a savepoint of the open batch, and returns once the batch
        committed; `on_commit` is called then (not if the unit failed or the commit did)."""
        await self._take_turn()
        try:
            batch = self.open or await self._start()
        except BaseException:
            self.turn.release()
            raise
        # The first unit of a batch needs no savepoint: were it to fail, the transaction,
        # which holds nothing else, is rolled back whole.
        alone = batch.units == 0
        unit = batch.transaction
        try:
            if not alone:
                await self._or_break(batch, unit.savepoint)
            try:
                yield unit.conn
            except BaseException:
                if alone:
                    self.open = None
                    await self._end(batch)  # rolls the empty batch back
                else:
                    with contextlib.suppress(BaseException):
                        await self._or_break(batch, unit.rollback_to_savepoint)
                raise
            if not alone:
                await self._or_break(batch, unit.release)
            batch.units += 1
            if on_commit is not None:
                batch.after_commit.append(on_commit)
        finally:
            if self.open is batch and (self.queued == 0 or batch.units >= self.max_batch):
                self.open = None
                await self._end(batch)
            self.turn.release()
        await batch.ended.wait()
        if batch.error is not None:
            raise Unavailable(
                reasons.DATABASE_UNAVAILABLE,
                "the change was not committed: the database failed the commit; retry the request",
            ) from batch.error

    @asynccontextmanager
    async def exclusive(self) -> AsyncIterator[None]:
        """Yields with no transaction open and no writer running, for statements that cannot
        run in a transaction (a checkpoint, a migration)."""
        await self._take_turn()
        try:
            if self.open is not None:
                batch, self.open = self.open, None
                await self._end(batch)
            yield
        finally:
            self.turn.release()

    async def _start(self) -> _Batch:
        self.open = _Batch(await self.begin())
        return self.open

    async def _flush(self) -> None:
        async with self.turn:
            if self.open is not None and self.queued == 0:
                batch, self.open = self.open, None
                await self._end(batch)

    async def _end(self, batch: _Batch) -> None:
        """Commits the batch (or rolls back an empty one) and wakes its writers."""
        try:
            if batch.units:
                await batch.transaction.commit()
            else:
                await batch.transaction.abort()
        except Exception as error:
            batch.error = error
        else:
            if batch.units:
                self.committed += 1
                metrics.COMMIT_BATCH.observe(batch.units)
            for callback in batch.after_commit:
                callback()
        finally:
            batch.ended.set()

    async def _or_break(self, batch: _Batch, step: Callable[[], Awaitable[None]]) -> None:
        """Takes a savepoint step; if it fails, the batch is broken (see _break)."""
        try:
            await step()
        except BaseException as error:
            await self._break(batch, error)
            raise

    async def _break(self, batch: _Batch, error: BaseException) -> None:
        """A savepoint could not be taken, released or rolled back: the transaction is
        unusable, so none of the batch commits and each of its writers is told to retry."""
        if self.open is batch:
            self.open = None
        batch.error = error
        with contextlib.suppress(Exception):
            await batch.transaction.abort()
        batch.ended.set()


async def _wait_out(future: asyncio.Future[None]) -> None:
    """Awaits `future` to its end even if cancelled meanwhile, then re-raises the
    cancellation: a commit in flight must end before another writer uses its connection."""
    cancelled = False
    while not future.done():
        try:
            await asyncio.wait({future})
        except asyncio.CancelledError:
            cancelled = True
    future.result()
    if cancelled:
        raise asyncio.CancelledError


@dataclass
class Engines:
    """The connections of one database, handed out as Conn for reads and for write transactions."""

    url: str
    postgres: AsyncEngine | None = None
    # The same pool, its connections in autocommit for lookups and in REPEATABLE READ for
    # reads of one snapshot (both set when `postgres` is).
    postgres_lookups: AsyncEngine | None = None
    postgres_reads: AsyncEngine | None = None
    sqlite_read: Engine | None = None
    sqlite_write: Engine | None = None
    # SQLite has one writer per file: this process's writers share its one connection
    # through one GroupCommit. On PostgreSQL each tenant's writers, which take its log's
    # head row anyway, are batched by their own.
    commits: dict[str | None, GroupCommit] = field(default_factory=dict)
    # SQLite's write connection, kept between transactions: checking it out of its pool
    # and back in (which rolls back) took about a tenth of a registration's server time.
    sqlite_writer: Connection | None = None
    # Where SQLite's commits run (fsync), so that the event loop never waits on the disk.
    commit_thread: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="modelyard-commit")
    )
    # SQLite read connections between reads, at most `idle_reads_kept` of them.
    idle_reads: list[ReadConnection] = field(default_factory=list)
    idle_reads_kept: int = 8
    # PostgreSQL's lookup connections between lookups, at most `idle_lookups_kept` of them:
    # checking one out of the pool and back in (setting autocommit each time) took about a
    # third of a get's event-loop time, and a get makes two lookups (its token, its version).
    idle_lookups: list[LookupConnection] = field(default_factory=list)
    idle_lookups_kept: int = 4
    # Connections SQLAlchemy found dead so far (open_engines counts its disconnects).
    disconnects: int = 0

    @property
    def sqlite(self) -> bool:
        return self.postgres is None

    @asynccontextmanager
    async def reading(self, *, one_snapshot: bool = True) -> AsyncIterator[Conn]:
        """Yields a connection to read with, whose statements read one consistent snapshot;
        with `one_snapshot=False`, for a lookup, each statement may read a later one.

        A snapshot is a transaction: on SQLite a BEGIN on a kept connection, on PostgreSQL
        a REPEATABLE READ transaction, two round trips more (BEGIN and ROLLBACK). A lookup,
        whose statements do not depend on each other (one row, one page, or a second
        statement that only explains a miss), runs each in autocommit: on PostgreSQL a get
        is two round trips (token, version) instead of four.
        """
        with values_kept_out_of_errors():
            if self.postgres is not None and one_snapshot:
                assert self.postgres_reads is not None
                async with self.postgres_reads.connect() as conn:
                    yield conn
                return
            if self.postgres is not None:
                lookup = await self._idle_lookup()
                try:
                    yield lookup
                except BaseException:
                    await lookup.conn.close()  # the pool checks it, or drops it if it died
                    raise
                await self._keep_lookup(lookup)
                return
            read = self._idle_read()
            try:
                if one_snapshot:
                    read.begin()
                yield read
                read.end()
            except BaseException:
                # Not kept: its pool checks it (and rolls it back) when it goes back.
                read.sync.close()
                raise
            self._keep_read(read)

    async def _idle_lookup(self) -> LookupConnection:
        """Returns a PostgreSQL connection in autocommit, for _keep_lookup."""
        while self.idle_lookups:
            lookup = self.idle_lookups.pop()
            # Not one the database closed while it was kept, nor one kept from before a
            # connection was found dead: the pool then replaces every one it had (so that a
            # database restart costs one failed call), and the kept ones go with them.
            if lookup.disconnects == self.disconnects and not lookup.driver.is_closed():
                return lookup
            await lookup.conn.close()
        assert self.postgres_lookups is not None
        conn = await self.postgres_lookups.connect()
        try:
            raw = await conn.get_raw_connection()
        except BaseException:
            await conn.close()
            raise
        return LookupConnection(conn, raw.driver_connection, self.disconnects)

    async def _keep_lookup(self, lookup: LookupConnection) -> None:
        if len(self.idle_lookups) < self.idle_lookups_kept:
            self.idle_lookups.append(lookup)
        else:
            await lookup.conn.close()

    async def _drop_idle_lookups(self) -> None:
        """Closes the lookup connections kept idle."""
        while self.idle_lookups:
            with contextlib.suppress(Exception):
                await self.idle_lookups.pop().conn.close()

    def _idle_read(self) -> ReadConnection:
        """Returns a SQLite read connection, outside any transaction, for _keep_read."""
        if self.idle_reads:
            return self.idle_reads.pop()
        assert self.sqlite_read is not None
        return ReadConnection(self.sqlite_read.connect())

    def _keep_read(self, read: ReadConnection) -> None:
        """Takes back a read connection that _idle_read gave and is outside any transaction."""
        if len(self.idle_reads) < self.idle_reads_kept:
            self.idle_reads.append(read)
        else:
            read.sync.close()

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[Conn]:
        """Yields a connection for a long read: its statements see one consistent snapshot
        and never run on the event loop (SQLite's in a worker thread)."""
        if self.postgres is not None:
            async with self.reading() as conn:  # REPEATABLE READ: one snapshot
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

    def group_commit(self, tenant: str | None) -> GroupCommit | None:
        """Returns the GroupCommit a writer of `tenant` joins; None for a PostgreSQL write
        that names no tenant, which gets a transaction of its own."""
        begin: Callable[[], Awaitable[Transaction]]
        if self.postgres is not None:
            if tenant is None:
                return None
            begin = partial(PostgresTransaction.begin, self.postgres)
        else:
            tenant = None
            begin = partial(SqliteTransaction.begin, self)
        commits = self.commits.get(tenant)
        if commits is None:
            commits = self.commits[tenant] = GroupCommit(begin)
        return commits

    @asynccontextmanager
    async def writing(
        self, tenant: str | None = None, on_commit: Callable[[], None] | None = None
    ) -> AsyncIterator[Conn]:
        """Yields a connection in a write transaction that commits when the block exits
        cleanly, together with the other writers' that ran meanwhile (group commit); returns
        once the commit is durable, and calls `on_commit` then."""
        with values_kept_out_of_errors():
            commits = self.group_commit(tenant)
            if commits is not None:
                async with commits.transaction(on_commit) as conn:
                    yield conn
                return
            assert self.postgres is not None  # a PostgreSQL write of no tenant: alone
            async with self.postgres.begin() as conn:
                yield conn
        if on_commit is not None:
            on_commit()

    def write_connection(self) -> Connection:
        """Returns SQLite's write connection, outside any transaction; only a writer holding
        the group commit's turn may use it."""
        if self.sqlite_writer is None:
            assert self.sqlite_write is not None
            self.sqlite_writer = self.sqlite_write.connect()
        return self.sqlite_writer

    def drop_write_connection(self) -> None:
        """Closes the write connection after a failure; the next writer opens a new one."""
        sync, self.sqlite_writer = self.sqlite_writer, None
        if sync is not None:
            with contextlib.suppress(Exception):
                sync.close()  # its pool rolls back what it held, or discards it

    @asynccontextmanager
    async def sqlite_exclusive(self) -> AsyncIterator[Connection]:
        """Yields SQLite's write connection outside any transaction, no writer running."""
        commits = self.group_commit(None)
        assert commits is not None
        async with commits.exclusive():
            sync = self.write_connection()
            try:
                yield sync
            except BaseException:
                self.drop_write_connection()
                raise
            if sync.in_transaction():
                sync.rollback()

    async def dispose(self) -> None:
        self.drop_write_connection()
        while self.idle_reads:
            self.idle_reads.pop().sync.close()
        await self._drop_idle_lookups()
        if self.postgres is not None:
            await self.postgres.dispose()
        for engine in (self.sqlite_read, self.sqlite_write):
            if engine is not None:
                engine.dispose()
        self.commit_thread.shutdown(wait=True)


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
        # Another process's batch holds the file for a commit or so: poll at that pace.
        delay = min(delay * 2, 0.005)


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
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(
        url,
        hide_parameters=True,  # errors and logs never show values: secrets, tokens' digests
        pool_size=pool_size,
        max_overflow=pool_size,
        # No ping before each checkout: it was a round trip on every one (a get checks out
        # twice: 1.2-1.5 ms -> 0.8-0.9 ms in-process). A connection that died meanwhile
        # fails its call with UNAVAILABLE, which clients retry, and that disconnect makes
        # the pool drop every connection it had, so one failure covers a database restart.
        pool_pre_ping=False,
    )
    event.listen(engine.sync_engine, "handle_error", _dropped_midway)
    engines = Engines(
        url,
        postgres=engine,
        postgres_lookups=engine.execution_options(isolation_level="AUTOCOMMIT"),
        postgres_reads=engine.execution_options(isolation_level="REPEATABLE READ"),
    )

    def count_disconnects(context: ExceptionContext) -> None:  # after _dropped_midway
        if context.is_disconnect:
            engines.disconnects += 1

    event.listen(engine.sync_engine, "handle_error", count_disconnects)
    return engines


def _dropped_midway(context: ExceptionContext) -> None:
    """Counts a connection that PostgreSQL dropped while asyncpg was still reading its last
    message (the FATAL that announces the drop) as a disconnect, as one already closed is:
    asyncpg then refuses every statement ("cannot switch to state 12; another operation (2)
    is in progress"), which SQLAlchemy would take for a refusal and leave in the pool."""
    said = str(context.original_exception)
    if "cannot switch to state" in said and "another operation" in said:
        context.is_disconnect = True


def _alembic_config(url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url)
    return config


def _upgrade(url: str, connection: Connection) -> None:
    from alembic import command

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
    async with engines.sqlite_exclusive() as sync:
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
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory(str(MIGRATIONS))
    return [script.revision for script in reversed(list(scripts.walk_revisions()))]


__all__: Sequence[str] = [
    "Conn",
    "DriverConnection",
    "Engines",
    "GroupCommit",
    "InlineConnection",
    "ReadConnection",
    "StatementRefused",
    "ThreadConnection",
    "known_revisions",
    "migrate",
    "open_engines",
    "schema_revision",
]
