"""What the event-stream and webhook tests share: servers of their own, stage moves, readers."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
from google.protobuf import json_format
from modelyard import AuditEvent, Registry, Watch
from modelyard.v1 import approval_service_pb2 as aps
from modelyard.v1 import approval_service_pb2_grpc, registry_service_pb2_grpc
from modelyard.v1 import registry_service_pb2 as rs
from modelyard.v1 import resources_pb2 as pb

from tests.servers import SERVER_BIN, ServerProcess, create_database, drop_database


@contextmanager
def own_server(
    tmp_path: Path,
    backend: str = "sqlite",
    *,
    database_url: str | None = None,
    **env: str,
) -> Iterator[ServerProcess]:
    """A server of the test's own, with MODELYARD_* settings from `env`; on PostgreSQL a fresh
    database unless one is given (which the caller then owns)."""
    created = None
    if backend == "postgres" and database_url is None:
        created = database_url = create_database()
    process = ServerProcess(
        data_dir=tmp_path / f"data-{backend}-{len(list(tmp_path.iterdir()))}",
        database_url=database_url,
        backend=backend,
        extra_env={f"MODELYARD_{k.upper()}": v for k, v in env.items()},
    )
    try:
        yield process.start()
    finally:
        process.stop()
        if created is not None:
            drop_database(created)


def move(
    address: str, token: str, name: str, stage: pb.Stage.ValueType, reason: str = ""
) -> pb.ModelVersion:
    """Moves a version to a stage through the generated stub; returns it."""
    with grpc.insecure_channel(address) as channel:
        stub = registry_service_pb2_grpc.RegistryServiceStub(channel)
        reply = stub.TransitionModelVersionStage(
            rs.TransitionModelVersionStageRequest(name=name, stage=stage, reason=reason),
            metadata=(("authorization", f"Bearer {token}"),),
            timeout=30,
        )
    return reply.model_version


def approve(address: str, token: str, name: str) -> pb.ModelVersion:
    """Approves a version through the generated stub, as the principal of `token`."""
    with grpc.insecure_channel(address) as channel:
        stub = approval_service_pb2_grpc.ApprovalServiceStub(channel)
        return stub.ApproveModelVersion(
            aps.ApproveModelVersionRequest(name=name, reason="tested"),
            metadata=(("authorization", f"Bearer {token}"),),
            timeout=30,
        )


def tenant_token(server: ServerProcess, tenant: str, subject: str, role: str) -> str:
    """Returns a token of a principal in another tenant, made by the operator command."""
    command = [str(SERVER_BIN), "--data-dir", str(server.data_dir)]
    if server.database_url:
        command += ["--database-url", server.database_url]
    command += ["token", "--tenant", tenant, "--subject", subject, "--role", role]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    return done.stdout.strip()


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


def log_after(registry: Registry, seq: int) -> list[AuditEvent]:
    """Returns every entry of the log after `seq`, in seq order."""
    return [e for e in registry.list_audit_events(page_size=40) if e.seq > seq]


def head(registry: Registry) -> int:
    """Returns the seq of the newest entry in the log."""
    return registry.verify_audit_log().head_seq


def touched(event: AuditEvent) -> set[str]:
    """Returns the resources an event changed: its own and those in `related`."""
    return {event.resource, *(change.resource for change in event.related)}


def as_json(event: AuditEvent) -> dict[str, object]:
    """Returns the proto JSON form of an event, as webhooks and `--json` print it."""
    result: dict[str, object] = json.loads(json_format.MessageToJson(event))
    return result


def wait_until(condition: Callable[[], bool], timeout: float = 20.0, what: str = "it") -> None:
    """Polls `condition()` until it is true; fails the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout}s")
        time.sleep(0.05)
