"""``modelyard audit list|verify|checkpoint``."""

from __future__ import annotations

import argparse
from pathlib import Path

from google.protobuf import json_format

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
from modelyard.v1.audit_service_pb2 import AuditCheckpoint
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


def read_checkpoint(path: Path) -> AuditCheckpoint:
    """Returns the checkpoint `modelyard audit checkpoint` wrote to the file."""
    try:
        text = path.read_text()
    except OSError as error:
        raise ValueError(f"cannot read {path}: {(error.strerror or str(error)).lower()}") from None
    try:
        return json_format.Parse(text, AuditCheckpoint())
    except json_format.ParseError:
        raise ValueError(
            f"{path} does not hold a checkpoint: write one with `modelyard audit checkpoint > FILE`"
        ) from None


def verify_log(run: Invocation) -> int:
    args = run.args
    checkpoint = None if args.checkpoint is None else read_checkpoint(args.checkpoint)
    result = proto(run.registry.verify_audit_log(full=args.full, checkpoint=checkpoint))
    if result.ok:
        since = f" after seq {result.verified_after_seq}" if result.verified_after_seq else ""
        extends = f"; extends the checkpoint at seq {checkpoint.seq}" if checkpoint else ""
        text = (
            f"ok: {result.entries_checked} entries checked{since}; "
            f"head seq {result.head_seq}, hash {result.head_hash}{extends}; "
            "the stored state matches the log"
        )
    elif result.first_bad_resource:
        text = f"BROKEN at {result.first_bad_resource}: {result.problem}"
    else:
        text = f"BROKEN at seq {result.first_broken_seq}: {result.problem}"
    run.output.text(text, result)
    return 0 if result.ok else 1


def sign_checkpoint(run: Invocation) -> int:
    checkpoint = proto(run.registry.get_audit_checkpoint())
    run.output.stream.write(json_format.MessageToJson(checkpoint, indent=2) + "\n")
    run.output.note(
        f"checkpoint of seq {checkpoint.seq} signed; keep it outside the registry's database "
        "and check the log against it with `modelyard audit verify --checkpoint FILE`"
    )
    return 0


def add_commands(commands: Commands) -> None:
    """Adds the ``audit`` command family."""
    sub = add_family(
        commands,
        "audit",
        help="the audit log",
        description="Read and verify the audit log, and take signed checkpoints of it.",
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
        sub,
        "verify",
        help="check the keyed hash chain and replay it against the stored state; exit 1 if "
        "an entry or resource does not match",
    )
    p.add_argument(
        "--checkpoint",
        type=Path,
        metavar="FILE",
        help="also prove the log still extends this checkpoint (from `audit checkpoint`)",
    )
    p.add_argument(
        "--full",
        action="store_true",
        help="check every entry from seq 1, not only those after the head verified last",
    )
    p.set_defaults(handler=verify_log)

    p = add_command(
        sub,
        "checkpoint",
        help="print the log's head signed by the server (JSON); store it outside the database",
    )
    p.set_defaults(handler=sign_checkpoint)
