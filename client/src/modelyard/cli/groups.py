"""``modelyard groups list|show|create|update|delete``."""

from __future__ import annotations

from modelyard.cli.options import (
    Commands,
    Invocation,
    add_command,
    add_family,
    add_limit,
    add_request_id,
    key_value,
    key_values,
)
from modelyard.cli.output import format_time, proto
from modelyard.names import GROUP_PREFIX
from modelyard.v1.resources_pb2 import ModelGroup

__all__ = ["add_commands", "group_fields"]

HEADERS = ("GROUP", "LATEST", "TAGS", "CREATED_BY", "UPDATED", "DESCRIPTION")


def _tags(tags: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(tags.items()))


def _row(group: ModelGroup) -> tuple[str, ...]:
    first_line = group.description.splitlines()[0] if group.description else ""
    return (
        group.name.removeprefix(GROUP_PREFIX),
        str(group.latest_version) if group.latest_version else "-",
        _tags(dict(group.tags)),
        group.created_by,
        format_time(group.update_time),
        first_line if len(first_line) <= 50 else first_line[:49] + "…",
    )


def group_fields(group: ModelGroup) -> list[tuple[str, str]]:
    """Returns the ``label: value`` lines of ``groups show``."""
    return [
        ("name", group.name),
        ("description", group.description),
        ("tags", _tags(dict(group.tags))),
        ("latest version", str(group.latest_version)),
        ("created by", group.created_by),
        ("created", format_time(group.create_time)),
        ("updated", format_time(group.update_time)),
        ("etag", group.etag),
    ]


def list_groups(run: Invocation) -> None:
    pager = run.registry.list_groups(
        filter=run.args.filter, order_by=run.args.order_by, page_size=run.page_size()
    )
    groups = (proto(g) for g in run.limited(pager))
    empty = "no groups match the filter" if run.args.filter else "no groups yet"
    run.output.listing(
        HEADERS, ((g, _row(g)) for g in groups), empty=empty, cut=("TAGS", "DESCRIPTION")
    )


def show_group(run: Invocation) -> None:
    group = proto(run.registry.get_group(run.args.group))
    run.output.message(group, group_fields(group))


def create_group(run: Invocation) -> None:
    group = proto(
        run.registry.create_group(
            run.args.group,
            description=run.args.description,
            tags=key_values(run.args.tag),
            request_id=run.args.request_id,
        )
    )
    run.output.message(group, group_fields(group))


def update_group(run: Invocation) -> None:
    # Tags are one field of the group, so changing some of them is read, merge, write back;
    # the etag makes the write fail instead of losing a concurrent change.
    args = run.args
    if args.description is None and not args.tag and not args.remove_tag:
        raise ValueError("nothing to update: give --description, --tag or --remove-tag")
    current = proto(run.registry.get_group(args.group))
    changed = ModelGroup(name=current.name, etag=current.etag)
    mask: list[str] = []
    if args.description is not None:
        changed.description = args.description
        mask.append("description")
    if args.tag or args.remove_tag:
        tags = dict(current.tags)
        tags.update(key_values(args.tag))
        for key in args.remove_tag or ():
            tags.pop(key, None)
        changed.tags.update(tags)
        mask.append("tags")
    group = proto(run.registry.update_group(changed, update_mask=mask, request_id=args.request_id))
    run.output.message(group, group_fields(group))


def delete_group(run: Invocation) -> None:
    args = run.args
    run.registry.delete_group(
        args.group, etag=args.etag, force=args.force, request_id=args.request_id
    )
    run.output.text(f"deleted {GROUP_PREFIX}{args.group.removeprefix(GROUP_PREFIX)}")


def add_commands(commands: Commands) -> None:
    """Adds the ``groups`` command family."""
    sub = add_family(
        commands,
        "groups",
        help="model groups",
        description="List, show, create, update and delete groups.",
    )

    p = add_command(sub, "list", help="list groups")
    p.add_argument("--filter", default="", help="e.g. 'tags.team = \"risk\"'")
    p.add_argument(
        "--order-by", default="", help="name (default), create_time or update_time [desc]"
    )
    add_limit(p, "groups")
    p.set_defaults(handler=list_groups)

    p = add_command(sub, "show", help="show one group")
    p.add_argument("group", help="group id or name, e.g. fraud")
    p.set_defaults(handler=show_group)

    p = add_command(sub, "create", help="create a group")
    p.add_argument("group", help="new group id: lowercase letters, digits and -")
    p.add_argument("--description", default="")
    p.add_argument("--tag", action="append", type=key_value, metavar="KEY=VALUE")
    add_request_id(p)
    p.set_defaults(handler=create_group)

    p = add_command(sub, "update", help="change a group's description or tags")
    p.add_argument("group")
    p.add_argument("--description", default=None)
    p.add_argument("--tag", action="append", type=key_value, metavar="KEY=VALUE", help="set a tag")
    p.add_argument("--remove-tag", action="append", metavar="KEY", help="remove a tag")
    add_request_id(p)
    p.set_defaults(handler=update_group)

    p = add_command(sub, "delete", help="delete a group")
    p.add_argument("group")
    p.add_argument("--force", action="store_true", help="also delete its versions")
    p.add_argument("--etag", default="", help="fail if the group changed since this etag")
    add_request_id(p)
    p.set_defaults(handler=delete_group)
