"""A progress line for transfers on a terminal: bytes, rate and time left; nothing when the
output is not a terminal (a pipe, a file, a CI log)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["TransferProgress", "human_bytes"]


def human_bytes(count: float) -> str:
    """Returns ``12.3 MiB`` style text."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(count) < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} GiB"


class TransferProgress:
    """Called with (bytes done, bytes in all); redraws one stderr line at most 10 times a
    second, on a terminal only. :meth:`done` ends the line."""

    def __init__(self, what: str, stream: TextIO | None = None) -> None:
        self.what = what
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty()
        self.start = time.monotonic()
        self.shown = 0.0
        self.drawn = False

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if not self.enabled or (now - self.shown < 0.1 and done < total):
            return
        self.shown = now
        elapsed = max(now - self.start, 1e-6)
        rate = done / elapsed
        percent = f"{100 * done / total:3.0f}%" if total else "100%"
        left = f"ETA {(total - done) / rate:.0f}s" if rate > 0 and done < total else ""
        line = (
            f"{self.what}: {human_bytes(done)} / {human_bytes(total)} {percent} "
            f"{human_bytes(rate)}/s {left}"
        )
        self.stream.write(f"\r{line:<79}")
        self.stream.flush()
        self.drawn = True

    def done(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
