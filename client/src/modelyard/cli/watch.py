"""``modelyard watch``: the registry's events as they commit, one line each."""

from __future__ import annotations

import csv
import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from modelyard.cli.audit import action_choice
from modelyard.cli.options import Commands, Invocation, add_command, positive_int
from modelyard.cli.output import enum_label, format_time, message_dict, proto
from modelyard.errors import ModelyardError, handshake_refused
from modelyard.v1.resources_pb2 import Action, AuditEvent
from modelyard.watch import RESUMABLE_CODES, Watch

__all__ = ["HEADERS", "ReconnectNotices", "add_commands", "event_line"]

HEADERS = ("SEQ", "TIME", "ACTOR", "ACTION", "RESOURCE", "REASON")
#: Seconds one attempt to open the stream may retry before the CLI says it is waiting.
OPEN_ATTEMPT = 2.0
#: Seconds between two notices of the same outage.
QUIET = 30.0


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


class ReconnectNotices(logging.Handler):
    """Says on stderr that the watch lost its stream and waits to reconnect, from the
    warnings the SDK's watch logs (``modelyard.watch``) before each reconnect: once when an
    outage starts, and again every QUIET seconds while it lasts."""

    def __init__(
        self, say: Callable[[str, str], None], address: str, cursor: Callable[[], int | None]
    ) -> None:
        super().__init__(logging.WARNING)
        self.say = say
        self.address = address
        self.cursor = cursor
        self.last: float | None = None

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args if isinstance(record.args, tuple) else ()
        error = next((a for a in args if isinstance(a, ModelyardError)), None)
        if error is None:
            self.say(f"watch: {record.getMessage()}", "")
            return
        now = time.monotonic()
        if self.last is not None and now - self.last < QUIET:
            return
        self.last = now
        cursor = self.cursor()
        resume = f", then resuming after seq {cursor}" if cursor is not None else ""
        self.say(
            f"watch: lost the stream from the registry at {self.address} ({error.reason}); "
            f"waiting to reconnect{resume}",
            error.reason,
        )

    def handed(self) -> None:
        """Notes that an event came through: the next outage is a new one."""
        self.last = None


@contextmanager
def _notices(handler: ReconnectNotices) -> Iterator[ReconnectNotices]:
    logger = logging.getLogger("modelyard.watch")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def _open(run: Invocation, start_after: int | None) -> Watch:
    """Returns the watch once its stream is open, saying on stderr that it waits while the
    registry does not answer, for at most --timeout seconds."""
    args = run.args
    registry = run.registry
    timeout: float = args.timeout
    deadline = time.monotonic() + timeout
    told = False
    while True:
        attempt = min(OPEN_ATTEMPT, max(0.0, deadline - time.monotonic()))
        try:
            return registry.watch(
                groups=args.group or (),
                actions=args.action or (),
                versions=args.version or (),
                start_after=start_after,
                timeout=attempt,
            )
        except ModelyardError as error:
            if error.code not in RESUMABLE_CODES or handshake_refused(error):
                raise
            # Said even when the first attempt used up --timeout (a slow machine): the
            # error that follows then reads as the end of that wait.
            if not told and run.connection is not None:
                run.output.note(
                    f"watch: waiting for the registry at {run.connection.address} to answer "
                    f"({error.reason}); giving up after {timeout:g} s (--timeout)",
                    error.reason,
                )
                told = True
            if time.monotonic() >= deadline:
                raise


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
    with _open(run, start_after) as events:
        address = run.connection.address if run.connection is not None else ""
        notices = ReconnectNotices(output.note, address, lambda: events.cursor)
        with _notices(notices):
            if cursor_file is not None and events.cursor is not None:
                _save_cursor(cursor_file, events.cursor)
            for event in (proto(e) for e in events):
                write(event)
                notices.handed()
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
