"""How the CLI prints: aligned tables and fields for people, JSON or CSV for scripts.

``--output table`` (the default) prints tables cut to the terminal's width and
``label: value`` lines; ``--output json`` (or ``--json``) the JSON form of
:mod:`modelyard.cli.jsonform`; ``--output csv`` a header row and one row per item. What is
not a result (an empty list, a notice) goes to stderr, so stdout holds only the result.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC
from typing import TextIO, TypeVar

from google.protobuf import timestamp_pb2
from google.protobuf.message import Message

from modelyard._views import View, proto_of
from modelyard.cli.jsonform import message_dict

__all__ = [
    "FORMATS",
    "Output",
    "enum_label",
    "format_time",
    "message_dict",
    "proto",
    "terminal_width",
]

#: The values of --output.
FORMATS = ("table", "json", "csv")
#: The narrowest a cut column gets, so that what is left of a cell still says something.
MIN_CUT_WIDTH = 12

Row = Sequence[str]
MessageT = TypeVar("MessageT", bound=Message)


def proto(result: View[MessageT] | MessageT) -> MessageT:
    """Returns the protobuf message of what an SDK call returned (the SDK hands out views,
    modelyard.types, whose ``.proto`` is the message): every SDK result the CLI prints or
    reads passes through here."""
    return proto_of(result)


def format_time(stamp: timestamp_pb2.Timestamp) -> str:
    """Returns a timestamp as ``2026-11-23T05:34:58Z``, or ``-`` when it is not set."""
    if stamp.seconds == 0 and stamp.nanos == 0:
        return "-"
    return stamp.ToDatetime(tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def enum_label(name: str, prefix: str) -> str:
    """Returns an enum value's name without its type prefix: ``STAGE_PRODUCTION`` ->
    ``PRODUCTION``."""
    return name.removeprefix(prefix)


def terminal_width(stream: TextIO) -> int | None:
    """Returns the width tables are cut to: the terminal's (or $COLUMNS), or None when the
    output goes to a file or a pipe, which get whole cells."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() or stream.isatty():
        return shutil.get_terminal_size().columns
    return None


def _cut(cell: str, width: int) -> str:
    return cell if len(cell) <= width else cell[: width - 1] + "…"


def fit_widths(widths: list[int], cuttable: Sequence[int], limit: int) -> list[int]:
    """Returns column widths whose table (columns two spaces apart) fits ``limit``, taking
    from the widest of the ``cuttable`` columns first, none below MIN_CUT_WIDTH."""
    fitted = list(widths)
    excess = sum(fitted) + 2 * (len(fitted) - 1) - limit
    while excess > 0:
        wide = [i for i in cuttable if fitted[i] > MIN_CUT_WIDTH]
        if not wide:
            break
        widest = max(wide, key=lambda i: fitted[i])
        fitted[widest] -= 1
        excess -= 1
    return fitted


class Output:
    """Writes results to stdout in the chosen format, and notes for people to stderr."""

    def __init__(
        self,
        format: str = "table",
        stream: TextIO | None = None,
        errors: TextIO | None = None,
    ) -> None:
        if format not in FORMATS:
            raise ValueError(f"unknown output format {format!r}; use one of {', '.join(FORMATS)}")
        self.format = format
        self.stream = stream if stream is not None else sys.stdout
        self.errors = errors if errors is not None else sys.stderr

    @property
    def as_json(self) -> bool:
        """Whether the output is JSON (errors then are JSON too)."""
        return self.format == "json"

    def _line(self, text: str = "") -> None:
        self.stream.write(text + "\n")

    def note(self, text: str, reason: str = "") -> None:
        """Says something beside the result, on stderr: a line for people, or
        ``{"notice": {"reason", "message"}}`` with --output json."""
        if self.format == "json":
            text = json.dumps({"notice": {"reason": reason, "message": text}})
        self.errors.write(text + "\n")
        self.errors.flush()

    def json(self, data: object) -> None:
        """Prints a JSON document."""
        self._line(json.dumps(data, indent=2))

    def csv(self, headers: Row, rows: Iterable[Row]) -> None:
        """Prints a header row and the rows as CSV."""
        writer = csv.writer(self.stream, lineterminator="\n")
        writer.writerow(headers)
        writer.writerows(rows)

    def table(self, headers: Row, rows: Sequence[Row], cut: Iterable[str] = ()) -> None:
        """Prints an aligned table; the ``cut`` columns lose their ends when the table is
        wider than the terminal."""
        widths = [len(h) for h in headers]
        for cells in rows:
            for i, cell in enumerate(cells):
                widths[i] = max(widths[i], len(cell))
        limit = terminal_width(self.stream)
        if limit is not None:
            cuttable = [i for i, h in enumerate(headers) if h in set(cut)]
            widths = fit_widths(widths, cuttable, limit)
        for cells in [headers, *rows]:
            self._line(
                "  ".join(_cut(c, w).ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()
            )

    def message(self, message: Message, fields: Iterable[tuple[str, str]]) -> None:
        """Prints one resource: its JSON form, a CSV header and row, or ``label: value``
        lines."""
        if self.format == "json":
            self.json(message_dict(message))
            return
        pairs = list(fields)
        if self.format == "csv":
            self.csv([label for label, _ in pairs], [[value for _, value in pairs]])
            return
        width = max((len(label) for label, _ in pairs), default=0)
        for label, value in pairs:
            lines = value.splitlines() or [""]
            self._line(f"{label + ':':<{width + 1}} {lines[0]}".rstrip())
            for more in lines[1:]:
                self._line(f"{'':<{width + 1}} {more}".rstrip())

    def listing(
        self,
        headers: Row,
        items: Iterable[tuple[Message, Row]],
        *,
        empty: str,
        cut: Iterable[str] = (),
    ) -> int:
        """Prints a list: a JSON array, CSV, or a table whose columns fit their widest cell
        (the ``cut`` ones cut to the terminal). An empty table prints ``empty`` to stderr
        instead of a lone header.

        Returns how many items were printed. A table is printed after all rows are read
        (the widths need them); JSON and CSV are written item by item.
        """
        count = 0
        if self.format == "json":
            self.stream.write("[")
            for message, _ in items:
                self.stream.write(",\n" if count else "\n")
                self.stream.write(_indent(json.dumps(message_dict(message), indent=2)))
                count += 1
            self._line("\n]" if count else "]")
            return count
        if self.format == "csv":
            writer = csv.writer(self.stream, lineterminator="\n")
            writer.writerow(headers)
            for _, cells in items:
                writer.writerow(cells)
                count += 1
            return count
        rows = [list(cells) for _, cells in items]
        if rows:
            self.table(headers, rows, cut)
        else:
            self.note(empty)
        return len(rows)

    def text(self, text: str, data: Message | None = None) -> None:
        """Prints a sentence for people, or ``data``'s JSON form (if any) for scripts."""
        if self.format == "json":
            if data is not None:
                self.json(message_dict(data))
            return
        self._line(text)


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())
