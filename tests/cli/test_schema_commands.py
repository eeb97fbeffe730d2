"""``modelyard schema diff`` and ``policy update --schema-compatibility``."""

from __future__ import annotations

import json

from modelyard import ColumnSpec, ColumnType, ModelSchema, Registry

from tests.support.cli import Cli, fields
from tests.support.servers import Server
from tests.support.versions import register

AGE = ColumnSpec(name="age", type=ColumnType.INTEGER)


def test_schema_diff_lists_changes_and_exits_1_when_requests_would_break(
    cli: Cli, cli_server: Server, unique_group: str
) -> None:
    with Registry(cli_server.address, token=cli_server.token) as registry:
        registry.create_group(unique_group)
        register(registry, unique_group, schema=ModelSchema(inputs=[AGE]))
        register(registry, unique_group, schema=ModelSchema(inputs=[
            ColumnSpec(name="age", type=ColumnType.LONG),
            ColumnSpec(name="zip", type=ColumnType.STRING),
        ]))  # fmt: skip
    done = cli.run(cli_server, "schema", "diff", unique_group, "1", "2")
    assert done.returncode == 1
    rows = [line.split()[:4] for line in done.stdout.splitlines()]
    assert rows == [
        ["side", "column", "change", "breaking"],
        ["inputs", "age", "type_changed", "no"],
        ["inputs", "zip", "column_added", "yes"],
    ]
    assert done.stderr.strip() == (
        f"groups/{unique_group}/versions/1 -> groups/{unique_group}/versions/2: breaks "
        "callers' requests: a BACKWARD or FULL policy would refuse the promotion"
    )
    back = cli.run(cli_server, "--output", "json", "schema", "diff", unique_group, "2", "1")
    assert back.returncode == 1  # LONG narrowed to INTEGER: some requests no longer fit
    [narrowed, dropped] = json.loads(back.stdout)["changes"]
    assert (narrowed["column"], narrowed["breaking"]) == ("age", True)
    assert (dropped["column"], dropped.get("breaking", False)) == ("zip", False)
    same = cli.run(cli_server, "schema", "diff", unique_group, "1", "1")
    assert (same.returncode, same.stdout) == (0, "")
    assert same.stderr.strip().endswith(": the schemas are the same")


def test_policy_update_sets_the_schema_compatibility_and_show_prints_it(
    cli: Cli, cli_server: Server, unique_group: str
) -> None:
    cli.ok(cli_server, "groups", "create", unique_group)
    assert fields(cli.ok(cli_server, "policy", "show", unique_group))["schema compatibility"] == (
        "NONE"
    )
    shown = fields(
        cli.ok(cli_server, "policy", "update", unique_group, "--schema-compatibility", "backward")
    )
    assert shown["schema compatibility"] == "BACKWARD"
    done = cli.run(cli_server, "policy", "update", unique_group, "--schema-compatibility", "most")
    assert done.returncode == 2
    assert "'most' is not a compatibility; use one of none, backward, full" in done.stderr
