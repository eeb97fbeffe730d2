"""Log entries to AuditEvent messages, and request fingerprints for idempotency."""

from __future__ import annotations

import hashlib
import json

from google.protobuf.message import Message
from google.protobuf.struct_pb2 import Struct
from modelyard.v1 import resources_pb2 as pb

from modelyard_server.api.auth import current_principal
from modelyard_server.domain import names
from modelyard_server.domain.changes import Mutation
from modelyard_server.domain.clock import timestamp
from modelyard_server.domain.errors import FieldViolation, invalid_fields
from modelyard_server.log.chain import LogEntry
from modelyard_server.log.drafts import action_name, action_of


def audit_event(entry: LogEntry) -> pb.AuditEvent:
    event = pb.AuditEvent(
        seq=entry.seq,
        time=timestamp(entry.time_us),
        actor=entry.actor,
        action=action_of(entry.action),
        resource=entry.resource,
        group=names.group_name(entry.group) if entry.group else "",
        version=entry.version,
        reason=entry.reason,
        request_id=entry.request_id,
        prev_hash=entry.prev_hash,
        hash=entry.hash,
    )
    if entry.before is not None:
        _fill(event.before, entry.before)
    if entry.after is not None:
        _fill(event.after, entry.after)
    for item in json.loads(entry.related) if entry.related else ():
        change = event.related.add(resource=item["resource"])
        if item["before"] is not None:
            change.before.update(item["before"])
        if item["after"] is not None:
            change.after.update(item["after"])
    return event


def _fill(target: Struct, snapshot: str) -> None:
    target.update(json.loads(snapshot))


def request_digest(method: str, request: Message) -> str:
    """Returns the fingerprint of a request, without its request_id, for idempotent retries."""
    copy = type(request)()
    copy.CopyFrom(request)
    if "request_id" in copy.DESCRIPTOR.fields_by_name:
        copy.ClearField("request_id")
    return hashlib.sha256(
        method.encode() + b"\x00" + copy.SerializeToString(deterministic=True)
    ).hexdigest()


def mutation(method: str, request: Message, request_id: str, reason: str = "") -> Mutation:
    """Returns the change the current caller asks for with this request."""
    return Mutation(
        principal=current_principal(),
        request_id=request_id,
        request_digest=request_digest(method, request),
        reason=reason,
    )


def action_names(actions: list[pb.Action.ValueType], field: str = "actions") -> list[str]:
    """Returns the log's names of the actions (`STAGE_CHANGED`); INVALID_FIELD for a bad one."""
    found = []
    for i, action in enumerate(actions):
        if action == pb.ACTION_UNSPECIFIED or action not in pb.Action.values():
            raise invalid_fields([FieldViolation(f"{field}[{i}]", f"{action} is not an Action")])
        found.append(action_name(action))
    return found
