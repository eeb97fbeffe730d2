"""A revoked token fails at once on every worker and replica: once RevokeToken returns, the
next call that presents it fails, wherever it lands."""

from __future__ import annotations

import asyncio

import pytest
from modelyard import Registry, errors

from tests.support.factory import BACKENDS, ServerFactory
from tests.support.postgres import database_name, run_admin_sql
from tests.support.servers import shared_key_file


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_token_revoked_through_one_worker_fails_at_once_on_every_worker(
    server_factory: ServerFactory, backend: str
) -> None:
    with (
        server_factory(backend, process=True, workers=2) as two_workers,
        Registry(two_workers.address, token=two_workers.token) as admin,
    ):
        created = admin.create_token("leaver", roles=["viewer"])
        # A connection each: the kernel spreads them over both workers, and each worker has
        # seen the token work before it is revoked.
        callers = [Registry(two_workers.address, token=created.secret) for _ in range(8)]
        try:
            for caller in callers:
                list(caller.list_groups())
            admin.revoke_token(created.token.name)
            for caller in callers:
                with pytest.raises(errors.TokenRevoked):
                    caller.list_groups()
        finally:
            for caller in callers:
                caller.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_token_revoked_on_one_replica_fails_at_once_on_another(
    server_factory: ServerFactory, backend: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    shared = None
    if backend == "sqlite":
        shared = f"sqlite:///{tmp_path_factory.mktemp('replicas') / 'shared.db'}"
    key = shared_key_file(tmp_path_factory.mktemp("key"))
    with server_factory(backend, process=True, database_url=shared, key_file=key) as first:
        database = first.database_url
        with (
            server_factory(backend, process=True, database_url=database, key_file=key) as second,
            Registry(first.address, token=first.token) as admin,
        ):
            created = admin.create_token("leaver", roles=["viewer"])
            with Registry(second.address, token=created.secret) as elsewhere:
                list(elsewhere.list_groups())
                admin.revoke_token(created.token.name)
                with pytest.raises(errors.TokenRevoked):
                    elsewhere.list_groups()


def test_calls_are_unavailable_not_internal_while_the_database_refuses_connections(
    server_factory: ServerFactory, postgres_database: str
) -> None:
    """Every call looks its token up, so a database that cannot be reached is met at once;
    the caller gets UNAVAILABLE, which it may retry, and the server comes back with it."""
    name = database_name(postgres_database)
    with (
        server_factory("postgres", process=True, database_url=postgres_database) as server,
        Registry(server.address, token=server.token, max_attempts=1) as admin,
    ):
        list(admin.list_groups())
        asyncio.run(run_admin_sql(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
        try:
            asyncio.run(
                run_admin_sql(
                    f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
                )
            )
            with pytest.raises(errors.DatabaseUnavailable):
                admin.list_groups()
        finally:
            asyncio.run(run_admin_sql(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        list(admin.list_groups())


def test_connections_the_database_dropped_cost_one_retried_call(
    server_factory: ServerFactory, postgres_database: str
) -> None:
    """The pool does not ping before each checkout: when the database drops every
    connection (a restart, a failover), the first call to meet a dead one is UNAVAILABLE,
    which the SDK retries, and the pool replaces all of them at once."""
    name = database_name(postgres_database)
    kill = f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
    with server_factory("postgres", process=True, database_url=postgres_database) as server:
        with Registry(server.address, token=server.token) as admin:
            for _ in range(20):  # fill the pool with connections that will be dropped
                list(admin.list_groups())
            asyncio.run(run_admin_sql(kill))
            list(admin.list_groups())  # retried by the SDK: the caller sees no error
        with Registry(server.address, token=server.token, max_attempts=1) as once:
            asyncio.run(run_admin_sql(kill))
            failures = 0
            for _ in range(10):
                try:
                    list(once.list_groups())
                except errors.DatabaseUnavailable:
                    failures += 1
            assert failures <= 1  # not one failure per pooled connection
