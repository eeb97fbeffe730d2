"""Connections PostgreSQL drops (a restart, a failover, pg_terminate_backend): every call
that meets a dead one fails with UNAVAILABLE, which clients retry, never with INTERNAL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from modelyard.v1 import resources_pb2 as pb
from modelyard_server.domain.errors import Unavailable

from tests.support.inprocess import Domain, open_domain
from tests.support.postgres import database_name, run_admin_sql

ROUNDS = 25


@pytest.fixture
async def pg_domain(postgres_database: str, tmp_path: Path) -> AsyncIterator[Domain]:
    async with open_domain(tmp_path / "registry.db", url=postgres_database) as opened:
        yield opened


@pytest.mark.parametrize("kind", ["read", "write"])
async def test_every_call_on_a_dropped_connection_is_unavailable_and_the_next_succeeds(
    pg_domain: Domain, kind: str
) -> None:
    """asyncpg may meet a dropped connection in two ways: closed, or still open and
    halfway through reading the server's FATAL message ("cannot switch to state 12; another
    operation (2) is in progress"). The second was taken for the database refusing the
    statement, and so for a bug (INTERNAL), on about one drop in twenty. A write that fails
    so has written nothing: its retry makes the one log entry."""
    domain = pg_domain
    groups = domain.registry.groups
    admin = domain.mutation("admin", "admin")
    reader = domain.principal("admin", "admin")
    await groups.create(admin, "fraud", pb.ModelGroup())
    name = database_name(domain.engines.url)
    kill = f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"

    async def get() -> None:
        assert (await groups.get(reader, "groups/fraud")).name == "groups/fraud"

    async def call(i: int) -> None:
        if kind == "read":
            await get()
        else:
            patch = pb.ModelGroup(name="groups/fraud", description=f"round {i}")
            await groups.update(domain.mutation("admin", "admin"), patch, ["description"])

    failures = 0
    for i in range(ROUNDS):
        # Several connections idle, then dropped together: more gets at once than lookups
        # kept idle, so that the pool holds some too (the write takes one of those).
        await asyncio.gather(*(get() for _ in range(2 * domain.engines.idle_lookups_kept)))
        await run_admin_sql(kill)
        try:
            await call(i)
        except Unavailable:
            failures += 1
        await call(i)  # the pool replaced the dropped connections
    assert failures > 0, "no call met a dropped connection: the test no longer drops any"
    if kind == "write":
        assert (await groups.get(reader, "groups/fraud")).description == f"round {ROUNDS - 1}"
        async with domain.store.reader(domain.tenant) as unit:
            head, _ = await unit.log.head()
        assert head == 1 + ROUNDS  # the creation, then one update a round
