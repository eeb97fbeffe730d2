"""What a watch is apart from its I/O: the request, the cursor, and when to reconnect.

Shared by :class:`modelyard.Watch` and :class:`modelyard.AsyncWatch`, whose modules read
the stream and wait; see :mod:`modelyard.watch` for what a watch promises.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterable

import grpc

from modelyard import _requests as build
from modelyard.errors import ModelyardError, handshake_refused
from modelyard.names import group_name
from modelyard.v1 import registry_service_pb2, resources_pb2

__all__ = ["RESUMABLE_CODES", "Position", "resumable", "watch_request"]

log = logging.getLogger("modelyard.watch")

#: Failures after which a watch reconnects and resumes from its cursor; any other code is
#: the caller's to handle (a bad filter, a missing permission, a cursor from another log).
RESUMABLE_CODES = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
    }
)


def resumable(error: ModelyardError) -> bool:
    """Returns whether reconnecting and resuming from the cursor cures this failure.

    RESOURCE_EXHAUSTED is resumable only when the server ended a stream that fell behind
    (SUBSCRIBER_TOO_SLOW): a limit on streams, or a message larger than the client takes,
    would come back on every attempt, so the caller hears of it instead; so would a TLS
    handshake that the client's or the server's certificates make fail.
    """
    if error.code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        return error.reason == "SUBSCRIBER_TOO_SLOW"
    return error.code in RESUMABLE_CODES and not handshake_refused(error)


#: Seconds to wait before reconnecting: doubling from the first to the last, with jitter.
FIRST_BACKOFF = 0.1
MAX_BACKOFF = 5.0


def watch_request(
    groups: Iterable[str],
    actions: Iterable[build.ActionLike],
    versions: Iterable[str],
    start_after: int | None,
) -> registry_service_pb2.WatchEventsRequest:
    """Returns the WatchEventsRequest for these filters (groups by id or resource name)."""
    if isinstance(groups, str) or isinstance(versions, str):
        raise TypeError("groups and versions are lists of names, not one string")
    if start_after is not None and start_after < 0:
        raise ValueError(f"start_after must be a seq >= 0, got {start_after}")
    request = registry_service_pb2.WatchEventsRequest(
        groups=[group_name(g) for g in groups],
        actions=[build.action(a) for a in actions],
        versions=list(versions),
    )
    if start_after is not None:
        request.start_after = start_after
    return request


class Position:
    """The cursor, the request that resumes from it, and the pause before reconnecting."""

    def __init__(
        self, request: registry_service_pb2.WatchEventsRequest, idle_timeout: float | None
    ) -> None:
        self.base = request
        self.cursor: int | None = request.start_after if request.HasField("start_after") else None
        self.idle_timeout = idle_timeout
        self.failures = 0
        #: When the server last said something on the stream (time.monotonic()): an event
        #: or a heartbeat; None before the first.
        self.heard: float | None = None

    def request(self) -> registry_service_pb2.WatchEventsRequest:
        """Returns the request that resumes after the cursor."""
        request = registry_service_pb2.WatchEventsRequest()
        request.CopyFrom(self.base)
        if self.cursor is not None:
            request.start_after = self.cursor
        return request

    def accept(
        self, message: registry_service_pb2.WatchEventsResponse
    ) -> resources_pb2.AuditEvent | None:
        """Returns the event to hand out, or None for a heartbeat (or a repeat)."""
        self.failures = 0
        self.heard = time.monotonic()
        if message.HasField("heartbeat"):
            if self.cursor is None or message.heartbeat.head_seq > self.cursor:
                self.cursor = message.heartbeat.head_seq
            return None
        if not message.HasField("event"):
            return None
        event = message.event
        if self.cursor is not None and event.seq <= self.cursor:
            # Never hand out an event twice, whatever the server sends; say so, it is a bug.
            log.warning("dropped event seq %d, already past it (cursor %d)", event.seq, self.cursor)
            return None
        self.cursor = event.seq
        return event

    def resumable(self, error: ModelyardError) -> bool:
        """Returns whether reconnecting cures this failure."""
        return resumable(error)

    def backoff(self) -> float:
        """Returns the seconds to wait before the next reconnect, longer each failure."""
        self.failures += 1
        ceiling = min(MAX_BACKOFF, FIRST_BACKOFF * 2 ** (self.failures - 1))
        return random.uniform(ceiling / 2, ceiling)
