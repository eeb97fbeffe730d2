"""``modelyard schema diff GROUP A B``: what differs between two versions' schemas, and
whether each change breaks callers (what a group's schema_compatibility policy checks)."""

from __future__ import annotations

from modelyard.cli.options import Commands, Invocation, add_command, add_family
from modelyard.cli.output import proto
from modelyard.names import version_or_alias_name
from modelyard.v1.resources_pb2 import SchemaChangeKind, SchemaSide

__all__ = ["add_commands"]


def diff(run: Invocation) -> int:
    args = run.args
    result = proto(
        run.registry.compare_schemas(
            version_or_alias_name(args.group, args.base), None, version_or_alias_name(
                args.group, args.candidate)
        )
    )  # fmt: skip
    output = run.output
    headers = ("side", "column", "change", "breaking", "detail")
    rows = [
        (
            SchemaSide.Name(c.side).removeprefix("SCHEMA_SIDE_").lower(),
            c.column,
            SchemaChangeKind.Name(c.kind).removeprefix("SCHEMA_CHANGE_KIND_").lower(),
            "yes" if c.breaking else "no",
            c.description,
        )
        for c in result.changes
    ]
    if output.format == "json":
        output.text("", result)
    elif output.format == "csv":
        output.csv(headers, rows)
    elif rows:
        output.table(headers, rows, cut=("detail",))
    if not rows:
        verdict = "the schemas are the same"
    elif result.full_compatible:
        verdict = "compatible: no change breaks callers"
    elif result.backward_compatible:
        verdict = (
            "backward compatible, but the outputs change in ways their readers may not "
            "expect: a FULL policy would refuse the promotion"
        )
    else:
        verdict = "breaks callers' requests: a BACKWARD or FULL policy would refuse the promotion"
    output.note(f"{result.base} -> {result.candidate}: {verdict}")
    return 0 if result.backward_compatible else 1


def add_commands(commands: Commands) -> None:
    """Adds the ``schema`` command family."""
    sub = add_family(
        commands,
        "schema",
        help="compare versions' input and output schemas",
        description="What changed between two versions' schemas, and whether it breaks callers.",
    )
    p = add_command(
        sub,
        "diff",
        help="list the schema changes from BASE to CANDIDATE; exit 1 if inputs break",
    )
    p.add_argument("group", help="group id, e.g. fraud")
    p.add_argument("base", help="the version callers use now: a number, 'latest' or an alias")
    p.add_argument("candidate", help="the version that would replace it")
    p.set_defaults(handler=diff)
