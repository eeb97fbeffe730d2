"""Reading the log and the event streams: what a watch handed out, what the log holds."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from modelyard import AuditEvent, Registry, Watch


def read(watch: Watch, count: int, timeout: float = 20.0) -> list[AuditEvent]:
    """Returns the next `count` events of a watch, or those that came within `timeout`
    (the watch is closed then, so a missing event fails the test instead of hanging it)."""
    events: list[AuditEvent] = []
    timer = threading.Timer(timeout, watch.close)
    timer.start()
    try:
        for event in watch:
            events.append(event)
            if len(events) == count:
                break
    finally:
        timer.cancel()
    return events


def seqs(events: list[AuditEvent]) -> list[int]:
    """Returns the seqs of the events, in their order."""
    return [e.seq for e in events]


def log_after(registry: Registry, seq: int) -> list[AuditEvent]:
    """Returns every entry of the log after `seq`, in seq order."""
    return [e for e in registry.list_audit_events(page_size=40) if e.seq > seq]


def head(registry: Registry) -> int:
    """Returns the seq of the newest entry in the log."""
    return registry.verify_audit_log().head_seq


def touched(event: AuditEvent) -> set[str]:
    """Returns the resources an event changed: its own and those in `related`."""
    return {event.resource, *(change.resource for change in event.related)}


def wait_until(condition: Callable[[], bool], timeout: float = 20.0, what: str = "it") -> None:
    """Polls `condition()` until it is true; fails the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout}s")
        time.sleep(0.05)
