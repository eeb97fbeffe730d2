"""``modelyard validate GROUP VERSION|ALIAS FILE``: checks a CSV or JSON-lines file against
the input schema (or, with ``--outputs``, the output schema) of a version.

It prints one line per violation and exits with status 1 when there is any, 0 when the data
conforms; a CSV's cells are read as the schema's types (an empty cell is null; a cell that
does not parse as the column's type is a WRONG_TYPE violation, not an error).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from modelyard.cli.options import Commands, Invocation, add_command
from modelyard.contracts import Violation
from modelyard.contracts import validate as validate_data
from modelyard.names import version_or_alias_name
from modelyard.types import ColumnSpec, ColumnType

__all__ = ["add_commands", "read_rows"]

JSON_LINES = (".jsonl", ".ndjson")
TRUE, FALSE = {"true", "1", "yes"}, {"false", "0", "no"}


def read_rows(path: Path, columns: Sequence[ColumnSpec]) -> list[dict[str, Any]]:
    """Reads a .csv file (cells parsed as the schema's types) or a JSON-lines file (one
    object per line) into a list of dicts."""
    if path.suffix.lower() in JSON_LINES:
        return _json_lines(path)
    if path.suffix.lower() == ".csv":
        return _csv(path, {spec.name: spec.type for spec in columns})
    raise ValueError(f"cannot read {path}: give a .csv or a .jsonl (JSON lines) file")


def _json_lines(path: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}:{number}: not JSON ({error.msg})") from None
            if not isinstance(row, dict):
                raise ValueError(f"{path}:{number}: a JSON object per line is needed")
            rows.append(row)
    return rows


def _csv(path: Path, types: dict[str, ColumnType]) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return [
            {name: _cell(text, types.get(name)) for name, text in row.items() if name is not None}
            for row in csv.DictReader(handle)
        ]


def _cell(text: str | None, kind: ColumnType | None) -> Any:
    """Returns the cell as the column's type; as the text itself when it does not parse, so
    that the check reports it as a value of the wrong type."""
    if text is None or text == "":
        return None
    try:
        if kind in (ColumnType.INTEGER, ColumnType.LONG):
            return int(text)
        if kind in (ColumnType.FLOAT, ColumnType.DOUBLE):
            return float(text)
        if kind == ColumnType.BOOLEAN and text.lower() in TRUE | FALSE:
            return text.lower() in TRUE
        if kind == ColumnType.DATETIME:
            return datetime.fromisoformat(text)
        if kind == ColumnType.BINARY:
            return text.encode()
        if kind == ColumnType.TENSOR:
            return json.loads(text)
    except ValueError:  # json.JSONDecodeError is one
        pass
    return text


def validate(run: Invocation) -> int:
    args = run.args
    side: Literal["inputs", "outputs"] = "outputs" if args.outputs else "inputs"
    name = version_or_alias_name(args.group, args.version)
    version = run.registry.get_version(name)
    columns = version.schema.outputs if args.outputs else version.schema.inputs
    if not columns:
        raise ValueError(f"{version.name} has no {side} schema to check {args.file} against")
    path = Path(args.file)
    rows = read_rows(path, columns)
    violations = validate_data(columns, rows)  # the schema is read already: no second call
    _report(run, violations)
    verdict = (
        f"{path}: {len(violations)} violation{'s' if len(violations) != 1 else ''} of "
        f"{version.name}'s {side} schema"
        if violations
        else f"{path}: {len(rows)} rows conform to {version.name}'s {side} schema"
    )
    run.output.note(verdict, "SCHEMA_VIOLATIONS" if violations else "")
    return 1 if violations else 0


def _report(run: Invocation, violations: Sequence[Violation]) -> None:
    output = run.output
    headers = ("kind", "column", "rows", "first_row", "detail")
    blank = "-" if output.format == "table" else ""
    rows = [
        (str(v.kind), v.column, str(v.rows), blank if v.first_row is None else str(v.first_row),
         v.detail)
        for v in violations
    ]  # fmt: skip
    if output.format == "json":
        output.json([dict(zip(headers, (v.kind.value, v.column, v.rows, v.first_row, v.detail),
                              strict=True)) for v in violations])  # fmt: skip
    elif output.format == "csv":
        output.csv(headers, rows)
    elif violations:
        output.table(headers, rows, cut=("detail",))


def add_commands(commands: Commands) -> None:
    """Adds ``validate``."""
    p = add_command(
        commands,
        "validate",
        help="check a CSV or JSON-lines file against a version's input (or output) schema",
    )
    p.add_argument("group", help="group id, or a version's or alias's full name")
    p.add_argument(
        "version", nargs="?", default=None, help="a version number, 'latest' or an alias"
    )
    p.add_argument("file", help="the data: a .csv file with a header row, or a .jsonl file")
    p.add_argument("--outputs", action="store_true", help="check against the output schema instead")
    p.set_defaults(handler=validate)
