"""The unit layer: no gRPC and no server; the domain is called directly on a real store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from modelyard_server.store.engine import Engines, migrate, open_engines

from tests.support.inprocess import Domain, open_domain


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    """Each database the registry runs on, for tests that run on both."""
    name: str = request.param
    return name


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new SQLite file (`registry.db` in tmp_path) or PostgreSQL database."""
    if backend == "postgres":
        url: str = request.getfixturevalue("postgres_database")
        return url
    return f"sqlite:///{tmp_path / 'registry.db'}"


@pytest.fixture
async def any_domain(database_url: str, tmp_path: Path) -> AsyncIterator[Domain]:
    """The registry's use cases on a fresh SQLite file or PostgreSQL database."""
    async with open_domain(tmp_path / "registry.db", url=database_url) as opened:
        yield opened


@pytest.fixture
async def domain(tmp_path: Path) -> AsyncIterator[Domain]:
    """The registry's use cases on a fresh, migrated SQLite file, in the default tenant."""
    async with open_domain(tmp_path / "registry.db") as opened:
        yield opened


@pytest.fixture
async def engines(database_url: str) -> AsyncIterator[Engines]:
    """The store's engines on a fresh, migrated database (`database_url`)."""
    opened = open_engines(database_url)
    await migrate(opened)
    yield opened
    await opened.dispose()
