"""The UI's HTTP server, run by uvicorn inside the server's own event loop, so that pages
share the registry and the event hub with the gRPC servicers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket

import uvicorn
from modelyard.v1 import registry_service_pb2 as rs

from modelyard_server.domain.registry import Registry
from modelyard_server.events.hub import EventHub
from modelyard_server.keyring import Keyring
from modelyard_server.preflight import SetupError
from modelyard_server.web.routes import build_app
from modelyard_server.web.sessions import SessionSeal
from modelyard_server.web.site import Authenticate, Site

log = logging.getLogger("modelyard.web")


def listen(address: str, reuse_port: bool) -> socket.socket:
    """Returns a listening socket on HOST:PORT (port 0: one the OS picks)."""
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    try:
        family, kind, proto, _, where = socket.getaddrinfo(
            host, int(port), type=socket.SOCK_STREAM
        )[0]
        sock = socket.socket(family, kind, proto)
    except (OSError, ValueError) as error:
        raise SetupError(f"cannot listen for the web UI on {address}: {error}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(where)
        sock.listen(128)
        sock.setblocking(False)
    except OSError as error:
        sock.close()
        why = (error.strerror or str(error)).lower()
        raise SetupError(
            f"cannot listen for the web UI on {address}: {why}; choose another "
            "--http-address (MODELYARD_HTTP_ADDRESS), or leave it empty for no UI"
        ) from None
    return sock


class WebServer:
    """The started UI: where it listens, and how to stop it."""

    def __init__(self, server: uvicorn.Server, sock: socket.socket, ticker: asyncio.Task[None]):
        self.server = server
        self.sock = sock
        self.ticker = ticker
        self.port: int = sock.getsockname()[1]

    async def stop(self, grace: float) -> None:
        """Stops taking requests and ends open ones after `grace` seconds (the live streams
        have ended already: the hub closes first)."""
        self.server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await self.ticker
        self.server.config.timeout_graceful_shutdown = max(1, int(grace))
        await self.server.shutdown()


async def start_web(
    address: str,
    *,
    reuse_port: bool,
    registry: Registry,
    hub: EventHub[rs.WatchEventsResponse],
    authenticate: Authenticate,
    keyring: Keyring,
) -> WebServer:
    """Returns the UI, serving on `address`."""
    site = Site(registry, hub, authenticate, SessionSeal(keyring))
    config = uvicorn.Config(
        build_app(site),
        lifespan="off",
        log_config=None,
        access_log=False,
        server_header=False,
        proxy_headers=False,
    )
    config.load()
    server = uvicorn.Server(config)
    server.lifespan = config.lifespan_class(config)
    sock = listen(address, reuse_port)
    await server.startup(sockets=[sock])
    # uvicorn's own loop keeps the Date header fresh and notices should_exit.
    ticker = asyncio.create_task(server.main_loop())
    return WebServer(server, sock, ticker)
