"""``modelyard watch``: the registry's events as they commit, one line each."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

from modelyard.cli.audit import action_choice
from modelyard.cli.options import Commands, Invocation, add_command, positive_int
from modelyard.cli.output import enum_label, format_time, message_dict, proto
from modelyard.v1.resources_pb2 import Action, AuditEvent

__all__ = ["HEADERS", "add_commands", "event_line"]

HEADERS = ("SEQ", "TIME", "ACTOR", "ACTION", "RESOURCE", "REASON")


def event_line(event: AuditEvent) -> str:
    """Returns the one line that describes an event: seq, time, actor, action, resource."""
    line = (
        f"{event.seq}  {format_time(event.time)}  {event.actor}  {_action(event)}  {event.resource}"
    )
    return f"{line}  {event.reason!r}" if event.reason else line


def _action(event: AuditEvent) -> str:
    return enum_label(Action.Name(event.action), "ACTION_")


def _read_cursor(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return None
    if not text.isdigit():
        raise ValueError(f"{path} does not hold a cursor (a seq); remove it to start from now")
    return int(text)


def _save_cursor(path: Path, cursor: int) -> None:
    """Writes the cursor so that a crash leaves the old one or the new one, never half."""
    partial = path.with_name(path.name + ".tmp")
    partial.write_text(f"{cursor}\n")
    os.replace(partial, path)


def watch_events(run: Invocation) -> None:
    args = run.args
    output = run.output
    cursor_file: Path | None = args.cursor_file
    start_after = args.start_after
    if start_after is None and cursor_file is not None:
        start_after = _read_cursor(cursor_file)
    rows = csv.writer(output.stream, lineterminator="\n")
    if output.format == "csv":
        rows.writerow(HEADERS)

    def write(event: AuditEvent) -> None:
        if output.format == "json":  # JSON lines: one compact object per event
            output.stream.write(json.dumps(message_dict(event), separators=(",", ":")) + "\n")
        elif output.format == "csv":
            rows.writerow(
                (event.seq, format_time(event.time), event.actor, _action(event),
                 event.resource, event.reason)
            )  # fmt: skip
        else:
            output.stream.write(event_line(event) + "\n")
        output.stream.flush()

    handed = 0
    with run.registry.watch(
        groups=args.group or (),
        actions=args.action or (),
        versions=args.version or (),
        start_after=start_after,
    ) as events:
        if cursor_file is not None and events.cursor is not None:
            _save_cursor(cursor_file, events.cursor)
        for event in (proto(e) for e in events):
            write(event)
            if cursor_file is not None:
                _save_cursor(cursor_file, event.seq)
            handed += 1
            if args.limit and handed >= args.limit:
                break


def add_commands(commands: Commands) -> None:
    """Adds the ``watch`` command."""
    p = add_command(
        commands,
        "watch",
        help="print the registry's events as they commit, one line each (--json: JSON lines)",
    )
    p.add_argument(
        "--group", action="append", metavar="GROUP", help="only this group's events (repeatable)"
    )
    p.add_argument(
        "--action",
        action="append",
        type=action_choice,
        metavar="ACTION",
        help="only these actions (repeatable, any case), e.g. STAGE_CHANGED",
    )
    p.add_argument(
        "--version",
        action="append",
        metavar="NAME",
        help="only events about this version, e.g. groups/fraud/versions/3 (repeatable)",
    )
    p.add_argument(
        "--start-after",
        type=positive_int,
        default=None,
        metavar="SEQ",
        help="replay the events after this seq first (0: the whole log); default: from now",
    )
    p.add_argument(
        "--cursor-file",
        type=Path,
        default=None,
        metavar="PATH",
        help="resume after the seq this file holds, and keep it up to date",
    )
    p.add_argument(
        "--limit",
        type=positive_int,
        default=0,
        metavar="N",
        help="exit after N events (default: run until interrupted)",
    )
    p.set_defaults(handler=watch_events)
