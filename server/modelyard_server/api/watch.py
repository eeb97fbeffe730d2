"""WatchEvents: the log as a resumable server stream, served by the event hub."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing

from modelyard.v1 import registry_service_pb2 as rs

from modelyard_server.api.convert import action_names, audit_event
from modelyard_server.domain.clock import now_us, timestamp
from modelyard_server.domain.errors import FieldViolation, invalid_fields
from modelyard_server.domain.principal import Principal
from modelyard_server.domain.watch import watch_filter
from modelyard_server.domain.webhooks import visible_entry
from modelyard_server.events.hub import EventHub, Heartbeat
from modelyard_server.log.chain import LogEntry


def event_response(entry: LogEntry) -> rs.WatchEventsResponse:
    """Returns the stream message of an entry; the hub makes it once for every stream."""
    return rs.WatchEventsResponse(event=audit_event(entry))


class EventStreams:
    """Serves WatchEvents streams from the hub."""

    def __init__(self, hub: EventHub[rs.WatchEventsResponse]) -> None:
        self.hub = hub

    async def watch(
        self, principal: Principal, request: rs.WatchEventsRequest
    ) -> AsyncGenerator[rs.WatchEventsResponse]:
        """Yields the heartbeat the stream starts from, then events and heartbeats."""
        if request.HasField("start_after") and request.start_after < 0:
            raise invalid_fields(
                [FieldViolation("start_after", "must be 0 (the first event) or a seq")]
            )
        wanted = watch_filter(
            principal,
            list(request.groups),
            action_names(list(request.actions)),
            list(request.versions),
        )
        start_after = request.start_after if request.HasField("start_after") else None
        items = self.hub.subscribe(principal.tenant, wanted, start_after)
        async with aclosing(items):
            async for item in items:
                if isinstance(item, Heartbeat):
                    yield rs.WatchEventsResponse(
                        heartbeat=rs.Heartbeat(head_seq=item.seq, time=timestamp(now_us()))
                    )
                else:
                    entry = visible_entry(principal, item.entry)
                    # Rendered once for every stream, unless this reader sees less of it.
                    yield item.rendered if entry is item.entry else event_response(entry)
