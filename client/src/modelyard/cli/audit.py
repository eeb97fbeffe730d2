"""``modelyard audit list|verify``."""

from __future__ import annotations

import argparse

from modelyard.cli.options import (
    Commands,
    Invocation,
    add_command,
    add_family,
    add_limit,
    choice,
    timestamp,
)
from modelyard.cli.output import enum_label, format_time, proto
from modelyard.v1.resources_pb2 import Action, AuditEvent

__all__ = ["ACTIONS", "action_choice", "add_commands"]

HEADERS = ("SEQ", "TIME", "ACTOR", "ACTION", "RESOURCE", "REQUEST_ID")
ACTIONS = [
    enum_label(n, "ACTION_")
    for n in Action.keys()  # noqa: SIM118 - an EnumTypeWrapper is not a dict
    if not n.endswith("_UNSPECIFIED")
]
#: The type of --action: an action's name in any case, with or without ACTION_.
action_choice = choice(ACTIONS, "ACTION_", "an action")


def _row(event: AuditEvent) -> tuple[str, ...]:
    return (
        str(event.seq),
        format_time(event.time),
        event.actor,
        enum_label(Action.Name(event.action), "ACTION_"),
        event.resource,
        event.request_id,
    )


def _filtered(args: argparse.Namespace) -> bool:
    return bool(args.resource or args.actor or args.action or args.since or args.until)


def list_events(run: Invocation) -> None:
    args = run.args
    pager = run.registry.list_audit_events(
        resource=args.resource,
        actor=args.actor,
        actions=args.action or (),
        start_time=args.since,
        end_time=args.until,
        newest_first=args.newest_first,
        page_size=run.page_size(),
    )
    events = (proto(e) for e in run.limited(pager))
    run.output.listing(
        HEADERS,
        ((e, _row(e)) for e in events),
        empty="no audit entries match" if _filtered(args) else "the audit log is empty",
        cut=("REQUEST_ID",),
    )


def verify_log(run: Invocation) -> int:
    result = proto(run.registry.verify_audit_log())
    if result.ok:
        text = (
            f"ok: {result.entries_checked} entries checked; "
            f"head seq {result.head_seq}, hash {result.head_hash}"
        )
    else:
        text = f"BROKEN at seq {result.first_broken_seq}: {result.problem}"
    run.output.text(text, result)
    return 0 if result.ok else 1


def add_commands(commands: Commands) -> None:
    """Adds the ``audit`` command family."""
    sub = add_family(
        commands,
        "audit",
        help="the audit log",
        description="Read and verify the hash-chained audit log.",
    )

    p = add_command(sub, "list", help="list audit entries, oldest first")
    p.add_argument("--resource", default="", help="e.g. groups/fraud (matches its versions too)")
    p.add_argument("--actor", default="", help="only entries made by this principal")
    p.add_argument(
        "--action",
        action="append",
        type=action_choice,
        metavar="ACTION",
        help=f"only these actions (repeatable, any case): {', '.join(ACTIONS)}",
    )
    p.add_argument("--since", type=timestamp, default=None, help="e.g. 2026-11-01T00:00:00Z")
    p.add_argument("--until", type=timestamp, default=None, help="entries before this time")
    p.add_argument("--newest-first", action="store_true")
    add_limit(p, "entries")
    p.set_defaults(handler=list_events)

    p = add_command(
        sub, "verify", help="recompute the hash chain; exit 1 if an entry does not match"
    )
    p.set_defaults(handler=verify_log)
