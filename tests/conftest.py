"""Fixtures: a real modelyard server per backend (SQLite file, fresh PostgreSQL database)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from modelyard import Registry
from modelyard.v1 import (
    approval_service_pb2_grpc,
    audit_service_pb2_grpc,
    registry_service_pb2_grpc,
)

from tests.helpers import Raw
from tests.servers import PostgresUnavailable, ServerProcess, create_database, drop_database

BACKENDS = ["sqlite", "postgres"]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database created for this test run (dropped at its end)."""
    try:
        url = create_database()
    except PostgresUnavailable as error:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the PostgreSQL tests, but: {error}")
        pytest.skip(f"PostgreSQL tests skipped: {error} (set MODELYARD_TEST_POSTGRES_URL)")
    yield url
    drop_database(url)


def start_server(backend: str, data_dir: Path, request: pytest.FixtureRequest) -> ServerProcess:
    database_url = request.getfixturevalue("postgres_url") if backend == "postgres" else None
    return ServerProcess(data_dir=data_dir, database_url=database_url, backend=backend).start()


@pytest.fixture(scope="session", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """A modelyard server shared by the session, once per backend."""
    backend: str = request.param
    process = start_server(backend, tmp_path_factory.mktemp(f"data-{backend}"), request)
    yield process
    process.stop()


@pytest.fixture(scope="session")
def sqlite_server(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[ServerProcess]:
    """A server on SQLite only, for tests about things that do not depend on the database."""
    process = start_server("sqlite", tmp_path_factory.mktemp("data-sqlite-only"), request)
    yield process
    process.stop()


@pytest.fixture
def registry(server: ServerProcess) -> Iterator[Registry]:
    """The SDK, connected to `server` as its admin."""
    with Registry(server.address, token=server.token) as client:
        yield client


@pytest.fixture
def raw(server: ServerProcess) -> Iterator[Raw]:
    """The generated stubs on a plain channel, with the admin token."""
    with grpc.insecure_channel(server.address) as channel:
        yield Raw(
            channel,
            registry_service_pb2_grpc.RegistryServiceStub(channel),
            audit_service_pb2_grpc.AuditServiceStub(channel),
            approval_service_pb2_grpc.ApprovalServiceStub(channel),
            (("authorization", f"Bearer {server.token}"),),
        )


@pytest.fixture
def unique_group() -> str:
    """A group id no other test uses."""
    return f"g-{uuid.uuid4().hex[:12]}"
