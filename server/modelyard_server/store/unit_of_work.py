"""The store: units of work that give the use cases one repository per resource on one
transaction, and tell the event hub what committed."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from functools import cached_property

from modelyard.v1 import errors_pb2 as reasons
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from modelyard_server.domain.errors import Unavailable
from modelyard_server.log.chain import ChainKey
from modelyard_server.observability import metrics, tracing
from modelyard_server.store.aliases import SqlAliases
from modelyard_server.store.blobs import SqlBlobIndex, SqlBlobs
from modelyard_server.store.dependencies import SqlDependencies
from modelyard_server.store.engine import Conn, Engines
from modelyard_server.store.groups import SqlGroups
from modelyard_server.store.keys import GroupKeys
from modelyard_server.store.log import SqlLog
from modelyard_server.store.policies import SqlPolicies
from modelyard_server.store.retention import SqlRetentionPolicies
from modelyard_server.store.state import SqlState
from modelyard_server.store.tokens import SqlTokens
from modelyard_server.store.versions import SqlVersions
from modelyard_server.store.webhooks import SqlWebhooks


class SqlUnitOfWork:
    """The repositories of one tenant on one connection (implements domain's UnitOfWork).

    Each is made when first used: a read uses one or two of the ten."""

    def __init__(
        self, conn: Conn, tenant: str, *, postgres: bool, key: ChainKey | None = None
    ) -> None:
        self.conn = conn
        self.tenant = tenant
        self.postgres = postgres
        self.key = key
        self.keys = GroupKeys(conn, tenant)

    @cached_property
    def groups(self) -> SqlGroups:
        return SqlGroups(self.conn, self.tenant, self.keys)

    @cached_property
    def versions(self) -> SqlVersions:
        return SqlVersions(self.conn, self.tenant, self.keys)

    @cached_property
    def aliases(self) -> SqlAliases:
        return SqlAliases(self.conn, self.tenant, self.keys)

    @cached_property
    def policies(self) -> SqlPolicies:
        return SqlPolicies(self.conn, self.tenant)

    @cached_property
    def webhooks(self) -> SqlWebhooks:
        return SqlWebhooks(self.conn, self.tenant)

    @cached_property
    def blobs(self) -> SqlBlobs:
        return SqlBlobs(self.conn, self.tenant, self.keys, postgres=self.postgres)

    @cached_property
    def tokens(self) -> SqlTokens:
        return SqlTokens(self.conn, self.tenant)

    @cached_property
    def log(self) -> SqlLog:
        return SqlLog(self.conn, self.tenant, postgres=self.postgres, key=self.key)

    @property
    def dependencies(self) -> SqlDependencies:
        return self.versions.dependencies

    @cached_property
    def retention(self) -> SqlRetentionPolicies:
        return SqlRetentionPolicies(self.conn, self.tenant)


class SqlAuditSnapshot:
    """A tenant's log and stored state in one snapshot, read off the event loop."""

    def __init__(self, conn: Conn, tenant: str) -> None:
        self.log = SqlLog(conn, tenant)
        self.state = SqlState(conn, tenant)


def _unreachable() -> Unavailable:
    return Unavailable(
        reasons.DATABASE_UNAVAILABLE, "the database cannot be reached; retry the request"
    )


@contextmanager
def unavailable_on_connection_errors() -> Iterator[None]:
    """Turns a lost or refused database connection into UNAVAILABLE, which callers retry."""
    try:
        yield
    except DBAPIError as error:
        if error.connection_invalidated:  # whatever the driver called it, the connection died
            raise _unreachable() from error
        # asyncpg's refusals at connect time ("not currently accepting connections") come
        # as the generic DBAPIError; constraint violations and the like are not ours.
        if not (isinstance(error, OperationalError | InterfaceError) or type(error) is DBAPIError):
            raise
        if isinstance(error, OperationalError) and "locked" in str(error.orig):
            raise Unavailable(
                reasons.DATABASE_UNAVAILABLE, "the database is busy; retry the request"
            ) from error
        if isinstance(error, InterfaceError) or "connect" in str(error).lower():
            raise _unreachable() from error
        raise


# The transaction histogram's series, one per kind, found once rather than per transaction.
_TIMED = {kind: metrics.TRANSACTIONS.labels(kind) for kind in ("read", "write")}


@contextmanager
def observed(kind: str) -> Iterator[None]:
    """Times one transaction (begin to commit or rollback) and traces it as a child span."""
    start = time.perf_counter()
    try:
        if tracing.tracer() is None:
            yield
        else:
            with tracing.child_span(f"db {kind}", **{"db.operation": kind}):
                yield
    finally:
        _TIMED[kind].observe(time.perf_counter() - start)


class SqlStore:
    """Implements domain's Store over SQLAlchemy (inline SQLite or async PostgreSQL)."""

    def __init__(self, engines: Engines, key: ChainKey) -> None:
        self.engines = engines
        self.key = key  # chains what writers append
        # Called with the tenant after each commit that appended to the log (the event hub).
        self.committed: list[Callable[[str], None]] = []

    def reader(self, tenant: str) -> AbstractAsyncContextManager[SqlUnitOfWork]:
        return self._reading(tenant, one_snapshot=True)

    def lookup(self, tenant: str) -> AbstractAsyncContextManager[SqlUnitOfWork]:
        return self._reading(tenant, one_snapshot=False)

    @asynccontextmanager
    async def _reading(self, tenant: str, *, one_snapshot: bool) -> AsyncIterator[SqlUnitOfWork]:
        with unavailable_on_connection_errors(), observed("read"):
            async with self.engines.reading(one_snapshot=one_snapshot) as conn:
                yield SqlUnitOfWork(conn, tenant, postgres=not self.engines.sqlite)

    @asynccontextmanager
    async def audit_snapshot(self, tenant: str) -> AsyncIterator[SqlAuditSnapshot]:
        with unavailable_on_connection_errors():
            async with self.engines.snapshot() as conn:
                yield SqlAuditSnapshot(conn, tenant)

    @asynccontextmanager
    async def blob_index(self) -> AsyncIterator[SqlBlobIndex]:
        with unavailable_on_connection_errors():
            async with self.engines.writing() as conn:
                index = SqlBlobIndex(conn, postgres=not self.engines.sqlite)
                await index.lock()
                yield index

    @asynccontextmanager
    async def writer(self, tenant: str) -> AsyncIterator[SqlUnitOfWork]:
        """Yields the tenant's repositories in a write transaction, holding its log's head;
        returns once the change is durable (committed with others that ran meanwhile)."""
        unit: SqlUnitOfWork | None = None

        def announce() -> None:  # after the commit: tells the event hub what it appended
            if unit is not None and unit.log.appended:
                for callback in self.committed:
                    callback(tenant)

        with unavailable_on_connection_errors(), observed("write"):
            async with self.engines.writing(tenant, on_commit=announce) as conn:
                unit = SqlUnitOfWork(conn, tenant, postgres=not self.engines.sqlite, key=self.key)
                await unit.log.lock()
                yield unit
