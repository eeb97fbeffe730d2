"""``modelyard validate``: a CSV or JSON-lines file against a version's schema, one line per
violation and a non-zero exit when there is any."""

from __future__ import annotations

import json
from pathlib import Path

from modelyard import ColumnSpec, ColumnType, ModelSchema, Registry

from tests.support.cli import Cli
from tests.support.servers import Server
from tests.support.versions import register

SCHEMA = ModelSchema(
    inputs=[
        ColumnSpec(name="age", type=ColumnType.INTEGER, min=0, max=130),
        ColumnSpec(name="income", type=ColumnType.DOUBLE, nullable=True),
        ColumnSpec(name="member", type=ColumnType.BOOLEAN),
    ]
)


def test_a_csv_that_conforms_exits_0_and_one_that_does_not_lists_each_violation(
    cli: Cli, cli_server: Server, unique_group: str, tmp_path: Path
) -> None:
    with Registry(cli_server.address, token=cli_server.token) as registry:
        registry.create_group(unique_group)
        register(registry, unique_group, schema=SCHEMA)
    good = tmp_path / "good.csv"
    good.write_text("age,income,member\n40,1000.5,true\n41,,false\n")
    done = cli.run(cli_server, "validate", unique_group, "1", str(good))
    assert (done.returncode, done.stdout) == (0, "")
    assert done.stderr.strip() == (
        f"{good}: 2 rows conform to groups/{unique_group}/versions/1's inputs schema"
    )

    bad = tmp_path / "bad.csv"
    bad.write_text("age,income,member,zip\nforty,1.0,true,1\n200,2.0,,2\n")
    done = cli.run(cli_server, "validate", unique_group, "latest", str(bad))
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["kind", "column", "rows", "first_row", "detail"]
    assert [line.split()[:4] for line in lines[1:]] == [
        ["wrong_type", "age", "1", "0"],
        ["out_of_range", "age", "1", "1"],
        ["null_value", "member", "1", "1"],
        ["unexpected_column", "zip", "2", "-"],
    ]
    assert done.stderr.strip().endswith(
        f"4 violations of groups/{unique_group}/versions/1's inputs schema"
    )


def test_json_lines_are_checked_and_json_output_is_for_scripts(
    cli: Cli, cli_server: Server, unique_group: str, tmp_path: Path
) -> None:
    with Registry(cli_server.address, token=cli_server.token) as registry:
        registry.create_group(unique_group)
        register(registry, unique_group, schema=SCHEMA)
        registry.set_alias(unique_group, "champion", 1)
    data = tmp_path / "rows.jsonl"
    data.write_text('{"age": 40, "member": true}\n\n{"age": 41.5, "member": false}\n')
    done = cli.run(cli_server, "--output", "json", "validate", unique_group, "champion", str(data))
    assert done.returncode == 1
    assert json.loads(done.stdout) == [
        {
            "kind": "wrong_type",
            "column": "age",
            "rows": 1,
            "first_row": 1,
            "detail": "1 of 2 rows hold values that are not INTEGER (whole numbers that fit "
            "32 bits) (e.g. 41.5)",
        }
    ]


def test_a_file_it_cannot_read_is_a_one_line_usage_error(
    cli: Cli, cli_server: Server, unique_group: str, tmp_path: Path
) -> None:
    with Registry(cli_server.address, token=cli_server.token) as registry:
        registry.create_group(unique_group)
        register(registry, unique_group, schema=SCHEMA)
    (tmp_path / "rows.parquet").write_bytes(b"PAR1")
    done = cli.run(cli_server, "validate", unique_group, "1", str(tmp_path / "rows.parquet"))
    assert done.returncode == 2
    assert done.stderr.strip().endswith("give a .csv or a .jsonl (JSON lines) file")
    (tmp_path / "broken.jsonl").write_text('{"age": 1}\n{oops\n')
    done = cli.run(cli_server, "validate", unique_group, "1", str(tmp_path / "broken.jsonl"))
    assert done.returncode == 2
    assert "broken.jsonl:2: not JSON" in done.stderr
