"""WatchEvents: the log as a resumable server stream (being built; see issue 5)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from modelyard.v1 import registry_service_pb2 as rs

from modelyard_server.domain.errors import FailedPrecondition
from modelyard_server.domain.principal import Principal


class EventStreams:
    """Serves WatchEvents streams. Placeholder until the event hub lands."""

    async def watch(
        self, principal: Principal, request: rs.WatchEventsRequest
    ) -> AsyncIterator[rs.WatchEventsResponse]:
        raise FailedPrecondition("NOT_IMPLEMENTED", "WatchEvents is not available yet")
        yield rs.WatchEventsResponse()  # pragma: no cover - makes this an async generator
