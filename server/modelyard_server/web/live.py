"""Live pages: the log's new entries as server-sent events, straight from the event hub.

A page that shows a group or the log opens `/live?group=…` (or `/live` for the whole log);
each committed entry the visitor may read arrives as one event, and the page's little script
fetches the page again and swaps the parts marked live. Heartbeats keep idle connections
open through proxies. The stream ends when the server stops (the hub closes) or the browser
leaves.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import aclosing

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from modelyard_server.domain import names
from modelyard_server.domain.errors import DomainError
from modelyard_server.domain.watch import watch_filter
from modelyard_server.events.hub import Heartbeat
from modelyard_server.web.site import Site, Visitor


async def live(site: Site, request: Request, visitor: Visitor) -> Response:
    group = request.query_params.get("group", "").strip()
    groups = [names.group_name(group)] if group else []
    wanted = watch_filter(visitor.principal, groups, [], [])
    items = site.hub.subscribe(visitor.principal.tenant, wanted, None)

    async def stream() -> AsyncIterator[str]:
        yield "retry: 2000\n\n"
        try:
            async with aclosing(items):
                async for item in items:
                    if isinstance(item, Heartbeat):
                        yield f": heartbeat {item.seq}\n\n"
                        continue
                    entry = item.entry
                    data = {
                        "seq": entry.seq,
                        "action": entry.action,
                        "resource": entry.resource,
                        "actor": entry.actor,
                    }
                    yield f"id: {entry.seq}\nevent: entry\ndata: {json.dumps(data)}\n\n"
        except DomainError:
            # The server is stopping, or this page fell too far behind: the stream ends and
            # the browser reconnects (after `retry`), then fetches the page afresh.
            return

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
