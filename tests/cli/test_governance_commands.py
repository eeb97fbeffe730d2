"""The governance commands of ``modelyard``, run as a user runs them (``main`` in this
process), against a real server, as the admin and as a reviewer."""

from __future__ import annotations

import json

import pytest

from tests.support.cli import Cli, Done, fields, table
from tests.support.servers import Server
from tests.support.versions import sha


@pytest.fixture(scope="module")
def ann(sqlite_server: Server) -> dict[str, str]:
    """The environment of Ann, an approver (the admin registers, so may not approve)."""
    return {"MODELYARD_TOKEN": sqlite_server.mint_token("ann", "approver")}


def as_ann(cli: Cli, server: Server, ann: dict[str, str], *args: str) -> Done:
    return cli.run(server, *args, env=ann)


def ann_ok(cli: Cli, server: Server, ann: dict[str, str], *args: str) -> str:
    done = as_ann(cli, server, ann, *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def two_approved_versions(cli: Cli, server: Server, ann: dict[str, str], group: str) -> None:
    cli.ok(server, "groups", "create", group)
    for n in (1, 2):
        cli.ok(server, "versions", "create", group, "--uri", f"s3://m/{n}", "--sha256", sha())
        ann_ok(cli, server, ann, "approve", group, str(n), "--reason", f"evaluated {n}")


def test_approve_promote_and_roll_back(
    cli: Cli, cli_server: Server, ann: dict[str, str], unique_group: str
) -> None:
    cli.ok(cli_server, "groups", "create", unique_group)
    cli.ok(cli_server, "versions", "create", unique_group, "--uri", "s3://m/1", "--sha256", sha())
    approved = ann_ok(cli, cli_server, ann, "approve", unique_group, "1", "--reason", "good")
    assert approved == f"1 of 1 approval (ann): groups/{unique_group}/versions/1 is APPROVED\n"
    shown = fields(cli.ok(cli_server, "versions", "show", unique_group, "1"))
    assert (shown["approval"], shown["approvers"]) == ("APPROVED", "ann")
    cli.ok(cli_server, "versions", "create", unique_group, "--uri", "s3://m/2", "--sha256", sha())
    name = f"groups/{unique_group}/versions/2"
    as_json = json.loads(ann_ok(cli, cli_server, ann, "approve", name, "--json"))
    assert (as_json["approvalStatus"], as_json["approvers"]) == (
        "APPROVAL_STATUS_APPROVED",
        ["ann"],
    )

    staged = fields(cli.ok(cli_server, "transition", unique_group, "1", "staging"))
    assert staged["stage"] == "STAGING"
    assert "archived" not in staged
    assert fields(cli.ok(cli_server, "promote", unique_group, "1"))["stage"] == "PRODUCTION"
    cli.ok(cli_server, "transition", name, "STAGING")
    promoted = fields(cli.ok(cli_server, "promote", name, "--reason", "better"))
    assert promoted["stage"] == "PRODUCTION"
    assert promoted["archived"] == f"groups/{unique_group}/versions/1"

    back = fields(cli.ok(cli_server, "rollback", unique_group, "--reason", "latency"))
    assert back == {
        "restored": f"groups/{unique_group}/versions/1",
        "stage": "PRODUCTION",
        "archived": name,
    }
    again = json.loads(cli.ok(cli_server, "rollback", unique_group, "--to", "2", "--json"))
    assert again["restoredVersion"]["name"] == name
    assert [v["name"] for v in again["archivedVersions"]] == [f"groups/{unique_group}/versions/1"]
    rows = table(cli.ok(cli_server, "versions", "list", unique_group))
    assert [(r["VERSION"], r["STAGE"]) for r in rows] == [("2", "PRODUCTION"), ("1", "ARCHIVED")]


def test_a_transition_prints_the_response_as_json(
    cli: Cli, cli_server: Server, ann: dict[str, str], unique_group: str
) -> None:
    two_approved_versions(cli, cli_server, ann, unique_group)
    for n in ("1", "2"):
        cli.ok(cli_server, "transition", unique_group, n, "staging")
    cli.ok(cli_server, "promote", unique_group, "1")
    moved = json.loads(cli.ok(cli_server, "transition", unique_group, "2", "production", "--json"))
    assert moved["modelVersion"]["stage"] == "STAGE_PRODUCTION"
    assert moved["archivedVersions"][0]["stage"] == "STAGE_ARCHIVED"


def test_a_rejection_needs_a_reason_and_takes_the_version_out_of_production(
    cli: Cli, cli_server: Server, ann: dict[str, str], unique_group: str
) -> None:
    two_approved_versions(cli, cli_server, ann, unique_group)
    for n in ("1", "2"):
        cli.ok(cli_server, "transition", unique_group, n, "staging")
        cli.ok(cli_server, "promote", unique_group, n)
    no_reason = as_ann(cli, cli_server, ann, "reject", unique_group, "2")
    assert no_reason.returncode == 2
    assert "--reason" in no_reason.stderr
    rejected = fields(
        ann_ok(cli, cli_server, ann, "reject", unique_group, "2", "--reason", "drift in production")
    )
    assert (rejected["approval"], rejected["stage"]) == ("REJECTED", "ARCHIVED")
    rows = table(cli.ok(cli_server, "versions", "list", unique_group))
    assert [(r["VERSION"], r["STAGE"]) for r in rows] == [("2", "ARCHIVED"), ("1", "PRODUCTION")]
    revoked = table(cli.ok(cli_server, "history", unique_group, "2"))[-1]
    assert revoked["CHANGE"] == "rejected: APPROVED -> REJECTED, PRODUCTION -> ARCHIVED"
    assert revoked["REASON"] == "drift in production"
    restored = table(cli.ok(cli_server, "history", unique_group, "1"))[-1]
    assert restored["CHANGE"] == "ARCHIVED -> PRODUCTION (version 2 rejected)"


def test_refusals_are_one_line_with_their_reason(
    cli: Cli, cli_server: Server, ann: dict[str, str], unique_group: str
) -> None:
    cli.ok(cli_server, "groups", "create", unique_group)
    cli.ok(cli_server, "versions", "create", unique_group, "--uri", "s3://m/1", "--sha256", sha())
    own = cli.run(cli_server, "approve", unique_group, "1")
    assert own.returncode == 1
    assert own.stderr.startswith("error: SELF_APPROVAL_FORBIDDEN: ")
    assert own.stderr.count("\n") == 1
    cli.ok(cli_server, "transition", unique_group, "1", "staging")
    pending = cli.run(cli_server, "promote", unique_group, "1")
    assert pending.returncode == 1
    assert pending.stderr.startswith("error: VERSION_NOT_APPROVED: ")
    backwards = cli.run(cli_server, "transition", unique_group, "1", "none")
    assert backwards.stderr.startswith("error: INVALID_TRANSITION: ")
    nothing = cli.run(cli_server, "rollback", unique_group)
    assert nothing.stderr.startswith("error: NO_ROLLBACK_TARGET: ")
    deployer_only = as_ann(cli, cli_server, ann, "transition", unique_group, "1", "archived")
    assert deployer_only.stderr.startswith("error: MISSING_PERMISSION: ")


def test_a_bad_governance_command_line_exits_2_without_calling_the_server(
    cli: Cli,
    cli_server: Server,
) -> None:
    bad_stage = cli.run(cli_server, "transition", "fraud", "1", "live")
    assert bad_stage.returncode == 2
    assert bad_stage.stderr == (
        "error: argument stage: 'live' is not a stage; use one of none, staging, production, "
        "archived; run `modelyard transition --help`\n"
    )
    no_version = cli.run(cli_server, "promote", "fraud")
    assert no_version.returncode == 2
    assert no_version.stderr.startswith("error: which version of 'fraud'?")
    nothing = cli.run(cli_server, "policy", "update", "fraud")
    assert nothing.returncode == 2
    assert "nothing to update" in nothing.stderr
    assert cli.run(cli_server, "alias").returncode == 2


def test_alias_set_show_list_and_delete(cli: Cli, cli_server: Server, unique_group: str) -> None:
    cli.ok(cli_server, "groups", "create", unique_group)
    for n in (1, 2):
        cli.ok(
            cli_server,
            "versions",
            "create",
            unique_group,
            "--uri",
            f"s3://m/{n}",
            "--sha256",
            sha(),
        )
    alias = f"groups/{unique_group}/aliases/champion"
    champion = fields(cli.ok(cli_server, "alias", "set", unique_group, "champion", "1"))
    assert champion["name"] == alias
    assert champion["version"] == f"groups/{unique_group}/versions/1"
    assert champion["updated by"] == "admin"
    cli.ok(
        cli_server, "alias", "set", unique_group, "challenger", f"groups/{unique_group}/versions/2"
    )
    stale = cli.run(cli_server, "alias", "set", unique_group, "champion", "2", "--etag", "stale")
    assert stale.stderr.startswith("error: STALE_ETAG: ")
    cli.ok(cli_server, "alias", "set", unique_group, "champion", "2", "--etag", champion["etag"])
    assert fields(cli.ok(cli_server, "alias", "show", alias))["version"].endswith("/versions/2")
    assert fields(cli.ok(cli_server, "versions", "show", alias))["aliases"] == "challenger,champion"
    rows = table(cli.ok(cli_server, "alias", "list", unique_group))
    assert [(r["ALIAS"], r["VERSION"], r["UPDATED_BY"]) for r in rows] == [
        ("challenger", "2", "admin"),
        ("champion", "2", "admin"),
    ]
    assert cli.ok(cli_server, "alias", "delete", unique_group, "champion") == f"deleted {alias}\n"
    missing = cli.run(cli_server, "alias", "show", unique_group, "champion")
    assert missing.returncode == 1
    assert missing.stderr.startswith("error: ALIAS_NOT_FOUND: ")
    listed = json.loads(cli.ok(cli_server, "alias", "list", unique_group, "--json"))
    assert [a["name"] for a in listed] == [f"groups/{unique_group}/aliases/challenger"]


def test_policy_show_and_update_of_its_numbers_and_flags(
    cli: Cli, cli_server: Server, unique_group: str
) -> None:
    cli.ok(cli_server, "groups", "create", unique_group)
    shown = fields(cli.ok(cli_server, "policy", "show", unique_group))
    assert shown["name"] == f"groups/{unique_group}/approvalPolicy"
    assert shown["required approvals"] == "1"
    assert shown["allow self approval"] == "no"
    assert shown["approver roles"] == "approver,admin"
    assert shown["max production versions"] == "1"
    updated = fields(
        cli.ok(cli_server, "policy", "update", unique_group, "--required-approvals", "2",
               "--allow-self-approval", "--max-production-versions", "3")
    )  # fmt: skip
    assert updated["required approvals"] == "2"
    assert updated["allow self approval"] == "yes"
    assert updated["max production versions"] == "3"
    assert updated["approver roles"] == "approver,admin"  # not in the mask: unchanged
    back = json.loads(
        cli.ok(cli_server, "policy", "update", unique_group, "--no-allow-self-approval", "--json")
    )
    assert back.get("allowSelfApproval", False) is False
    bad = cli.run(cli_server, "policy", "update", unique_group, "--required-approvals", "0")
    assert bad.returncode == 1
    assert bad.stderr == (
        "error: INVALID_FIELD: approval_policy.required_approvals: must be 1 to 10\n"
    )


def test_policy_update_replaces_its_lists(cli: Cli, cli_server: Server, unique_group: str) -> None:
    cli.ok(cli_server, "groups", "create", unique_group)
    updated = fields(
        cli.ok(cli_server, "policy", "update", unique_group, "--approver-roles", "approver",
               "--protected-aliases", "champion,prod")
    )  # fmt: skip
    assert updated["approver roles"] == "approver"
    assert updated["protected aliases"] == "champion,prod"
    cleared = fields(
        cli.ok(cli_server, "policy", "update", unique_group, "--protected-aliases", "")
    )
    assert cleared["protected aliases"] == ""


def test_history_lists_a_versions_decisions_moves_and_aliases_in_order(
    cli: Cli, cli_server: Server, ann: dict[str, str], unique_group: str
) -> None:
    two_approved_versions(cli, cli_server, ann, unique_group)
    cli.ok(cli_server, "transition", unique_group, "1", "staging", "--reason", "canary")
    cli.ok(cli_server, "promote", unique_group, "1", "--reason", "first release")
    cli.ok(cli_server, "alias", "set", unique_group, "champion", "1")
    cli.ok(cli_server, "transition", unique_group, "2", "staging")
    cli.ok(cli_server, "promote", unique_group, "2", "--reason", "better auc")
    cli.ok(cli_server, "alias", "set", unique_group, "champion", "2")
    cli.ok(cli_server, "rollback", unique_group, "--reason", "latency regression")
    cli.ok(cli_server, "alias", "delete", unique_group, "champion")

    rows = table(cli.ok(cli_server, "history", unique_group, "1"))
    assert [(r["ACTOR"], r["ACTION"], r["CHANGE"], r["REASON"]) for r in rows] == [
        ("ann", "APPROVAL_CHANGED", "approved: PENDING_MANUAL_APPROVAL -> APPROVED", "evaluated 1"),
        ("admin", "STAGE_CHANGED", "NONE -> STAGING", "canary"),
        ("admin", "STAGE_CHANGED", "STAGING -> PRODUCTION", "first release"),
        ("admin", "ALIAS_SET", "alias champion set", ""),
        ("admin", "STAGE_CHANGED", "PRODUCTION -> ARCHIVED (replaced by version 2)", "better auc"),
        ("admin", "ALIAS_SET", "alias champion removed (moved to version 2)", ""),
        ("admin", "ROLLED_BACK", "ARCHIVED -> PRODUCTION (rollback)", "latency regression"),
    ]
    seqs = [int(r["SEQ"]) for r in rows]
    assert seqs == sorted(seqs)
    assert all(r["TIME"].endswith("Z") for r in rows)

    second = table(cli.ok(cli_server, "history", f"groups/{unique_group}/versions/2"))
    assert [r["CHANGE"] for r in second][-3:] == [
        "alias champion set",
        "PRODUCTION -> ARCHIVED (rolled back to version 1)",
        "alias champion removed (deleted)",
    ]
    latest = json.loads(cli.ok(cli_server, "history", unique_group, "latest", "--json"))
    assert [int(e["seq"]) for e in latest] == [int(r["SEQ"]) for r in second]
    assert latest[0]["action"] == "ACTION_APPROVAL_CHANGED"


def test_history_shows_the_approvals_that_did_not_yet_reach_the_policy(
    cli: Cli, cli_server: Server, ann: dict[str, str], unique_group: str
) -> None:
    cli.ok(cli_server, "groups", "create", unique_group)
    cli.ok(cli_server, "policy", "update", unique_group, "--required-approvals", "2")
    cli.ok(cli_server, "versions", "create", unique_group, "--uri", "s3://m/1", "--sha256", sha())
    ann_ok(cli, cli_server, ann, "approve", unique_group, "1", "--reason", "first look")
    ann_ok(cli, cli_server, ann, "reject", unique_group, "1", "--reason", "found a leak")
    rows = table(cli.ok(cli_server, "history", unique_group, "1"))
    assert [r["CHANGE"] for r in rows] == [
        "approved: still PENDING_MANUAL_APPROVAL (1 approver)",
        "rejected: PENDING_MANUAL_APPROVAL -> REJECTED",
    ]


def test_help_lists_the_governance_commands(cli: Cli) -> None:
    done = cli.run(None, "--help")
    for command in ("approve", "reject", "transition", "promote", "rollback", "alias", "policy"):
        assert command in done.stdout
    assert "history" in done.stdout


def test_approve_prints_the_approvals_so_far_and_a_repeat_does_not_count(
    cli: Cli, cli_server: Server, ann: dict[str, str], unique_group: str
) -> None:
    bob = {"MODELYARD_TOKEN": cli_server.mint_token("bob", "approver")}
    cli.ok(cli_server, "groups", "create", unique_group)
    cli.ok(cli_server, "policy", "update", unique_group, "--required-approvals", "2")
    cli.ok(cli_server, "versions", "create", unique_group, "--uri", "s3://m/1", "--sha256", sha())
    name = f"groups/{unique_group}/versions/1"

    first = ann_ok(cli, cli_server, ann, "approve", unique_group, "1")
    assert first == (
        f"1 of 2 approvals (ann): {name} is PENDING_MANUAL_APPROVAL until 1 more reviewer "
        "approves\n"
    )
    again = ann_ok(cli, cli_server, ann, "approve", unique_group, "latest")
    assert again == (
        "your approval was counted before and does not count again; 1 of 2 approvals (ann): "
        f"{name} is PENDING_MANUAL_APPROVAL until 1 more reviewer approves\n"
    )
    second = cli.run(cli_server, "approve", name, env=bob)
    assert (second.returncode, second.stderr) == (0, "")
    assert second.stdout == f"2 of 2 approvals (ann, bob): {name} is APPROVED\n"
    rows = table(cli.ok(cli_server, "history", unique_group, "1"))
    assert [r["ACTOR"] for r in rows] == ["ann", "bob"]  # the repeat wrote nothing
