"""Assembles the server: storage, migrations, identity, services, health and reflection."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
from dataclasses import dataclass

import grpc
from grpc_health.v1 import _async as health_aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from modelyard.v1 import (
    approval_service_pb2,
    artifact_service_pb2,
    audit_service_pb2,
    registry_service_pb2,
    webhook_service_pb2,
)
from modelyard.v1 import approval_service_pb2_grpc as aps_grpc
from modelyard.v1 import artifact_service_pb2_grpc as arts_grpc
from modelyard.v1 import audit_service_pb2_grpc as aus_grpc
from modelyard.v1 import registry_service_pb2_grpc as rs_grpc
from modelyard.v1 import webhook_service_pb2_grpc as ws_grpc

from modelyard_server.api.approval import ApprovalServicer
from modelyard_server.api.artifacts import ArtifactServicer
from modelyard_server.api.audit import AuditServicer
from modelyard_server.api.auth import Authenticator, AuthInterceptor
from modelyard_server.api.decoding import DecodingInterceptor
from modelyard_server.api.reflection import add_reflection
from modelyard_server.api.registry import RegistryServicer
from modelyard_server.api.watch import EventStreams, event_response
from modelyard_server.api.webhooks import WebhookServicer, delivery_body
from modelyard_server.artifacts import open_blob_store
from modelyard_server.config import Settings
from modelyard_server.deliveries.model import RetrySchedule
from modelyard_server.deliveries.worker import DeliveryWorker
from modelyard_server.domain.artifacts import Artifacts
from modelyard_server.domain.registry import Registry
from modelyard_server.events.hub import EventHub, HubSettings
from modelyard_server.events.listener import LogListener
from modelyard_server.keyring import Keyring
from modelyard_server.preflight import (
    SetupError,
    cannot_listen,
    make_data_dir,
    open_database,
    open_keyring,
)
from modelyard_server.store.deliveries import SqlDeliveryQueue
from modelyard_server.store.engine import Engines
from modelyard_server.store.tokens import count_tokens, create_token, principal_of
from modelyard_server.store.unit_of_work import SqlStore
from modelyard_server.web.serving import WebServer, start_web

log = logging.getLogger("modelyard.server")

#: glibc's mallopt parameter for the number of arenas.
M_ARENA_MAX = -8

SERVICES = (
    registry_service_pb2.DESCRIPTOR.services_by_name["RegistryService"].full_name,
    approval_service_pb2.DESCRIPTOR.services_by_name["ApprovalService"].full_name,
    audit_service_pb2.DESCRIPTOR.services_by_name["AuditService"].full_name,
    webhook_service_pb2.DESCRIPTOR.services_by_name["WebhookService"].full_name,
    artifact_service_pb2.DESCRIPTOR.services_by_name["ArtifactService"].full_name,
)
DEFAULT_TENANT = "default"


async def ensure_admin_token(engines: Engines, settings: Settings) -> None:
    """On the first start against an empty database, writes an admin token file (mode 0600)."""
    if await count_tokens(engines) > 0:
        return
    token = await create_token(engines, tenant=DEFAULT_TENANT, subject="admin", roles=["admin"])
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    path = settings.token_file
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(token + "\n")
    os.chmod(path, 0o600)
    log.info("created the admin token in %s (mode 0600); keep it secret", path)


@dataclass
class Running:
    server: grpc.aio.Server
    health: health_aio.HealthServicer
    engines: Engines
    port: int
    hub: EventHub[registry_service_pb2.WatchEventsResponse]
    listener: LogListener | None
    deliveries: DeliveryWorker
    registry: Registry
    keyring: Keyring
    collector: asyncio.Task[None] | None = None
    web: WebServer | None = None

    @property
    def http_port(self) -> int:
        """The web UI's port (0 when the server has no UI)."""
        return self.web.port if self.web is not None else 0

    async def stop(self, grace: float) -> None:
        """Stops taking calls (health NOT_SERVING), ends the event streams (their clients
        resume elsewhere or after the restart), drains in-flight calls, closes the database."""
        await self.health.enter_graceful_shutdown()
        self.hub.close()
        if self.web is not None:
            await self.web.stop(grace)
        await self.server.stop(grace)
        await self.deliveries.stop()
        if self.collector is not None:
            self.collector.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.collector
        if self.listener is not None:
            await self.listener.stop()
        await self.engines.dispose()


async def collect_blobs(artifacts: Artifacts, settings: Settings) -> None:
    """Collects the blobs no version needs, every gc_interval_seconds, until cancelled."""
    while True:
        await asyncio.sleep(settings.gc_interval_seconds)
        try:
            done = await artifacts.collect(settings.blob_grace_seconds)
        except Exception:
            log.exception("collecting blobs failed; the next collection tries again")
            continue
        if done.blobs or done.holdings or done.uploads:
            log.info(
                "collected %d blobs (%d bytes) nothing references, %d unused holdings and "
                "%d abandoned uploads",
                done.blobs,
                done.bytes,
                done.holdings,
                done.uploads,
            )


