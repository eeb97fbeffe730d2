"""Fixtures every layer shares: the server factory, the servers shared by a session (one per
backend), and clients of them.

Layers: `unit` (in this process, no gRPC), `api` (a real server in this process), `cli`
(the command's `main` in this process), `e2e` (real server subprocesses). `make test-fast`
runs the first two.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from modelyard import Registry

from tests.support.factory import BACKENDS, ServerFactory
from tests.support.postgres import create_database_or_skip, drop_database
from tests.support.servers import Server
from tests.support.stubs import Raw, raw_stubs

# The layers in the order they run: the slowest first, so that with several workers
# (`make test` runs two) the short tests fill the end and no worker waits alone on a long one.
LAYER_ORDER = ("e2e", "api", "cli", "unit")


def layer(item: pytest.Item) -> int:
    parts = item.nodeid.split("/")
    name = parts[1] if len(parts) > 2 and parts[0] == "tests" else ""
    return LAYER_ORDER.index(name) if name in LAYER_ORDER else len(LAYER_ORDER)


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> Iterator[None]:
    """Marks `postgres` every test that runs on PostgreSQL (a `server`, `backend` or
    `own_server` of "postgres", or a `postgres_database`) before `-m` selects, so that
    `-m "not postgres"` runs the SQLite half alone; once pytest has ordered the tests by
    fixture, runs the layers slowest first (a stable sort: that order stays within a layer)."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        params = callspec.params if callspec is not None else {}
        on_postgres = "postgres" in (
            params.get("server"),
            params.get("backend"),
            params.get("own_server"),
        )
        if on_postgres or "postgres_database" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)
    yield
    items.sort(key=layer)


@pytest.fixture(scope="session")
def server_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerFactory]:
    """Starts servers for tests; see ServerFactory. A test's own server:
    ``with server_factory("postgres", heartbeat_seconds="0.2") as server: ...``."""
    factory = ServerFactory(tmp_path_factory)
    yield factory
    factory.close()


@pytest.fixture(scope="session", params=BACKENDS)
def server(request: pytest.FixtureRequest, server_factory: ServerFactory) -> Iterator[Server]:
    """A server in this process shared by the session, once per backend."""
    with server_factory(request.param) as started:
        yield started


@pytest.fixture(scope="session")
def sqlite_server(server_factory: ServerFactory) -> Iterator[Server]:
    """A server on SQLite only, for tests about things that do not depend on the database."""
    with server_factory("sqlite") as started:
        yield started


@pytest.fixture
def postgres_database() -> Iterator[str]:
    """The URL of a fresh PostgreSQL database, dropped after the test (skipped without
    PostgreSQL, except under CI, where that fails)."""
    url = create_database_or_skip()
    yield url
    drop_database(url)


@pytest.fixture
def registry(server: Server) -> Iterator[Registry]:
    """The SDK, connected to `server` as its admin."""
    with Registry(server.address, token=server.token) as client:
        yield client


@pytest.fixture
def raw(server: Server) -> Iterator[Raw]:
    """The generated stubs on a plain channel, with the admin token."""
    with raw_stubs(server.address, server.token) as stubs:
        yield stubs


@pytest.fixture
def unique_group() -> str:
    """A group id no other test uses."""
    return f"g-{uuid.uuid4().hex[:12]}"
