"""The server in this process: its domain on a real store (unit layer), and the whole gRPC
server on a loopback port (api and cli layers).

Every import of the server's internals that the tests make is in this module, so that when
the server's modules move, this is the one file to change. What the tests use of the server
besides these is its command line (`modelyard-server`) and its wire API.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self, TypeVar

import modelyard_server
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from modelyard_server import app
from modelyard_server.api.auth import Authenticator, AuthInterceptor, current_principal
from modelyard_server.api.throttle import Throttle, source_of
from modelyard_server.artifacts.local import LocalBlobStore
from modelyard_server.config import OPTIONS, Settings, add_options, load
from modelyard_server.config import load as load_settings
from modelyard_server.domain import errors as domain_errors
from modelyard_server.domain.changes import Mutation
from modelyard_server.domain.clock import now_us
from modelyard_server.domain.errors import ResourceExhausted
from modelyard_server.domain.pages import PageTokens
from modelyard_server.domain.principal import Principal
from modelyard_server.domain.registry import Registry
from modelyard_server.domain.repositories import AuditQuery
from modelyard_server.domain.tokens import new_token, token_digest
from modelyard_server.domain.watch import WatchFilter
from modelyard_server.events.hub import Event, EventHub, Heartbeat, HubSettings
from modelyard_server.keyring import Keyring
from modelyard_server.log.chain import LogEntry
from modelyard_server.preflight import SetupError
from modelyard_server.store import groups as group_rows
from modelyard_server.store import keys as group_keys
from modelyard_server.store import tokens as token_rows
from modelyard_server.store import versions as version_rows
from modelyard_server.store.chain_key import audit_keys
from modelyard_server.store.deliveries import SqlDeliveryQueue
from modelyard_server.store.engine import MIGRATIONS, Engines, migrate, open_engines
from modelyard_server.store.prepared import PreparedRead
from modelyard_server.store.tables import METADATA
from modelyard_server.store.tokens import SqlTokenIndex
from modelyard_server.store.unit_of_work import SqlStore
from sqlalchemy import Connection, MetaData, create_engine

from tests.support.servers import Server

__all__ = [
    "DECLARED",
    "DEFAULT_TENANT",
    "OPTIONS",
    "SERVER_PACKAGE",
    "AuditQuery",
    "AuthInterceptor",
    "Authenticator",
    "Domain",
    "Event",
    "EventHub",
    "Heartbeat",
    "HubSettings",
    "InProcessServer",
    "LogEntry",
    "Mutation",
    "Principal",
    "ResourceExhausted",
    "SetupError",
    "SqlStore",
    "Throttle",
    "WatchFilter",
    "add_options",
    "current_principal",
    "domain_errors",
    "load_settings",
    "migrate_sqlite_to",
    "open_domain",
    "prepared_reads",
    "schema_differences",
    "source_of",
]

T = TypeVar("T")

# The server's source, for tests that read it.
SERVER_PACKAGE = Path(modelyard_server.__file__).parent

# The one tenant of a server that has not been told of others.
DEFAULT_TENANT: str = app.DEFAULT_TENANT

# The domain on a real store


def prepared_reads(
    tenant: str, secret: str, group: str
) -> list[tuple[PreparedRead, dict[str, Any]]]:
    """Returns the store's prepared reads, each with the parameters that find the token of
    `secret`, the group, its version 1 and its alias `champion`."""
    of_group = {"b_tenant": tenant, "b_group": group}
    return [
        (token_rows.FIND, {"b_digest": token_digest(secret)}),
        (group_rows.GET, of_group),
        (group_keys.GROUP_PK, of_group),
        (version_rows.GET, {**of_group, "b_number": 1}),
        (version_rows.LATEST, of_group),
        (version_rows.BY_ALIAS, {**of_group, "b_alias": "champion"}),
    ]


@dataclass
class Domain:
    """The registry's use cases on a real SQLite store, called directly: no gRPC, no tokens."""

    engines: Engines
    store: SqlStore
    registry: Registry
    tenant: str

    def principal(self, subject: str, *roles: str) -> Principal:
        """Returns a caller of this tenant with the given roles (`role` or `role@group`)."""
        return Principal(subject, self.tenant, frozenset(roles))

    def mutation(self, subject: str, *roles: str, reason: str = "") -> Mutation:
        """Returns a change asked for by a caller of this tenant with the given roles."""
        return Mutation(self.principal(subject, *roles), reason=reason)


@asynccontextmanager
async def open_domain(
    database: Path,
    tenant: str = DEFAULT_TENANT,
    *,
    url: str | None = None,
    clock: Callable[[], int] | None = None,
) -> AsyncIterator[Domain]:
    """Yields the domain on a migrated SQLite file at `database` (or on the database at
    `url`, its blobs beside `database`), telling time by `clock` if given; disposes of it
    after."""
    engines = open_engines(url or f"sqlite:///{database}")
    await migrate(engines)
    keys = audit_keys(Keyring(secrets.token_bytes(32)))
    store = SqlStore(engines, keys.chain)
    try:
        blobs = LocalBlobStore(database.parent / "blobs")
        tokens = PageTokens(b"the page token key of the tests")
        queue = SqlDeliveryQueue(engines)
        index = SqlTokenIndex(engines)
        registry = (
            Registry(store, queue, blobs, index, page_tokens=tokens, audit_keys=keys)
            if clock is None
            else Registry(
                store, queue, blobs, index, page_tokens=tokens, audit_keys=keys, clock=clock
            )
        )
        yield Domain(engines, store, registry, tenant)
    finally:
        await engines.dispose()


