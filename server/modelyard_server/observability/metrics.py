"""The server's Prometheus metrics, declared once.

The gRPC metrics carry go-grpc-prometheus's names and labels (`grpc_server_started_total`,
`grpc_server_handled_total`, `grpc_server_handling_seconds`, `grpc_server_msg_received_total`,
`grpc_server_msg_sent_total`; `grpc_type`, `grpc_service`, `grpc_method`, `grpc_code` with
codes spelled as Go spells them), so dashboards made for gRPC servers work unchanged. The
rest are modelyard's own, prefixed `modelyard_`.

With `serve --workers N` the supervisor gives every worker one PROMETHEUS_MULTIPROC_DIR
(prometheus-client's multiprocess mode, chosen when the library is imported), and whichever
worker answers a scrape reports all of them together.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Protocol

import grpc
from modelyard.v1 import webhook_service_pb2 as ws
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
# gRPC calls here take a millisecond or so: finer buckets below Prometheus's defaults.
LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
LAG_BUCKETS = (0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
_GRPC = ("grpc_type", "grpc_service", "grpc_method")

# Go's names of the status codes (google.golang.org/grpc/codes), as dashboards expect them.
GO_CODE_NAMES: dict[grpc.StatusCode, str] = {
    grpc.StatusCode.OK: "OK",
    grpc.StatusCode.CANCELLED: "Canceled",
    grpc.StatusCode.UNKNOWN: "Unknown",
    grpc.StatusCode.INVALID_ARGUMENT: "InvalidArgument",
    grpc.StatusCode.DEADLINE_EXCEEDED: "DeadlineExceeded",
    grpc.StatusCode.NOT_FOUND: "NotFound",
    grpc.StatusCode.ALREADY_EXISTS: "AlreadyExists",
    grpc.StatusCode.PERMISSION_DENIED: "PermissionDenied",
    grpc.StatusCode.RESOURCE_EXHAUSTED: "ResourceExhausted",
    grpc.StatusCode.FAILED_PRECONDITION: "FailedPrecondition",
    grpc.StatusCode.ABORTED: "Aborted",
    grpc.StatusCode.OUT_OF_RANGE: "OutOfRange",
    grpc.StatusCode.UNIMPLEMENTED: "Unimplemented",
    grpc.StatusCode.INTERNAL: "Internal",
    grpc.StatusCode.UNAVAILABLE: "Unavailable",
    grpc.StatusCode.DATA_LOSS: "DataLoss",
    grpc.StatusCode.UNAUTHENTICATED: "Unauthenticated",
}

STARTED = Counter("grpc_server_started_total", "RPCs started on the server.", _GRPC)
HANDLED = Counter(
    "grpc_server_handled_total",
    "RPCs completed on the server, whatever their status.",
    (*_GRPC, "grpc_code"),
)
HANDLING = Histogram(
    "grpc_server_handling_seconds",
    "How long the server took to answer an RPC (a stream: until it ended).",
    _GRPC,
    buckets=LATENCY_BUCKETS,
)
RECEIVED = Counter(
    "grpc_server_msg_received_total", "Stream messages received by the server.", _GRPC
)
SENT = Counter("grpc_server_msg_sent_total", "Stream messages sent by the server.", _GRPC)
IN_FLIGHT = Gauge(
    "modelyard_grpc_in_flight_requests",
    "RPCs being handled now.",
    ("grpc_service", "grpc_method"),
    multiprocess_mode="livesum",
)
WRITES_WAITING = Gauge(
    "modelyard_writes_waiting",
    "Calls that change the registry waiting for their turn to start (--max-concurrent-writes).",
    multiprocess_mode="livesum",
)

WATCH_OPEN = Gauge(
    "modelyard_watch_streams_open",
    "WatchEvents streams open now.",
    multiprocess_mode="livesum",
)
WATCH_EVENTS = Counter("modelyard_watch_events_sent_total", "Events sent on WatchEvents streams.")
WATCH_TOO_SLOW = Counter(
    "modelyard_watch_subscribers_too_slow_total",
    "Streams ended because their reader fell too far behind (SUBSCRIBER_TOO_SLOW).",
)
WATCH_LAG = Histogram(
    "modelyard_watch_lag_events",
    "How many committed entries the log's head was ahead of each event when it was sent.",
    buckets=LAG_BUCKETS,
)
WATCH_LAG_MAX = Gauge(
    "modelyard_watch_lag_events_max",
    "The largest lag now, in entries, between the log's head and an open stream.",
    multiprocess_mode="livemax",
)

DELIVERIES = Gauge(
    "modelyard_webhook_deliveries",
    "Webhook deliveries by state, read from the database at scrape time.",
    ("state",),
    multiprocess_mode="mostrecent",
)
DELIVERY_BACKLOG = Gauge(
    "modelyard_webhook_backlog",
    "Webhook deliveries waiting to be attempted (PENDING).",
    multiprocess_mode="mostrecent",
)
OLDEST_PENDING = Gauge(
    "modelyard_webhook_oldest_pending_seconds",
    "Age of the oldest PENDING webhook delivery (0 when none waits).",
    multiprocess_mode="mostrecent",
)

AUDIT_VERIFICATIONS = Counter(
    "modelyard_audit_verifications_total",
    "VerifyAuditLog runs, by result (ok, broken).",
    ("result",),
)
AUDIT_CHAIN_BROKEN = Gauge(
    "modelyard_audit_chain_broken",
    "1 if the latest VerifyAuditLog found the log altered, 0 if it found it intact (or none ran).",
    multiprocess_mode="mostrecent",
)

TRANSACTIONS = Histogram(
    "modelyard_db_transaction_seconds",
    "Database transactions, from begin to commit or rollback.",
    ("kind",),
    buckets=LATENCY_BUCKETS,
)
COMMIT_BATCH = Histogram(
    "modelyard_db_commit_batch_changes",
    "How many write transactions each database commit carried (group commit).",
    buckets=(1, 2, 4, 8, 16, 32, 64),
)
ARTIFACT_BYTES_IN = Counter(
    "modelyard_artifact_bytes_received_total", "Artifact bytes received by WriteBlob."
)
ARTIFACT_BYTES_OUT = Counter(
    "modelyard_artifact_bytes_sent_total", "Artifact bytes sent by ReadArtifact."
)

Refresh = Callable[[], Awaitable[None]]


def multiprocess_dir() -> str | None:
    """The directory the workers share their metrics through, if any."""
    return os.environ.get(MULTIPROCESS_ENV) or None


def exposition() -> bytes:
    """Returns the metrics of this process, or of every worker, in Prometheus's text format."""
    if multiprocess_dir() is None:
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry)


class DeliveryTally(Protocol):
    async def tally(self) -> tuple[dict[int, int], int | None]: ...


def delivery_refresher(queue: DeliveryTally, now_us: Callable[[], int]) -> Refresh:
    """Returns what a scrape runs to read the webhook deliveries' states from the database."""

    async def refresh() -> None:
        counts, oldest = await queue.tally()
        for state in (ws.DELIVERY_STATE_PENDING, ws.DELIVERY_STATE_SUCCEEDED,
                      ws.DELIVERY_STATE_FAILED):  # fmt: skip
            name = ws.DeliveryState.Name(state).removeprefix("DELIVERY_STATE_")
            DELIVERIES.labels(name).set(counts.get(state, 0))
        DELIVERY_BACKLOG.set(counts.get(ws.DELIVERY_STATE_PENDING, 0))
        OLDEST_PENDING.set(0 if oldest is None else max(0.0, (now_us() - oldest) / 1e6))

    return refresh
