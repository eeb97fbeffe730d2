"""Point reads that every call makes, compiled once and run by SQLite's driver itself.

A read by key takes SQLite some microseconds; taking it through SQLAlchemy's execution
(cache key, execution context, result object) took ten times that, on every call. A
prepared read keeps the statement's Core form, which PostgreSQL (and any connection other
than an inline SQLite read) still executes as before, and compiles it once for SQLite: its
SQL, the order of its parameters, and how each selected column is turned into a value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, cast

from sqlalchemy import Select
from sqlalchemy.dialects.sqlite import pysqlite

from modelyard_server.store.engine import Conn, Engines, ReadConnection

_SQLITE = pysqlite.dialect()


class PreparedRead:
    """A SELECT compiled once for SQLite; `rows` runs it on any Conn."""

    def __init__(self, statement: Select[Any]) -> None:
        self.statement = statement
        compiled = statement.compile(dialect=_SQLITE)
        self.sql = str(compiled)
        self.names: list[str] = list(compiled.positiontup or ())
        # Values the statement carries itself (literals such as `stage != 3`, LIMIT 1).
        self.given: dict[str, Any] = {
            compiled.bind_names[bind]: bind.effective_value
            for bind in compiled.binds.values()
            if not bind.required
        }
        binds = cast(Mapping[str, Callable[[Any], Any]], compiled._bind_processors)
        self.binds: list[Callable[[Any], Any] | None] = [binds.get(n) for n in self.names]
        self.results: list[Callable[[Any], Any] | None] = [
            column.type._cached_result_processor(_SQLITE, None)
            for column in statement.selected_columns
        ]
        self.plain_binds = not any(self.binds)
        self.plain_results = not any(self.results)
        # A list parameter (IN) is rendered per call: such a statement goes through SQLAlchemy.
        self.fixed = not any(bind.expanding for bind in compiled.binds.values())

    def _arguments(self, params: Mapping[str, Any]) -> list[Any]:
        given = self.given
        values = [params[n] if n in params else given[n] for n in self.names]
        if self.plain_binds:
            return values
        return [v if bind is None else bind(v) for v, bind in zip(values, self.binds, strict=True)]

    async def rows(self, conn: Conn, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Returns the rows the statement selects, each a tuple of its columns' values."""
        if not isinstance(conn, ReadConnection) or not self.fixed:
            return [tuple(row) for row in (await conn.execute(self.statement, dict(params)))]
        return self._run(conn, params)

    def alone(self, engines: Engines, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Returns the rows of the statement run on SQLite outside any transaction: one
        statement reads one snapshot, so a read of one row needs no BEGIN or ROLLBACK."""
        read = engines.idle_read()
        try:
            found = self._run(read, params)
        except BaseException:
            read.sync.close()
            raise
        engines.keep_read(read)
        return found

    def _run(self, read: ReadConnection, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        found: list[tuple[Any, ...]] = read.run(self.sql, self._arguments(params))
        if self.plain_results:
            return found
        results = self.results
        return [
            tuple(v if f is None else f(v) for v, f in zip(row, results, strict=True))
            for row in found
        ]

    async def first(self, conn: Conn, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """Returns the first row the statement selects, or None."""
        found = await self.rows(conn, params)
        return found[0] if found else None

    async def scalar(self, conn: Conn, params: Mapping[str, Any]) -> Any:
        """Returns the first column of the first row, or None when there is no row."""
        row = await self.first(conn, params)
        return None if row is None else row[0]