# The tables the store declares.
DECLARED: MetaData = METADATA


def migrate_sqlite_to(database: Path, revision: str) -> None:
    """Migrates a SQLite file up to one revision only: the state an older server left."""
    engine = create_engine(f"sqlite:///{database}")
    try:
        with engine.begin() as connection:
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.set_main_option("sqlalchemy.url", f"sqlite:///{database}")
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        engine.dispose()


async def schema_differences(url: str, declared: MetaData = DECLARED) -> list[Any]:
    """Migrates an empty database at `url` as the server does at start, and returns how its
    schema differs from `declared` (Alembic's autogenerate comparison: tables, columns,
    types, nullability, server defaults, indexes, constraints; [] when they agree)."""

    def compare(connection: Connection) -> list[Any]:
        options = {"compare_type": True, "compare_server_default": True}
        context = MigrationContext.configure(connection, opts=options)
        return list(compare_metadata(context, declared))

    engines = open_engines(url)
    try:
        await migrate(engines)
        if engines.postgres is not None:
            async with engines.postgres.connect() as conn:
                return await conn.run_sync(compare)
        assert engines.sqlite_read is not None
        with engines.sqlite_read.connect() as sync:
            return compare(sync)
    finally:
        await engines.dispose()


# The whole server


class ThreadLog(logging.Handler):
    """Writes to a file what one thread logs: an in-process server's log, apart from the
    test's own and from that of another server in the same process."""

    def __init__(self, path: Path, thread: threading.Thread) -> None:
        super().__init__()
        self.thread = thread
        self.stream = path.open("a", encoding="utf-8")
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread != self.thread.ident:
            return
        try:
            self.stream.write(self.format(record) + "\n")
            self.stream.flush()
        except Exception:
            self.handleError(record)

    def close(self) -> None:
        self.stream.close()
        super().close()


def settings_of(server: Server, given: dict[str, str]) -> Settings:
    """Returns the settings of an in-process server, read as the command line reads its flags:
    a loopback port the OS picks, its data directory and database, and `given` (by Settings
    field name, values as text). The shell's MODELYARD_* variables play no part."""
    known = {option.field for option in OPTIONS}
    unknown = set(given) - known
    if unknown:
        raise TypeError(f"no server setting named {sorted(unknown)}; known: {sorted(known)}")
    flags = {
        "address": "127.0.0.1:0",
        "data_dir": str(server.data_dir),
        "database_url": server.database_url or "",
        **given,
    }
    return load(flags, environ={})


@dataclass
class InProcessServer(Server):
    """The real server (`modelyard_server.app.start`) in this process, on an event loop of
    its own in a background thread, so that the test's blocking SDK calls do not stall it."""

    settings: dict[str, str] = field(default_factory=dict)
    _settings: Settings | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _running: app.Running | None = None
    _log: ThreadLog | None = None

    def start(self) -> Self:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._settings = settings = settings_of(self, self.settings)
        loop = asyncio.new_event_loop()
        thread = threading.Thread(
            target=loop.run_forever, name=f"modelyard-server {self.data_dir.name}", daemon=True
        )
        self._loop, self._thread = loop, thread
        thread.start()
        self._log = ThreadLog(self.log_file, thread)
        logging.getLogger().addHandler(self._log)
        # The server's own lines at INFO, as `modelyard-server` logs them.
        logging.getLogger("modelyard").setLevel(logging.INFO)
        try:
            self._running = self._call(app.start(settings))
        except BaseException:
            self.stop()
            raise
        self.port = self._running.port
        self.address = f"127.0.0.1:{self.port}"
        self.http_port = self._running.http_port
        return self

    def _call(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Runs a coroutine on the server's loop and returns its result."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def stop(self) -> int | None:
        """Stops as SIGTERM stops the process (ends the streams, drains the calls, closes the
        database), then the loop and its thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return None
        try:
            if self._running is not None and self._settings is not None:
                self._call(self._running.stop(self._settings.grace_seconds))
        finally:
            self._running = None
            self._call(_finish_tasks())
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=30)
            loop.close()
            self._loop = self._thread = None
            if self._log is not None:
                logging.getLogger().removeHandler(self._log)
                self._log.close()
                self._log = None
        return 0

    def mint_token(self, subject: str, *roles: str, tenant: str | None = None) -> str:
        """Returns a new bearer token for `subject` that never expires. It is stored without
        a log entry (as the first admin token is), so tests' log positions stay where they
        were; `modelyard-server token` and CreateToken log theirs."""
        assert self._running is not None
        token, secret = new_token(subject, [*roles], "tests", now_us(), None)
        index = SqlTokenIndex(self._running.engines)
        self._call(index.insert(tenant or DEFAULT_TENANT, token, token_digest(secret)))
        return secret

    def bytes_received(self) -> int:
        """The blob bytes the server has received, every upload together."""
        assert self._running is not None
        return self._running.registry.artifacts.bytes_received

    def collect_blobs(self, grace_seconds: float) -> tuple[int, int, int]:
        """Runs one blob collection in the server, as its timer would; returns how many
        holdings, blobs and abandoned uploads it removed."""
        assert self._running is not None
        done = self._call(self._running.registry.artifacts.collect(grace_seconds))
        return done.holdings, done.blobs, done.uploads


async def _finish_tasks() -> None:
    """Cancels what is still running on the loop, and its async generators."""
    current = asyncio.current_task()
    pending = [task for task in asyncio.all_tasks() if task is not current]
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    await asyncio.get_running_loop().shutdown_asyncgens()
