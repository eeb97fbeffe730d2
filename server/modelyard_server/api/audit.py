"""modelyard.v1.AuditService: the log, listed and verified."""

from __future__ import annotations

from typing import Any

import grpc
from modelyard.v1 import audit_service_pb2 as aus
from modelyard.v1 import audit_service_pb2_grpc as aus_grpc
from modelyard.v1 import resources_pb2 as pb

from modelyard_server.api.auth import current_principal
from modelyard_server.api.convert import action_names, audit_event
from modelyard_server.api.errors import rpc
from modelyard_server.domain.audit import Audit
from modelyard_server.domain.clock import timestamp
from modelyard_server.domain.repositories import AuditQuery
from modelyard_server.domain.validation import time_us
from modelyard_server.domain.webhooks import visible_entry
from modelyard_server.log.chain import LogEntry
from modelyard_server.log.checkpoints import Checkpoint
from modelyard_server.observability import metrics

Context = grpc.aio.ServicerContext[Any, Any]


class AuditServicer(aus_grpc.AuditServiceServicer):
    def __init__(self, audit: Audit) -> None:
        self.audit = audit

    @rpc
    async def ListAuditEvents(
        self, request: aus.ListAuditEventsRequest, context: Context
    ) -> aus.ListAuditEventsResponse:
        actions = action_names(list(request.actions))
        query = AuditQuery(
            resource=request.resource,
            actor=request.actor,
            actions=tuple(actions),
            start_us=time_us(request.start_time, "start_time")
            if request.HasField("start_time")
            else 0,
            end_us=time_us(request.end_time, "end_time") if request.HasField("end_time") else 0,
            newest_first=request.newest_first,
        )
        # The page is cut by the size of the events as sent (a Struct may be larger than the
        # JSON the log stores), as this caller may see them; each is rendered once, to be
        # measured and then sent.
        principal = current_principal()
        rendered: dict[int, pb.AuditEvent] = {}

        def size_of(entry: LogEntry) -> int:
            event = rendered[entry.seq] = audit_event(visible_entry(principal, entry))
            return event.ByteSize()

        entries, token = await self.audit.page(
            principal, query, request.page_size, request.page_token, size_of
        )
        return aus.ListAuditEventsResponse(
            audit_events=[
                rendered.get(e.seq) or audit_event(visible_entry(principal, e)) for e in entries
            ],
            next_page_token=token,
        )

    @rpc
    async def VerifyAuditLog(
        self, request: aus.VerifyAuditLogRequest, context: Context
    ) -> aus.VerifyAuditLogResponse:
        checkpoint = None
        if request.HasField("checkpoint"):
            checkpoint = checkpoint_of(request.checkpoint, "checkpoint")
        verdict = await self.audit.verify(
            current_principal(), full=request.full, checkpoint=checkpoint
        )
        chain = verdict.chain
        metrics.AUDIT_VERIFICATIONS.labels("ok" if verdict.ok else "broken").inc()
        metrics.AUDIT_CHAIN_BROKEN.set(0 if verdict.ok else 1)
        return aus.VerifyAuditLogResponse(
            ok=verdict.ok,
            entries_checked=chain.checked,
            head_seq=chain.head_seq,
            head_hash=chain.head_hash,
            first_broken_seq=chain.first_broken_seq,
            problem=chain.problem,
            first_bad_resource=verdict.resource,
            verified_after_seq=verdict.after_seq,
        )

    @rpc
    async def GetAuditCheckpoint(
        self, request: aus.GetAuditCheckpointRequest, context: Context
    ) -> aus.AuditCheckpoint:
        return checkpoint_message(await self.audit.checkpoint(current_principal()))


def checkpoint_of(message: aus.AuditCheckpoint, field: str) -> Checkpoint:
    """Returns the checkpoint a request carries."""
    return Checkpoint(
        tenant=message.tenant,
        seq=message.seq,
        hash=message.hash,
        time_us=time_us(message.time, f"{field}.time"),
        signature=message.signature,
        public_key=message.public_key,
    )


def checkpoint_message(checkpoint: Checkpoint) -> aus.AuditCheckpoint:
    return aus.AuditCheckpoint(
        tenant=checkpoint.tenant,
        seq=checkpoint.seq,
        hash=checkpoint.hash,
        time=timestamp(checkpoint.time_us),
        signature=checkpoint.signature,
        public_key=checkpoint.public_key,
    )
