"""WatchEvents: the log as a resumable server stream, served by the event hub."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing

from modelyard.v1 import errors_pb2 as reasons
from modelyard.v1 import registry_service_pb2 as rs

from modelyard_server.api.convert import action_names, audit_event
from modelyard_server.domain.clock import now_us, timestamp
from modelyard_server.domain.errors import FieldViolation, ResourceExhausted, invalid_fields
from modelyard_server.domain.principal import Principal
from modelyard_server.domain.watch import StreamQuota, watch_filter
from modelyard_server.domain.webhooks import visible_entry
from modelyard_server.events.hub import EventHub, Heartbeat
from modelyard_server.log.chain import LogEntry
from modelyard_server.observability import metrics


def event_response(entry: LogEntry) -> rs.WatchEventsResponse:
    """Returns the stream message of an entry; the hub makes it once for every stream."""
    return rs.WatchEventsResponse(event=audit_event(entry))


class EventStreams:
    """Serves WatchEvents streams from the hub, and tells the metrics how far behind they are."""

    def __init__(self, hub: EventHub[rs.WatchEventsResponse], quota: StreamQuota) -> None:
        self.hub = hub
        self.quota = quota
        # Each open stream's tenant and the seq it has reached (sent, or scanned past).
        self.open: dict[int, tuple[str, int]] = {}

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
        tenant = principal.tenant
        with self.quota.held(principal):
            items = self.hub.subscribe(tenant, wanted, start_after)
            key = id(items)
            metrics.WATCH_OPEN.inc()
            try:
                async with aclosing(items):
                    async for item in items:
                        if isinstance(item, Heartbeat):
                            self.open[key] = (tenant, item.seq)
                            yield rs.WatchEventsResponse(
                                heartbeat=rs.Heartbeat(head_seq=item.seq, time=timestamp(now_us()))
                            )
                        else:
                            seq = item.entry.seq
                            self.open[key] = (tenant, seq)
                            metrics.WATCH_EVENTS.inc()
                            metrics.WATCH_LAG.observe(max(0, self.hub.head(tenant) - seq))
                            entry = visible_entry(principal, item.entry)
                            # Rendered once for every stream, unless this reader sees less.
                            yield item.rendered if entry is item.entry else event_response(entry)
            except ResourceExhausted as error:
                if error.reason == reasons.SUBSCRIBER_TOO_SLOW:
                    metrics.WATCH_TOO_SLOW.inc()
                raise
            finally:
                metrics.WATCH_OPEN.dec()
                self.open.pop(key, None)

    async def refresh_metrics(self) -> None:
        """Sets the largest lag, in entries, of an open stream behind its log's head."""
        lags = [max(0, self.hub.head(tenant) - seq) for tenant, seq in self.open.values()]
        metrics.WATCH_LAG_MAX.set(max(lags, default=0))
