"""The metrics endpoint: `GET /metrics` on `--metrics-address`, and nothing else.

A small HTTP/1.1 server on the event loop, so that what a scrape reads from the database
(the webhook backlog) and from the event hub (the streams' lag) is read where they live.
Workers share its port as they share the gRPC port; any of them reports them all.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from modelyard_server.observability.metrics import Refresh, exposition

log = logging.getLogger("modelyard.metrics")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MAX_HEAD = 8192
READ_SECONDS = 5.0


class MetricsEndpoint:
    """Serves the metrics; each scrape first runs the refreshers (gauges read on demand)."""

    def __init__(self, refreshers: Sequence[Refresh] = ()) -> None:
        self.refreshers = list(refreshers)
        self.server: asyncio.Server | None = None

    async def start(self, address: str, reuse_port: bool) -> int:
        """Listens on HOST:PORT; returns the port (useful with port 0). Raises OSError."""
        host, _, port = address.rpartition(":")
        self.server = await asyncio.start_server(
            self._serve, host.strip("[]") or None, int(port), reuse_port=reuse_port or None
        )
        return int(self.server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(READ_SECONDS):
                head = await reader.readuntil(b"\r\n\r\n")
            status, body, content_type = await self._answer(head)
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            status, body, content_type = "400 Bad Request", b"bad request\n", "text/plain"
        except ConnectionError:
            writer.close()
            return
        try:
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def _answer(self, head: bytes) -> tuple[str, bytes, str]:
        if len(head) > MAX_HEAD:
            return "431 Request Header Fields Too Large", b"headers too large\n", "text/plain"
        method, _, rest = head.split(b"\r\n", 1)[0].decode("latin-1").partition(" ")
        path = rest.split(" ", 1)[0].split("?", 1)[0]
        if path != "/metrics":
            return "404 Not Found", b"only /metrics is served here\n", "text/plain"
        if method not in ("GET", "HEAD"):
            return "405 Method Not Allowed", b"use GET\n", "text/plain"
        for refresh in self.refreshers:
            try:
                await refresh()
            except Exception as error:  # a gauge goes stale; the scrape still answers
                log.warning("a metric could not be refreshed for this scrape: %s", error)
        body = exposition()
        return "200 OK", (b"" if method == "HEAD" else body), CONTENT_TYPE
