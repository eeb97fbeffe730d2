"""``modelyard alias set|show|list|delete``: movable names for versions."""

from __future__ import annotations

from modelyard.cli.options import (
    Commands,
    Invocation,
    add_command,
    add_family,
    add_limit,
    add_request_id,
)
from modelyard.cli.output import format_time, proto
from modelyard.names import alias_name, group_name
from modelyard.v1.resources_pb2 import Alias

__all__ = ["add_commands", "alias_fields"]

HEADERS = ("ALIAS", "VERSION", "UPDATED_BY", "UPDATED")


def _row(alias: Alias) -> tuple[str, ...]:
    return (
        alias.name.rsplit("/", 1)[-1],
        alias.version.rsplit("/", 1)[-1],
        alias.updated_by,
        format_time(alias.update_time),
    )


def alias_fields(alias: Alias) -> list[tuple[str, str]]:
    """Returns the ``label: value`` lines of ``alias show``."""
    return [
        ("name", alias.name),
        ("version", alias.version),
        ("updated by", alias.updated_by),
        ("updated", format_time(alias.update_time)),
        ("etag", alias.etag),
    ]


def set_alias(run: Invocation) -> None:
    args = run.args
    alias = proto(
        run.registry.set_alias(
            args.group, args.alias, args.version, etag=args.etag, request_id=args.request_id
        )
    )
    run.output.message(alias, alias_fields(alias))


def show_alias(run: Invocation) -> None:
    alias = proto(run.registry.get_alias(run.args.group, run.args.alias))
    run.output.message(alias, alias_fields(alias))


def list_aliases(run: Invocation) -> None:
    pager = run.registry.list_aliases(run.args.group, page_size=run.page_size())
    aliases = (proto(a) for a in run.limited(pager))
    run.output.listing(
        HEADERS,
        ((a, _row(a)) for a in aliases),
        empty=f"no aliases in {group_name(run.args.group)}",
    )


def delete_alias(run: Invocation) -> None:
    args = run.args
    name = alias_name(args.group, args.alias)
    run.registry.delete_alias(name, etag=args.etag, request_id=args.request_id)
    run.output.text(f"deleted {name}")


def add_commands(commands: Commands) -> None:
    """Adds the ``alias`` command family."""
    sub = add_family(
        commands,
        "alias",
        help="aliases such as champion",
        description="Point, show, list and delete aliases: movable names for versions.",
    )

    p = add_command(sub, "set", help="point an alias at a version, creating it if needed")
    p.add_argument("group", help="group id or name, e.g. fraud")
    p.add_argument("alias", help="e.g. champion")
    p.add_argument("version", help="version number, or a name like groups/fraud/versions/3")
    p.add_argument("--etag", default="", help="fail if the alias moved since this etag")
    add_request_id(p)
    p.set_defaults(handler=set_alias)

    p = add_command(sub, "show", help="show where an alias points")
    p.add_argument("group", help="group id, or an alias name like groups/fraud/aliases/champion")
    p.add_argument("alias", nargs="?", default=None, help="e.g. champion")
    p.set_defaults(handler=show_alias)

    p = add_command(sub, "list", help="list a group's aliases, by name")
    p.add_argument("group", help="group id or name, e.g. fraud")
    add_limit(p, "aliases")
    p.set_defaults(handler=list_aliases)

    p = add_command(sub, "delete", help="delete an alias (the version stays)")
    p.add_argument("group", help="group id, or an alias name like groups/fraud/aliases/champion")
    p.add_argument("alias", nargs="?", default=None, help="e.g. champion")
    p.add_argument("--etag", default="", help="fail if the alias moved since this etag")
    add_request_id(p)
    p.set_defaults(handler=delete_alias)
