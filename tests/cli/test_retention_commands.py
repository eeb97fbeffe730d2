"""``modelyard impact``, ``retention`` and ``hold``, run as a user runs them against a real
server."""

from __future__ import annotations

import json

import pytest

from tests.support.cli import Cli, fields
from tests.support.servers import Server
from tests.support.versions import sha


@pytest.fixture(scope="module")
def ann(sqlite_server: Server) -> dict[str, str]:
    """An approver: the admin registers, so may not approve."""
    return {"MODELYARD_TOKEN": sqlite_server.mint_token("ann", "approver")}


def test_impact_prints_the_tree_and_archiving_under_it_takes_force(
    cli: Cli, cli_server: Server, ann: dict[str, str], unique_group: str
) -> None:
    encoder, app = f"{unique_group}-enc", f"{unique_group}-app"
    needed = f"groups/{encoder}/versions/1"
    for group in (encoder, app):
        cli.ok(cli_server, "groups", "create", group)
    cli.ok(cli_server, "versions", "create", encoder, "--uri", "s3://m/e", "--sha256", sha())
    cli.ok(
        cli_server,
        "versions",
        "create",
        app,
        "--uri",
        "s3://m/a",
        "--sha256",
        sha(),
        "--depends-on",
        needed,
    )
    assert cli.run(cli_server, "approve", app, "1", "--reason", "ok", env=ann).returncode == 0
    cli.ok(cli_server, "transition", app, "1", "staging")
    cli.ok(cli_server, "promote", app, "1")

    done = cli.run(cli_server, "impact", encoder, "1")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"{needed}  NONE",
        f"  └─ groups/{app}/versions/1  PRODUCTION",
    ]
    assert "needs --force" in done.stderr
    as_json = json.loads(cli.ok(cli_server, "impact", encoder, "1", "--json"))
    assert [(d["version"], d["stage"], d["depth"]) for d in as_json] == [
        (f"groups/{app}/versions/1", "STAGE_PRODUCTION", 1)
    ]

    refused = cli.run(cli_server, "transition", encoder, "1", "archived")
    assert refused.returncode != 0
    assert refused.stderr.startswith("error: HAS_DEPENDENTS:"), refused.stderr
    moved = cli.ok(
        cli_server, "transition", encoder, "1", "archived", "--force", "--reason", "retired"
    )
    assert fields(moved)["stage"] == "ARCHIVED"


def test_a_hold_stops_a_delete_until_it_is_cleared(
    cli: Cli, cli_server: Server, unique_group: str
) -> None:
    cli.ok(cli_server, "groups", "create", unique_group)
    cli.ok(cli_server, "versions", "create", unique_group, "--uri", "s3://m/1", "--sha256", sha())
    held = cli.ok(cli_server, "hold", "set", unique_group, "1", "--reason", "case 7")
    assert held == f"groups/{unique_group}/versions/1 is held: case 7 (by admin)\n"
    refused = cli.run(cli_server, "versions", "delete", unique_group, "1")
    assert refused.stderr.startswith("error: VERSION_ON_LEGAL_HOLD:"), refused.stderr
    cli.ok(cli_server, "hold", "clear", unique_group, "1", "--reason", "case closed")
    cli.ok(cli_server, "versions", "delete", unique_group, "1")


def test_retention_set_show_plan_and_apply(cli: Cli, cli_server: Server, unique_group: str) -> None:
    cli.ok(cli_server, "groups", "create", unique_group)
    shown = fields(cli.ok(cli_server, "retention", "show", unique_group))
    assert shown["inherited"].startswith("yes")
    set_ = fields(
        cli.ok(
            cli_server,
            "retention",
            "set",
            unique_group,
            "--keep-newest",
            "5",
            "--delete-archived-after-days",
            "2557",
        )
    )
    assert (set_["keep newest"], set_["delete archived after days"]) == ("5", "2557")
    assert set_["archive staging after days"] == "off"
    assert fields(cli.ok(cli_server, "retention", "show", unique_group))["inherited"] == "no"
    assert cli.rows(cli_server, "retention", "plan", unique_group) == []
    assert cli.rows(cli_server, "retention", "apply", unique_group) == []
    nothing = cli.run(cli_server, "retention", "set", unique_group)
    assert nothing.returncode != 0 and "nothing to set" in nothing.stderr
