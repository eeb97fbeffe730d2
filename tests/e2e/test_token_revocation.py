"""A revoked token fails at once on every worker and replica: once RevokeToken returns, the
next call that presents it fails, wherever it lands."""

from __future__ import annotations

import pytest
from modelyard import Registry, errors

from tests.support.factory import BACKENDS, ServerFactory


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
    with server_factory(backend, process=True, database_url=shared) as first:
        database = first.database_url
        with (
            server_factory(backend, process=True, database_url=database) as second,
            Registry(first.address, token=first.token) as admin,
        ):
            created = admin.create_token("leaver", roles=["viewer"])
            with Registry(second.address, token=created.secret) as elsewhere:
                list(elsewhere.list_groups())
                admin.revoke_token(created.token.name)
                with pytest.raises(errors.TokenRevoked):
                    elsewhere.list_groups()