def hub_settings(settings: Settings, sqlite: bool) -> HubSettings:
    """Returns the hub's settings. SQLite has no NOTIFY, and other processes may write the same
    file, so the hub polls it more often than PostgreSQL, where polling is only a safety net."""
    poll = settings.watch_poll_seconds or (0.25 if sqlite else 5.0)
    return HubSettings(
        heartbeat_seconds=settings.heartbeat_seconds,
        poll_seconds=poll,
        buffer=settings.watch_buffer,
    )


async def prepare(settings: Settings) -> None:
    """Migrates the database and writes the first admin token, before any worker starts."""
    make_data_dir(settings)
    open_keyring(settings)
    engines = await open_database(settings, create=True, pool_size=1)
    try:
        await ensure_admin_token(engines, settings)
    finally:
        await engines.dispose()


async def start(settings: Settings) -> Running:
    """Returns a started server; migrations are applied before it reports SERVING. Raises
    SetupError for what the operator must fix: the data directory, the database, the address."""
    make_data_dir(settings)
    keyring = open_keyring(settings)
    engines = await open_database(settings, create=True)
    await ensure_admin_token(engines, settings)
    store = SqlStore(engines)
    events = hub_settings(settings, engines.sqlite)
    hub = EventHub(store, event_response, events)
    queue = SqlDeliveryQueue(engines)
    deliveries = DeliveryWorker(
        queue,
        delivery_body,
        RetrySchedule(
            backoff_seconds=settings.webhook_backoff_seconds,
            max_attempts=settings.webhook_max_attempts,
            timeout_seconds=settings.webhook_timeout_seconds,
        ),
        poll_seconds=events.poll_seconds,
    )

    def committed(tenant: str | None) -> None:
        hub.wake(tenant)
        deliveries.wake(tenant)

    listener = None if engines.sqlite else LogListener(engines.url, committed)
    store.committed.append(committed)

    authenticator = Authenticator(lambda t: principal_of(engines, t))
    server = grpc.aio.server(
        # Authentication first: a caller without a token learns nothing, even of bad bytes.
        interceptors=[
            AuthInterceptor(authenticator),
            DecodingInterceptor(),
        ],
        # Share the port only with sibling workers: a second server started by mistake on a
        # busy port must fail, not silently take half of the traffic.
        options=[("grpc.so_reuseport", 1 if settings.reuse_port else 0)],
    )
    blobs = open_blob_store(settings)
    registry = Registry(store, queue, blobs, wake_deliveries=deliveries.wake)
    rs_grpc.add_RegistryServiceServicer_to_server(
        RegistryServicer(registry, EventStreams(hub)), server
    )
    aps_grpc.add_ApprovalServiceServicer_to_server(ApprovalServicer(registry.approvals), server)
    aus_grpc.add_AuditServiceServicer_to_server(AuditServicer(registry.audit), server)
    ws_grpc.add_WebhookServiceServicer_to_server(WebhookServicer(registry.webhooks), server)
    arts_grpc.add_ArtifactServiceServicer_to_server(ArtifactServicer(registry.artifacts), server)
    health_servicer = health_aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    add_reflection((*SERVICES, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name), server)
    try:
        port = server.add_insecure_port(settings.address)
    except RuntimeError:  # grpc says only that it failed
        port = 0
    if port == 0:
        await engines.dispose()
        raise cannot_listen(settings.address)
    web = None
    if settings.http_address:
        try:
            # The UI signs visitors in with the gRPC API's own token check.
            web = await start_web(
                settings.http_address,
                reuse_port=settings.reuse_port,
                registry=registry,
                hub=hub,
                authenticate=authenticator.principal,
                keyring=keyring,
            )
        except SetupError:
            await engines.dispose()
            raise
    await server.start()
    if listener is not None:
        listener.start()
    deliveries.start()
    collector = None
    if settings.gc_interval_seconds > 0:
        collector = asyncio.create_task(collect_blobs(registry.artifacts, settings))
    for service in ("", *SERVICES):
        await health_servicer.set(service, health_pb2.HealthCheckResponse.SERVING)
    return Running(
        server,
        health_servicer,
        engines,
        port,
        hub,
        listener,
        deliveries,
        registry,
        keyring,
        collector,
        web,
    )


def cap_malloc_arenas() -> None:
    """Keeps the artifact streams' 2 MiB buffers from piling up in glibc's arenas.

    glibc gives each thread that allocates an arena of its own (up to 8 per core) and
    keeps what was freed there; the threads that hash and write artifact bytes each grew
    one. Two arenas (as MALLOC_ARENA_MAX=2 would) keep the server's RSS flat while
    gigabytes pass, without the page faults that pinning the mmap threshold costs.
    """
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(M_ARENA_MAX, 2)


async def serve(settings: Settings) -> None:
    """Serves until SIGTERM or SIGINT, then shuts down gracefully."""
    cap_malloc_arenas()
    running = await start(settings)
    host = settings.address.rsplit(":", 1)[0]
    log.info("modelyard serving on %s:%d (data %s)", host, running.port, settings.data_dir)
    if running.web is not None:
        web_host = settings.http_address.rpartition(":")[0]
        log.info("web UI on http://%s:%d", web_host, running.http_port)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    await stopping.wait()
    log.info("shutting down")
    await running.stop(settings.grace_seconds)
