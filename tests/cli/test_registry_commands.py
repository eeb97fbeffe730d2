"""The ``modelyard`` command's registry families (groups, versions, audit), its output,
errors and exit codes: ``main`` run in this process as a shell would run the command."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from tests.support.cli import Cli, fields, table
from tests.support.servers import Server
from tests.support.versions import sha


def test_groups_create_list_show_update_delete(
    cli: Cli, cli_server: Server, unique_group: str
) -> None:
    created = fields(
        cli.ok(cli_server, "groups", "create", unique_group, "--description", "Card fraud",
               "--tag", "team=risk", "--tag", "tier=1")
    )  # fmt: skip
    assert created["name"] == f"groups/{unique_group}"
    assert created["tags"] == "team=risk,tier=1"

    rows = table(
        cli.ok(cli_server, "groups", "list", "--filter", f'name = "groups/{unique_group}"')
    )
    assert rows == [
        {
            "GROUP": unique_group,
            "LATEST": "-",
            "TAGS": "team=risk,tier=1",
            "CREATED_BY": "admin",
            "UPDATED": rows[0]["UPDATED"],
            "DESCRIPTION": "Card fraud",
        }
    ]
    assert rows[0]["UPDATED"].endswith("Z")

    updated = fields(
        cli.ok(cli_server, "groups", "update", unique_group, "--tag", "owner=ana",
               "--remove-tag", "tier", "--description", "Fraud scores")
    )  # fmt: skip
    assert updated["tags"] == "owner=ana,team=risk"
    assert updated["description"] == "Fraud scores"
    assert fields(cli.ok(cli_server, "groups", "show", f"groups/{unique_group}")) == updated

    assert (
        cli.ok(cli_server, "groups", "delete", unique_group) == f"deleted groups/{unique_group}\n"
    )
    missing = cli.run(cli_server, "groups", "show", unique_group)
    assert missing.returncode == 1


def test_versions_create_list_show_update_delete(
    cli: Cli, cli_server: Server, unique_group: str
) -> None:
    cli.ok(cli_server, "groups", "create", unique_group)
    digest = sha()
    shown = fields(
        cli.ok(cli_server, "versions", "create", unique_group, "--uri", "s3://m/1.onnx",
               "--sha256", digest, "--size", "1234", "--format", "onnx", "--framework", "sklearn",
               "--framework-version", "1.5.2", "--metric", "auc=0.93", "--metric", "f1=0.8",
               "--param", "depth=6", "--tag", "team=risk", "--description", "first")
    )  # fmt: skip
    assert shown["name"] == f"groups/{unique_group}/versions/1"
    assert shown["sha256"] == digest
    assert shown["format"] == "onnx"
    assert shown["framework"] == "sklearn 1.5.2"
    assert shown["metrics"] == "auc=0.93,f1=0.8"
    assert shown["hyperparameters"] == "depth=6"
    assert shown["stage"] == "NONE"
    assert shown["approval"] == "PENDING_MANUAL_APPROVAL"
    cli.ok(cli_server, "versions", "create", unique_group, "--uri", "s3://m/2", "--sha256", sha(),
           "--metric", "auc=0.97")  # fmt: skip

    rows = table(cli.ok(cli_server, "versions", "list", unique_group))
    assert [(r["GROUP"], r["VERSION"], r["METRICS"]) for r in rows] == [
        (unique_group, "2", "auc=0.97"),
        (unique_group, "1", "auc=0.93,f1=0.8"),
    ]
    assert rows[0]["FORMAT"] == "other"
    best = table(
        cli.ok(cli_server, "versions", "list", unique_group, "--filter", "metrics.auc > 0.95")
    )
    assert [r["VERSION"] for r in best] == ["2"]
    assert len(table(cli.ok(cli_server, "versions", "list", unique_group, "--limit", "1"))) == 1

    updated = fields(
        cli.ok(cli_server, "versions", "update", unique_group, "1", "--tag", "validated=yes",
               "--remove-tag", "team", "--description", "checked")
    )  # fmt: skip
    assert updated["tags"] == "validated=yes"
    assert updated["description"] == "checked"
    assert fields(cli.ok(cli_server, "versions", "show", unique_group, "latest"))["name"].endswith(
        "/2"
    )

    deleted = cli.ok(cli_server, "versions", "delete", f"groups/{unique_group}/versions/2")
    assert deleted == f"deleted groups/{unique_group}/versions/2\n"
    cli.ok(cli_server, "groups", "delete", unique_group, "--force")


def test_json_output_is_the_proto_json_form(
    cli: Cli, cli_server: Server, unique_group: str
) -> None:
    group = json.loads(cli.ok(cli_server, "--json", "groups", "create", unique_group))
    assert group["name"] == f"groups/{unique_group}"
    assert group["createdBy"] == "admin"
    digest = sha()
    version = json.loads(
        cli.ok(cli_server, "versions", "create", unique_group, "--uri", "s3://m/1", "--sha256",
               digest, "--format", "pickle", "--metric", "auc=0.5", "--json")
    )  # fmt: skip
    assert version["artifact"] == {
        "uri": "s3://m/1",
        "sha256": digest,
        "format": "ARTIFACT_FORMAT_PICKLE",
    }
    assert version["metrics"] == {"auc": 0.5}
    assert version["stage"] == "STAGE_NONE"
    listed = json.loads(cli.ok(cli_server, "versions", "list", unique_group, "--json"))
    assert [v["name"] for v in listed] == [version["name"]]
    assert json.loads(cli.ok(cli_server, "versions", "list", unique_group, "--json", "--filter",
                             "version > 5")) == []  # fmt: skip
    events = json.loads(
        cli.ok(cli_server, "audit", "list", "--resource", f"groups/{unique_group}", "--json")
    )
    assert [e["action"] for e in events] == [
        "ACTION_MODEL_GROUP_CREATED",
        "ACTION_MODEL_VERSION_CREATED",
    ]
    assert cli.ok(cli_server, "--json", "groups", "delete", unique_group, "--force") == ""


def test_audit_list_filters_and_verify_checks_the_chain(
    cli: Cli, cli_server: Server, unique_group: str
) -> None:
    cli.ok(cli_server, "groups", "create", unique_group)
    cli.ok(cli_server, "versions", "create", unique_group, "--uri", "s3://m/1", "--sha256", sha())
    rows = table(
        cli.ok(cli_server, "audit", "list", "--resource", f"groups/{unique_group}",
               "--action", "MODEL_VERSION_CREATED")
    )  # fmt: skip
    assert [(r["ACTION"], r["RESOURCE"], r["ACTOR"]) for r in rows] == [
        ("MODEL_VERSION_CREATED", f"groups/{unique_group}/versions/1", "admin")
    ]
    newest = table(cli.ok(cli_server, "audit", "list", "--newest-first", "--limit", "1"))
    assert len(newest) == 1
    assert int(newest[0]["SEQ"]) >= int(rows[0]["SEQ"])
    future = cli.run(cli_server, "audit", "list", "--since", "2999-01-01T00:00:00Z")
    assert (future.returncode, future.stdout, future.stderr) == (0, "", "no audit entries match\n")

    verified = cli.ok(cli_server, "audit", "verify")
    assert verified.startswith("ok: ")
    assert json.loads(cli.ok(cli_server, "audit", "verify", "--json"))["ok"] is True


def test_an_error_is_one_line_with_its_reason_and_a_nonzero_exit(
    cli: Cli, cli_server: Server, unique_group: str
) -> None:
    done = cli.run(cli_server, "groups", "show", unique_group)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == (
        f"error: MODEL_GROUP_NOT_FOUND: model group 'groups/{unique_group}' does not exist\n"
    )

    cli.ok(cli_server, "groups", "create", unique_group)
    digest = sha()
    cli.ok(cli_server, "versions", "create", unique_group, "--uri", "s3://m/1", "--sha256", digest)
    duplicate = cli.run(cli_server, "versions", "create", unique_group, "--uri", "s3://m/2",
                        "--sha256", digest)  # fmt: skip
    assert duplicate.returncode == 1
    assert duplicate.stderr.startswith("error: DUPLICATE_ARTIFACT: ")
    assert duplicate.stderr.count("\n") == 1


def test_bad_fields_are_named_once_each_on_the_error_line(
    cli: Cli, cli_server: Server, unique_group: str
) -> None:
    # The server's message is a summary of its first violation ("... (and 1 more)"), and the
    # SDK's str() of the error appends every violation: printing both named one field twice.
    cli.ok(cli_server, "groups", "create", unique_group)
    done = cli.run(cli_server, "versions", "create", unique_group, "--uri", "no-scheme",
                   "--sha256", "nothex")  # fmt: skip
    assert done.returncode == 1
    assert done.stderr == (
        "error: INVALID_FIELD: model_version.artifact.uri: 'no-scheme' is not a URI: it needs a "
        "scheme such as s3:// or file://; model_version.artifact.sha256: must be 64 lowercase "
        "hex digits (the SHA-256 of the artifact)\n"
    )


def test_a_bad_command_line_exits_2_without_calling_the_server(
    cli: Cli,
    cli_server: Server,
) -> None:
    bad_metric = cli.run(cli_server, "versions", "create", "g", "--uri", "s3://m", "--sha256", "a",
                         "--metric", "auc=high")  # fmt: skip
    assert bad_metric.returncode == 2
    assert "metric 'auc' needs a number, got 'high'" in bad_metric.stderr
    no_version = cli.run(cli_server, "versions", "show", "fraud")
    assert no_version.returncode == 2
    assert no_version.stderr.startswith("error: which version of 'fraud'?")
    nothing = cli.run(cli_server, "versions", "update", "fraud", "1")
    assert nothing.returncode == 2
    assert "nothing to update" in nothing.stderr
    assert cli.run(cli_server, "groups").returncode == 2


def test_an_unknown_token_is_unauthenticated(cli: Cli, cli_server: Server) -> None:
    done = cli.run(cli_server, "--token", "wrong", "groups", "list")
    assert done.returncode == 1
    assert done.stderr.startswith("error: UNAUTHENTICATED: ")


def test_help_lists_every_family(cli: Cli) -> None:
    done = cli.run(None, "--help")
    assert done.returncode == 0
    for family in ("groups", "versions", "audit"):
        assert family in done.stdout
    assert cli.run(None, "--version").stdout.startswith("modelyard ")


def test_versions_create_computes_the_sha256_and_size_of_a_file(
    cli: Cli, cli_server: Server, unique_group: str, tmp_path: Path
) -> None:
    cli.ok(cli_server, "groups", "create", unique_group)
    model = tmp_path / "model.onnx"
    model.write_bytes(b"onnx-bytes" * 1000)
    digest = hashlib.sha256(model.read_bytes()).hexdigest()
    shown = fields(
        cli.ok(cli_server, "versions", "create", unique_group, "--file", str(model),
               "--uri", "s3://models/1.onnx")
    )  # fmt: skip
    assert (shown["uri"], shown["sha256"], shown["size"]) == (
        "s3://models/1.onnx",
        digest,
        "10000 bytes",
    )
    model.write_bytes(b"retrained")
    local = fields(cli.ok(cli_server, "versions", "create", unique_group, "--file", str(model)))
    assert local["uri"] == model.as_uri()
    assert local["sha256"] == hashlib.sha256(b"retrained").hexdigest()

    wrong = cli.run(cli_server, "versions", "create", unique_group, "--file", str(model),
                    "--sha256", digest)  # fmt: skip
    assert (wrong.returncode, wrong.stdout) == (2, "")
    assert wrong.stderr == (
        f"error: --sha256 {digest} is not the sha256 of {model}, which is "
        f"{hashlib.sha256(b'retrained').hexdigest()}\n"
    )
    missing = cli.run(cli_server, "versions", "create", unique_group, "--file", "nope.onnx")
    assert missing.stderr == "error: cannot read --file nope.onnx: No such file or directory\n"
    neither = cli.run(cli_server, "versions", "create", unique_group, "--uri", "s3://m/2")
    assert (neither.returncode, neither.stderr) == (
        2,
        "error: give the artifact's --uri and --sha256, or --file PATH to compute its sha256 "
        "and size\n",
    )
