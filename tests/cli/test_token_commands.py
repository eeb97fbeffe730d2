"""``modelyard tokens``, run as a user runs it, against a real server: the secret is printed
once, lists never show it, and a revoked token stops working."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from modelyard import Registry, errors

from tests.support.cli import Cli, fields
from tests.support.servers import Server


def test_tokens_create_prints_the_secret_once_and_list_never_does(
    cli: Cli, cli_server: Server
) -> None:
    done = cli.run(cli_server, "tokens", "create", "ci-bot", "--role", "viewer",
                   "--role", "deployer@fraud", "--expires", "12h")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "shown only this once" in done.stderr
    created = fields(done.stdout)
    secret = created["secret"]
    assert secret.startswith("myd_")
    assert created["name"].startswith("tokens/tk-")
    assert created["subject"] == "ci-bot" and created["roles"] == "deployer@fraud, viewer"
    assert created["state"] == "active" and created["created by"] == "admin"
    expires = datetime.fromisoformat(created["expires"].replace("Z", "+00:00"))
    assert abs(expires - (datetime.now(UTC) + timedelta(hours=12))) < timedelta(minutes=1)
    token_id = created["name"].removeprefix("tokens/")

    rows = {row["TOKEN"]: row for row in cli.rows(cli_server, "tokens", "list")}
    assert rows[token_id]["SUBJECT"] == "ci-bot"
    assert rows[token_id]["STATE"] == "active" and rows[token_id]["LAST_USED"] == "never"
    listed = cli.ok(cli_server, "tokens", "list", "--output", "json")
    assert secret not in listed
    assert {t["name"] for t in json.loads(listed)} >= {created["name"]}


def test_tokens_revoke_stops_the_token_at_once_and_list_says_so(
    cli: Cli, cli_server: Server
) -> None:
    created = json.loads(
        cli.ok(cli_server, "tokens", "create", "leaver", "--role", "viewer", "--output", "json")
    )
    secret, name = created["secret"], created["token"]["name"]
    with Registry(cli_server.address, token=secret) as leaver:
        list(leaver.list_groups())
        said = cli.ok(cli_server, "tokens", "revoke", name.removeprefix("tokens/"))
        assert said.startswith(f"revoked {name} (leaver) at ")
        try:
            leaver.list_groups()
            raise AssertionError("a revoked token still worked")
        except errors.TokenRevoked:
            pass
    rows = {row["TOKEN"]: row for row in cli.rows(cli_server, "tokens", "list")}
    assert rows[name.removeprefix("tokens/")]["STATE"] == "revoked"
    assert rows[name.removeprefix("tokens/")]["LAST_USED"] != "never"


def test_tokens_create_refuses_an_expiry_it_cannot_read(cli: Cli, cli_server: Server) -> None:
    done = cli.run(cli_server, "tokens", "create", "ann", "--role", "viewer", "--expires", "soon")
    assert done.returncode == 2
    assert "expected a lifetime like 30d, 12h or 90m, or a date like 2027-06-30" in done.stderr


def test_tokens_revoke_of_an_unknown_token_says_it_does_not_exist(
    cli: Cli, cli_server: Server
) -> None:
    done = cli.run(cli_server, "tokens", "revoke", "tk-0000000000000000")
    assert done.returncode != 0
    assert "token 'tokens/tk-0000000000000000' does not exist" in done.stderr
