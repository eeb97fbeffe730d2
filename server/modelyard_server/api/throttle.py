"""Failed authentications counted per source address, so guessing tokens does not pay.

A source that fails `limit` times within `window_seconds` is refused for the next
`window_seconds` without a database lookup, and one warning says so. The counts live in
the process: with several workers or replicas a source gets `limit` tries on each.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("modelyard.auth")

DEFAULT_LIMIT = 20
DEFAULT_WINDOW_SECONDS = 60.0
# Sources remembered at most; beyond it the stale ones go, then all (a flood of addresses
# must not grow the process without bound).
MAX_SOURCES = 100_000


def source_of(peer: str) -> str:
    """Returns the address of a gRPC peer without its port: `ipv4:10.0.0.7:51234` gives
    `10.0.0.7`, `ipv6:[::1]:51234` gives `::1`; other peers (`unix:…`) stay whole."""
    kind, _, rest = peer.partition(":")
    if kind == "ipv4":
        return rest.rpartition(":")[0] or rest
    if kind == "ipv6":
        return rest.rpartition("]")[0].removeprefix("[") or rest
    return peer


@dataclass
class Failures:
    """One source's failures in its current window, and until when it is refused."""

    count: int
    window_end: float
    refused_until: float = 0.0


class Throttle:
    """Counts failed authentications per source and says which sources to refuse."""

    def __init__(
        self,
        limit: int = DEFAULT_LIMIT,
        window_seconds: float = DEFAULT_WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window_seconds
        self.clock = clock
        self.sources: dict[str, Failures] = {}

    def retry_after(self, source: str) -> float | None:
        """Returns the seconds until the source may try again, or None if it may now."""
        failures = self.sources.get(source)
        if failures is None or not failures.refused_until:
            return None
        wait = failures.refused_until - self.clock()
        if wait > 0:
            return wait
        del self.sources[source]  # served its time: a fresh start
        return None

    def failed(self, source: str) -> None:
        """Counts a failed authentication; the one that reaches the limit starts the refusal."""
        now = self.clock()
        failures = self.sources.get(source)
        if failures is None or now >= failures.window_end:
            self._make_room(now)
            failures = self.sources[source] = Failures(0, now + self.window)
        failures.count += 1
        if failures.count >= self.limit and not failures.refused_until:
            failures.refused_until = now + self.window
            log.warning(
                "refusing authentication from %s for %g s: %d failed attempts within %g s",
                source,
                self.window,
                failures.count,
                self.window,
            )

    def _make_room(self, now: float) -> None:
        if len(self.sources) < MAX_SOURCES:
            return
        self.sources = {
            source: failures
            for source, failures in self.sources.items()
            if failures.window_end > now or failures.refused_until > now
        }
        if len(self.sources) >= MAX_SOURCES:
            self.sources.clear()
