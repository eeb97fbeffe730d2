"""The `modelyard` command with a JWT from an identity provider as its token."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.support.cli import Cli, table
from tests.support.factory import ServerFactory
from tests.support.idp import IdentityProvider, identity_provider
from tests.support.servers import Server


@pytest.fixture(scope="module")
def idp() -> Iterator[IdentityProvider]:
    with identity_provider("ES256") as provider:
        yield provider


@pytest.fixture(scope="module")
def oidc_server(server_factory: ServerFactory, idp: IdentityProvider) -> Iterator[Server]:
    with server_factory("sqlite", **idp.settings()) as server:
        yield server


def test_a_jwt_in_modelyard_token_does_what_its_roles_allow(
    cli: Cli, oidc_server: Server, idp: IdentityProvider, unique_group: str
) -> None:
    env = {"MODELYARD_TOKEN": idp.token("erin", "contributor")}
    created = cli.run(oidc_server, "groups", "create", unique_group, env=env)
    assert created.returncode == 0, created.stderr
    listed = cli.run(oidc_server, "groups", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    mine = [row for row in table(listed.stdout) if row["GROUP"] == unique_group]
    assert [row["CREATED_BY"] for row in mine] == ["erin"]
    refused = cli.run(oidc_server, "groups", "delete", unique_group, env=env)
    assert refused.returncode == 1
    assert refused.stderr.startswith(
        f"error: MISSING_PERMISSION: 'erin' lacks the 'admin' permission on group '{unique_group}'"
    )
    audit = cli.run(oidc_server, "audit", "list", "--actor", "erin")
    assert audit.returncode == 0 and "MODEL_GROUP_CREATED" in audit.stdout, audit.stderr


def test_an_expired_jwt_says_when_it_expired_and_where_it_came_from(
    cli: Cli, oidc_server: Server, idp: IdentityProvider
) -> None:
    expired = int(time.time()) - 600
    token = idp.token("erin", "viewer", exp=expired)
    done = cli.run(oidc_server, "--token", token, "groups", "list")
    assert done.returncode == 1
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expired))
    assert done.stderr == (
        f"error: UNAUTHENTICATED: the bearer JWT was refused: it expired at {when}; get a new "
        f"token (the token from --token, sent to {oidc_server.address})\n"
    )
