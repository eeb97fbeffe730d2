"""What ``modelyard`` says when the command line is wrong or incomplete: one line naming the
problem and where help is, never the usage dump, and exit status 2 without calling the
server; enum arguments in any case."""

from __future__ import annotations

import json

from modelyard.cli import FAMILIES

from tests.support.cli import Cli, fields, table
from tests.support.servers import Server
from tests.support.versions import sha


def test_a_missing_argument_is_one_line_with_the_command_to_get_help(cli: Cli) -> None:
    done = cli.run(None, "versions", "create")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        "error: the following arguments are required: group; "
        "run `modelyard versions create --help`\n"
    )


def test_a_bad_value_is_one_line_naming_the_argument(cli: Cli) -> None:
    done = cli.run(None, "versions", "create", "g", "--uri", "s3://m", "--sha256", "a",
                   "--metric", "auc=high")  # fmt: skip
    assert done.returncode == 2
    assert done.stderr == (
        "error: argument --metric: metric 'auc' needs a number, got 'high'; "
        "run `modelyard versions create --help`\n"
    )
    unknown = cli.run(None, "groups", "list", "--colour")
    assert unknown.stderr == (
        "error: unrecognized arguments: --colour; run `modelyard groups list --help`\n"
    )


def test_an_unknown_command_suggests_the_closest_one(cli: Cli) -> None:
    family = cli.run(None, "grups", "list")
    assert family.returncode == 2
    assert family.stderr == (
        "error: modelyard has no command 'grups' (did you mean groups?); "
        "run `modelyard --help` for its commands\n"
    )
    command = cli.run(None, "versions", "lst")
    assert command.stderr == (
        "error: modelyard versions has no command 'lst' (did you mean list?); "
        "run `modelyard versions --help` for its commands\n"
    )


def test_modelyard_alone_lists_the_commands_and_exits_2(cli: Cli) -> None:
    done = cli.run(None)
    assert (done.returncode, done.stdout) == (2, "")
    lines = done.stderr.splitlines()
    assert lines[0] == "usage: modelyard [OPTIONS] COMMAND ..."
    listed = [line.split()[0] for line in lines if line.startswith("  ")]
    assert len(listed) == 15 and len(FAMILIES) == 12  # some families add several commands
    assert "download" in listed
    assert listed[:3] == ["groups", "versions", "approve"]
    assert "  versions    model versions" in lines
    assert lines[-1] == (
        "`modelyard COMMAND --help` shows a command's arguments, `modelyard --help` the options."
    )


def test_a_family_alone_lists_its_commands(cli: Cli) -> None:
    done = cli.run(None, "versions")
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert lines[0] == "usage: modelyard versions COMMAND ..."
    assert "  list     list versions, newest first" in lines
    as_json = cli.run(None, "alias", "--json")
    assert as_json.returncode == 2
    assert json.loads(as_json.stderr) == {
        "error": {
            "code": "INVALID_ARGUMENT",
            "reason": "COMMAND_LINE",
            "message": "which command? run `modelyard alias --help` for the commands",
        }
    }


def test_help_documents_where_the_address_and_the_token_come_from(cli: Cli) -> None:
    done = cli.run(None, "--help")
    assert done.returncode == 0
    text = " ".join(done.stdout.split())
    assert "an address without a port gets 50051" in text
    assert (
        "$MODELYARD_TOKEN the file named by $MODELYARD_TOKEN_FILE $MODELYARD_DATA_DIR/admin.token"
        in text
    )
    assert "${XDG_CONFIG_HOME:-~/.config}/modelyard/token" in text


def test_a_usage_error_is_json_on_stderr_when_json_is_asked_for(cli: Cli) -> None:
    for asked in (["--json"], ["--output", "json"], ["-ojson"], ["--output=JSON"]):
        done = cli.run(None, "versions", "create", *asked)
        assert done.returncode == 2
        assert json.loads(done.stderr) == {
            "error": {
                "code": "INVALID_ARGUMENT",
                "reason": "COMMAND_LINE",
                "message": "the following arguments are required: group; "
                "run `modelyard versions create --help`",
            }
        }


def test_enum_arguments_are_accepted_in_any_case_with_or_without_their_prefix(
    cli: Cli, cli_server: Server, unique_group: str
) -> None:
    cli.ok(cli_server, "groups", "create", unique_group)
    formats = ["ONNX", "onnx", "ARTIFACT_FORMAT_ONNX", "Saved-Model"]
    for n, format in enumerate(formats, start=1):
        cli.ok(cli_server, "versions", "create", unique_group, "--uri", f"s3://m/{n}",
               "--sha256", sha(), "--format", format)  # fmt: skip
    rows = table(cli.ok(cli_server, "versions", "list", unique_group))
    assert [r["FORMAT"] for r in rows] == ["saved_model", "onnx", "onnx", "onnx"]

    for number, stage in [("1", "Staging"), ("2", "STAGING"), ("3", "stage_staging")]:
        moved = fields(cli.ok(cli_server, "transition", unique_group, number, stage))
        assert moved["stage"] == "STAGING"
    events = table(
        cli.ok(cli_server, "audit", "list", "--resource", f"groups/{unique_group}",
               "--action", "stage_changed", "--action", "ACTION_STAGE_CHANGED")
    )  # fmt: skip
    assert [e["ACTION"] for e in events] == ["STAGE_CHANGED"] * 3
    csv_out = cli.ok(cli_server, "groups", "show", unique_group, "--output", "CSV")
    assert csv_out.startswith("name,description,tags,")

    bad = cli.run(cli_server, "audit", "list", "--action", "staged")
    assert bad.stderr.startswith("error: argument --action: 'staged' is not an action; ")
