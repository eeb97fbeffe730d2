"""How the CLI prints: aligned tables and fields for people, proto JSON for scripts."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC
from typing import TextIO

from google.protobuf import json_format, timestamp_pb2
from google.protobuf.message import Message

__all__ = ["Output", "enum_label", "format_time"]

Row = Sequence[str]


def format_time(stamp: timestamp_pb2.Timestamp) -> str:
    """Returns a timestamp as ``2026-11-23T05:34:58Z``, or ``-`` when it is not set."""
    if stamp.seconds == 0 and stamp.nanos == 0:
        return "-"
    return stamp.ToDatetime(tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def enum_label(name: str, prefix: str) -> str:
    """Returns an enum value's name without its type prefix: ``STAGE_PRODUCTION`` ->
    ``PRODUCTION``."""
    return name.removeprefix(prefix)


def message_dict(message: Message) -> dict[str, object]:
    """Returns the proto3 JSON form of a message, as grpcurl prints it."""
    return json_format.MessageToDict(message)


class Output:
    """Writes results as tables and fields, or as JSON when ``--json`` was given."""

    def __init__(self, as_json: bool, stream: TextIO | None = None) -> None:
        self.as_json = as_json
        self.stream = stream if stream is not None else sys.stdout

    def _line(self, text: str = "") -> None:
        self.stream.write(text + "\n")

    def message(self, message: Message, fields: Iterable[tuple[str, str]]) -> None:
        """Prints one resource: its JSON form, or ``label: value`` lines."""
        if self.as_json:
            self._line(json.dumps(message_dict(message), indent=2))
            return
        pairs = list(fields)
        width = max((len(label) for label, _ in pairs), default=0)
        for label, value in pairs:
            lines = value.splitlines() or [""]
            self._line(f"{label + ':':<{width + 1}} {lines[0]}".rstrip())
            for more in lines[1:]:
                self._line(f"{'':<{width + 1}} {more}".rstrip())

    def listing(self, headers: Row, items: Iterable[tuple[Message, Row]]) -> int:
        """Prints a list: a JSON array, or a table whose columns fit their widest cell.

        Returns how many items were printed. A table is printed after all rows are read
        (the widths need them); JSON is written item by item.
        """
        count = 0
        if self.as_json:
            self.stream.write("[")
            for message, _ in items:
                self.stream.write(",\n" if count else "\n")
                self.stream.write(_indent(json.dumps(message_dict(message), indent=2)))
                count += 1
            self._line("\n]" if count else "]")
            return count
        rows = [list(cells) for _, cells in items]
        count = len(rows)
        widths = [len(h) for h in headers]
        for cells in rows:
            for i, cell in enumerate(cells):
                widths[i] = max(widths[i], len(cell))
        for cells in [list(headers), *rows]:
            self._line("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip())
        return count

    def text(self, text: str, data: Message | None = None) -> None:
        """Prints a sentence for people, or ``data``'s JSON form (if any) for scripts."""
        if self.as_json:
            if data is not None:
                self._line(json.dumps(message_dict(data), indent=2))
            return
        self._line(text)


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())
