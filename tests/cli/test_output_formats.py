"""``--output table|json|csv``: tables for people (cut to the terminal, an empty list said
on stderr), JSON and CSV for scripts (int64s as numbers, audit snapshots in the same style,
errors as JSON on stderr)."""

from __future__ import annotations

import json

from modelyard.cli.jsonform import message_dict
from modelyard.v1.resources_pb2 import AuditEvent, ModelGroup

from tests.support.cli import Cli, table
from tests.support.servers import Server
from tests.support.versions import sha


def test_csv_is_a_header_and_a_row_per_item(
    cli: Cli, cli_server: Server, unique_group: str
) -> None:
    cli.ok(cli_server, "groups", "create", unique_group)
    for n, metrics in [(1, ["auc=0.9"]), (2, ["auc=0.95", "f1=0.5"])]:
        cli.ok(cli_server, "versions", "create", unique_group, "--uri", f"s3://m/{n}",
               "--sha256", sha(), *[a for m in metrics for a in ("--metric", m)])  # fmt: skip
    lines = cli.ok(cli_server, "versions", "list", unique_group, "--output", "csv").splitlines()
    assert lines[0] == "GROUP,VERSION,STAGE,APPROVAL,FORMAT,METRICS,CREATED_BY,CREATED"
    assert [line.split(",", 5)[:5] for line in lines[1:]] == [
        [unique_group, "2", "NONE", "PENDING_MANUAL_APPROVAL", "other"],
        [unique_group, "1", "NONE", "PENDING_MANUAL_APPROVAL", "other"],
    ]
    assert lines[1].split(",", 5)[5].startswith('"auc=0.95,f1=0.5",admin,')  # quoted: a comma
    shown = cli.ok(cli_server, "groups", "show", unique_group, "-o", "csv").splitlines()
    assert shown[0] == "name,description,tags,latest version,created by,created,updated,etag"
    assert shown[1].startswith(f"groups/{unique_group},,,2,admin,")


def test_json_has_int64_fields_as_numbers(cli: Cli, cli_server: Server, unique_group: str) -> None:
    cli.ok(cli_server, "groups", "create", unique_group)
    version = json.loads(
        cli.ok(cli_server, "versions", "create", unique_group, "--uri", "s3://m/1",
               "--sha256", sha(), "--size", "123456789", "--json")
    )  # fmt: skip
    assert (version["version"], version["artifact"]["sizeBytes"]) == (1, 123456789)
    assert (
        json.loads(cli.ok(cli_server, "groups", "show", unique_group, "--json"))["latestVersion"]
        == 1
    )
    [entry] = json.loads(
        cli.ok(cli_server, "audit", "list", "--resource", version["name"], "--json")
    )
    assert isinstance(entry["seq"], int) and entry["version"] == 1


def test_an_int64_beyond_what_a_double_holds_stays_a_string() -> None:
    assert message_dict(AuditEvent(seq=2**53))["seq"] == 2**53
    assert message_dict(AuditEvent(seq=2**53 + 1))["seq"] == str(2**53 + 1)
    assert message_dict(ModelGroup(latest_version=-(2**53) - 1))["latestVersion"] == str(
        -(2**53) - 1
    )


def test_audit_snapshots_are_in_the_same_style_as_everything_else(
    cli: Cli, cli_server: Server, unique_group: str
) -> None:
    cli.ok(cli_server, "groups", "create", unique_group)
    version = json.loads(
        cli.ok(cli_server, "versions", "create", unique_group, "--uri", "s3://m/1",
               "--sha256", sha(), "--size", "7", "--tag", "team_name=risk", "--json")
    )  # fmt: skip
    cli.ok(cli_server, "policy", "update", unique_group, "--required-approvals", "2")
    entries = json.loads(
        cli.ok(cli_server, "audit", "list", "--resource", f"groups/{unique_group}", "--json")
    )
    created = entries[1]["after"]
    # The snapshot is the version as `versions show --json` prints it, not the log's
    # snake_case with int64 strings; map keys (tags) are left as they are.
    assert created["createdBy"] == "admin" and "created_by" not in created
    assert created["artifact"]["sizeBytes"] == 7 and created["version"] == 1
    assert created["tags"] == {"team_name": "risk"}
    assert {k: created[k] for k in version} == version
    policy = entries[2]
    assert policy["action"] == "ACTION_APPROVAL_POLICY_UPDATED"
    assert policy["after"]["requiredApprovals"] == 2
    assert policy["before"]["approverRoles"] == ["approver", "admin"]


