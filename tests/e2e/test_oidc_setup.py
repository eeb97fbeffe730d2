"""`modelyard-server serve` with an identity provider: settings that could not verify a JWT,
or would verify too much, stop it with one line saying what to fix (tests/api/test_oidc.py
has every case; this is the command line's end of it), and every worker verifies JWTs."""

from __future__ import annotations

from pathlib import Path

import pytest
from modelyard import Registry

from tests.e2e.test_server_mistakes import modelyard_server, the_error
from tests.support.factory import ServerFactory
from tests.support.idp import identity_provider

HTTPS = ["--oidc-issuer", "https://idp.example", "--oidc-audience", "modelyard"]


@pytest.mark.parametrize("workers", ["1", "2"])
def test_oidc_settings_that_cannot_work_are_one_line(tmp_path: Path, workers: str) -> None:
    serve = ["serve", "--address", "127.0.0.1:0", "--workers", workers]
    done = modelyard_server(
        "--data-dir", tmp_path / "data", *serve, *HTTPS, "--oidc-algorithms", "HS256"
    )
    assert the_error(done) == (
        "error: --oidc-algorithms (MODELYARD_OIDC_ALGORITHMS) may not name HS256; choose among "
        "ES256, ES384, ES512, EdDSA, PS256, PS384, PS512, RS256, RS384, RS512"
    )


def test_serve_help_says_the_oidc_settings_are_unset_by_default() -> None:
    done = modelyard_server("serve", "--help")
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())
    assert "(MODELYARD_OIDC_ISSUER, default unset)" in text
    assert "(MODELYARD_OIDC_ROLES_CLAIM, default modelyard_roles)" in text
    assert "(MODELYARD_DATABASE_URL, default SQLite in the data directory)" in text


def test_every_worker_verifies_jwts(server_factory: ServerFactory, unique_group: str) -> None:
    with (
        identity_provider("EdDSA") as idp,
        server_factory(process=True, workers=2, **idp.settings()) as server,
    ):
        token = idp.token("wes", "contributor")
        # Workers get the settings from their environment; new channels spread over them.
        for n in range(8):
            with Registry(server.address, token=token) as client:
                client.create_group(f"{unique_group}-{n}")
        with Registry(server.address, token=server.token) as admin:
            mine = [g for g in admin.list_groups() if g.name.startswith(f"groups/{unique_group}")]
        assert sorted(g.created_by for g in mine) == ["wes"] * 8
