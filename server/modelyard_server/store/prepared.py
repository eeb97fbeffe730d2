"""Statements that every call makes, compiled once and run by the database driver itself.

A statement by key takes SQLite some microseconds; taking it through SQLAlchemy's
execution (cache key, execution context, result object) took ten times that, on every
call. On PostgreSQL the same execution (with the greenlet that carries it to asyncpg) cost
about as much as the round trip itself. A prepared statement keeps its Core form, which any
other connection still executes as before, and compiles it once for each driver: its SQL,
the order of its parameters, how each is turned into a value for the driver and how each
selected column is turned back into one. SQLite's reads and writes, PostgreSQL's lookups
(autocommit) and the statements of its write transactions once SQLAlchemy has begun them
(engine.TransactionConnection) run it so.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Dialect, Insert, Select, Update
from sqlalchemy.dialects.sqlite import pysqlite
from sqlalchemy.sql.compiler import SQLCompiler

from modelyard_server.store.engine import (
    Conn,
    DriverConnection,
    LookupConnection,
    TransactionConnection,
)

_SQLITE = pysqlite.dialect()


@functools.cache
def _postgres() -> Dialect:
    """The asyncpg dialect, made on first use: a SQLite server never imports it."""
    from sqlalchemy.dialects.postgresql import asyncpg

    return cast(Dialect, asyncpg.dialect())  # type: ignore[no-untyped-call]


def _positional(compiled: SQLCompiler) -> tuple[list[str], list[Callable[[Any], Any] | None]]:
    """Returns the names of a compiled statement's parameters in the driver's order, and the
    function (or None) that turns each value into what the driver takes."""
    names = list(compiled.positiontup or ())
    processors = cast(Mapping[str, Callable[[Any], Any]], compiled._bind_processors)
    return names, [processors.get(n) for n in names]


class _CompiledRead:
    """A SELECT compiled once for one dialect: its SQL, the order of its parameters, how each
    is turned into a value for the driver and how each selected column is turned back."""

    def __init__(self, statement: Select[Any], dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = str(compiled)
        self.names, self.binds = _positional(compiled)
        # Values the statement carries itself (literals such as `stage != 3`, LIMIT 1).
        self.given: dict[str, Any] = {
            compiled.bind_names[bind]: bind.effective_value
            for bind in compiled.binds.values()
            if not bind.required
        }
        self.results: list[Callable[[Any], Any] | None] = [
            column.type._cached_result_processor(dialect, None)
            for column in statement.selected_columns
        ]
        self.plain_binds = not any(self.binds)
        self.plain_results = not any(self.results)
        # A list parameter (IN) is rendered per call: such a statement goes through SQLAlchemy.
        self.fixed = not any(bind.expanding for bind in compiled.binds.values())

    def arguments(self, params: Mapping[str, Any]) -> list[Any]:
        given = self.given
        values = [params[n] if n in params else given[n] for n in self.names]
        if self.plain_binds:
            return values
        return [v if bind is None else bind(v) for v, bind in zip(values, self.binds, strict=True)]

    def converted(self, found: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
        if self.plain_results:
            return [tuple(row) for row in found]
        results = self.results
        return [
            tuple(v if f is None else f(v) for v, f in zip(row, results, strict=True))
            for row in found
        ]


class PreparedRead:
    """A SELECT compiled once for SQLite (and, on first use there, for PostgreSQL); `rows`
    runs it on any Conn."""

    def __init__(self, statement: Select[Any]) -> None:
        self.statement = statement
        self.sqlite = _CompiledRead(statement, _SQLITE)

    @functools.cached_property
    def postgres(self) -> _CompiledRead | None:
        """The statement compiled for asyncpg; None for one whose columns asyncpg's types
        can only turn back knowing the type the server sends (a numeric, say): such a
        statement goes through SQLAlchemy, which knows it."""
        try:
            return _CompiledRead(self.statement, _postgres())
        except Exception:
            return None

    async def rows(self, conn: Conn, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Returns the rows the statement selects, each a tuple of its columns' values."""
        if not self.sqlite.fixed:
            return await self._through_sqlalchemy(conn, params)
        if isinstance(conn, DriverConnection):
            return self._run(conn, params)
        compiled = self.postgres
        if compiled is not None and isinstance(conn, LookupConnection):
            found = await self._fetch(conn, compiled, params)
            if found is not None:
                return found
        elif compiled is not None and isinstance(conn, TransactionConnection) and conn.ready():

            async def run() -> list[tuple[Any, ...]]:
                found = await conn.driver.fetch(compiled.sql, *compiled.arguments(params))
                return compiled.converted(found)

            rows: list[tuple[Any, ...]] = await conn.raw(
                compiled.sql, run, lambda: self._through_sqlalchemy(conn, params)
            )
            return rows
        return await self._through_sqlalchemy(conn, params)

    async def _through_sqlalchemy(
        self, conn: Conn, params: Mapping[str, Any]
    ) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in (await conn.execute(self.statement, dict(params)))]

    async def _fetch(
        self, lookup: LookupConnection, compiled: _CompiledRead, params: Mapping[str, Any]
    ) -> list[tuple[Any, ...]] | None:
        """Returns the rows asyncpg fetched; None if it failed. Whatever went wrong (the
        connection died, the database refused the statement), SQLAlchemy runs it again and
        raises what it would have raised: an outage stays UNAVAILABLE, and the pool drops a
        dead connection."""
        try:
            found = await lookup.fetch(compiled.sql, compiled.arguments(params))
        except Exception:
            return None
        return compiled.converted(found)

    def _run(self, read: DriverConnection, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        compiled = self.sqlite
        found: list[tuple[Any, ...]] = read.run(compiled.sql, compiled.arguments(params))
        if compiled.plain_results:
            return found
        return compiled.converted(found)

    async def first(self, conn: Conn, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """Returns the first row the statement selects, or None."""
        found = await self.rows(conn, params)
        return found[0] if found else None

    async def scalar(self, conn: Conn, params: Mapping[str, Any]) -> Any:
        """Returns the first column of the first row, or None when there is no row."""
        row = await self.first(conn, params)
        return None if row is None else row[0]


class _Compiled:
    """An INSERT or UPDATE compiled for SQLite (or PostgreSQL), for one set of parameter
    names."""

    def __init__(self, statement: Insert | Update, keys: list[str], dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=keys)
        self.sql = str(compiled)
        self.names, processors = _positional(compiled)
        self.binds = list(zip(self.names, processors, strict=True))
        # A column the parameters leave out whose default SQLAlchemy fills in, a list
        # parameter or (on SQLite) a RETURNING: such a call goes through SQLAlchemy. On
        # PostgreSQL the RETURNING of a new row's key (SQLAlchemy adds it) is fetched and
        # dropped, as SQLAlchemy drops it when nobody asks.
        self.fixed = (
            set(self.names) <= set(keys)
            and not any(bind.expanding for bind in compiled.binds.values())
            and (dialect is not _SQLITE or not compiled.effective_returning)
        )

    def arguments(self, params: Mapping[str, Any]) -> list[Any]:
        return [params[n] if bind is None else bind(params[n]) for n, bind in self.binds]


class PreparedWrite:
    """An INSERT or UPDATE compiled for SQLite once per set of parameter names a caller
    gives (a repository always gives the same); `run` runs it on any Conn."""

    def __init__(self, statement: Insert | Update) -> None:
        self.statement = statement
        self.compiled: dict[tuple[str, ...], _Compiled] = {}
        self.compiled_postgres: dict[tuple[str, ...], _Compiled] = {}

    def _for(self, params: Mapping[str, Any], *, postgres: bool = False) -> _Compiled:
        keys = tuple(params)
        cache = self.compiled_postgres if postgres else self.compiled
        found = cache.get(keys)
        if found is None:
            dialect = _postgres() if postgres else _SQLITE
            found = cache[keys] = _Compiled(self.statement, list(keys), dialect)
        return found

    async def run(self, conn: Conn, params: Mapping[str, Any] | list[dict[str, Any]]) -> None:
        """Runs the statement with `params`, or once per row of a list of them (all with the
        same names)."""
        rows = params if isinstance(params, list) else [params]
        on_asyncpg = isinstance(conn, TransactionConnection) and conn.ready()
        compiled = None
        if rows and rows[0] and (on_asyncpg or isinstance(conn, DriverConnection)):
            compiled = self._for(rows[0], postgres=on_asyncpg)
            if not compiled.fixed or any(tuple(p) != tuple(rows[0]) for p in rows):
                compiled = None
        if compiled is None:
            await conn.execute(self.statement, params)
        elif isinstance(conn, DriverConnection):
            arguments = [compiled.arguments(p) for p in rows]
            if len(arguments) == 1:
                conn.run(compiled.sql, arguments[0])
            else:
                conn.run_many(compiled.sql, arguments)
        elif isinstance(conn, TransactionConnection):
            await self._run_asyncpg(conn, compiled, rows, params)

    async def _run_asyncpg(
        self,
        conn: TransactionConnection,
        compiled: _Compiled,
        rows: list[Mapping[str, Any]] | list[dict[str, Any]],
        params: Mapping[str, Any] | list[dict[str, Any]],
    ) -> None:
        driver = conn.driver

        async def run() -> None:
            if len(rows) == 1:
                await driver.fetch(compiled.sql, *compiled.arguments(rows[0]))
            else:
                await driver.executemany(compiled.sql, [compiled.arguments(p) for p in rows])

        async def again() -> None:
            await conn.execute(self.statement, params)

        await conn.raw(compiled.sql, run, again)