def test_errors_are_json_on_stderr_with_json(
    cli: Cli, cli_server: Server, unique_group: str
) -> None:
    missing = cli.run(cli_server, "groups", "show", unique_group, "--json")
    assert (missing.returncode, missing.stdout) == (1, "")
    assert json.loads(missing.stderr) == {
        "error": {
            "code": "NOT_FOUND",
            "reason": "MODEL_GROUP_NOT_FOUND",
            "message": f"model group 'groups/{unique_group}' does not exist",
            "metadata": {"resource": f"groups/{unique_group}"},
        }
    }
    cli.ok(cli_server, "groups", "create", unique_group)
    digest = sha()
    create = ["versions", "create", unique_group, "--uri", "s3://m/1", "--sha256", digest]
    cli.ok(cli_server, *create)
    duplicate = json.loads(cli.run(cli_server, "--json", *create).stderr)["error"]
    assert (duplicate["code"], duplicate["reason"]) == ("ALREADY_EXISTS", "DUPLICATE_ARTIFACT")
    assert duplicate["metadata"]["existing_version"] == f"groups/{unique_group}/versions/1"
    invalid = cli.run(cli_server, "versions", "create", unique_group, "--uri", "nope",
                      "--sha256", digest, "--json")  # fmt: skip
    error = json.loads(invalid.stderr)["error"]
    assert error["fieldViolations"] == [
        {
            "field": "model_version.artifact.uri",
            "description": "'nope' is not a URI: it needs a scheme such as s3:// or file://",
        }
    ]


def test_an_empty_list_says_so_on_stderr_and_prints_nothing_else(
    cli: Cli, cli_server: Server, unique_group: str
) -> None:
    cli.ok(cli_server, "groups", "create", unique_group)
    done = cli.run(cli_server, "versions", "list", unique_group)
    assert (done.returncode, done.stdout, done.stderr) == (
        0,
        "",
        f"no versions in groups/{unique_group}\n",
    )
    filtered = cli.run(cli_server, "versions", "list", unique_group, "--filter", "version > 3")
    assert filtered.stderr == f"no versions in groups/{unique_group} match the filter\n"
    assert cli.run(cli_server, "alias", "list", unique_group).stderr == (
        f"no aliases in groups/{unique_group}\n"
    )
    assert cli.ok(cli_server, "versions", "list", unique_group, "--json") == "[]\n"
    assert cli.ok(cli_server, "versions", "list", unique_group, "-o", "csv") == (
        "GROUP,VERSION,STAGE,APPROVAL,FORMAT,METRICS,CREATED_BY,CREATED\n"
    )


def test_a_table_wider_than_the_terminal_cuts_its_long_cells(
    cli: Cli, cli_server: Server, unique_group: str
) -> None:
    cli.ok(cli_server, "groups", "create", unique_group)
    metrics = [f"metric_{n}=0.{n}5" for n in range(10)]
    cli.ok(cli_server, "versions", "create", unique_group, "--uri", "s3://m/1", "--sha256", sha(),
           *[a for m in metrics for a in ("--metric", m)])  # fmt: skip
    whole = ",".join(sorted(metrics))

    piped = table(cli.ok(cli_server, "versions", "list", unique_group))
    assert piped[0]["METRICS"] == whole  # not a terminal: every cell whole

    narrow = cli.run(cli_server, "versions", "list", unique_group, env={"COLUMNS": "120"})
    lines = narrow.stdout.splitlines()
    assert max(len(line) for line in lines) == 120
    [row] = table(narrow.stdout)
    assert row["METRICS"].endswith("…") and whole.startswith(row["METRICS"][:-1])
    assert (row["GROUP"], row["APPROVAL"]) == (unique_group, "PENDING_MANUAL_APPROVAL")
    assert json.loads(
        cli.run(
            cli_server, "versions", "list", unique_group, "--json", env={"COLUMNS": "40"}
        ).stdout
    )[0]["metrics"] == {m.split("=")[0]: float(m.split("=")[1]) for m in metrics}
