"""The JSON form the CLI prints: proto3 JSON (as grpcurl prints it), made easy to script.

Two changes to ``MessageToDict``'s output, both lossless:

- int64 fields (``seq``, ``version``, ``sizeBytes``, ...) are numbers, not strings, when
  they fit a double exactly (within ±2**53, which every JSON reader handles);
- an audit entry's ``before``/``after`` snapshots, which the log stores with the proto field
  names (``created_by``), are printed in the same lowerCamelCase style as everything else
  (``createdBy``), with their int64s as numbers too.
"""

from __future__ import annotations

from typing import cast

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from modelyard.v1.resources_pb2 import Alias, ApprovalPolicy, AuditEvent, ModelGroup, ModelVersion
from modelyard.v1.webhook_service_pb2 import Webhook

__all__ = ["SAFE_INTEGER", "message_dict", "snapshot_type"]

#: The largest integer a JSON reader that uses doubles (JavaScript, jq) reads exactly.
SAFE_INTEGER = 2**53

_INT64_TYPES = frozenset(
    {
        FieldDescriptor.TYPE_INT64,
        FieldDescriptor.TYPE_UINT64,
        FieldDescriptor.TYPE_SINT64,
        FieldDescriptor.TYPE_FIXED64,
        FieldDescriptor.TYPE_SFIXED64,
    }
)


def message_dict(message: Message) -> dict[str, object]:
    """Returns the JSON form of a message: proto3 JSON with safe int64s as numbers and
    audit snapshots in lowerCamelCase."""
    data = json_format.MessageToDict(message)
    _numbers(cast(Descriptor, message.DESCRIPTOR), data)
    if isinstance(message, AuditEvent):
        _snapshots(message, data)
    return data


def _numbers(descriptor: Descriptor, data: dict[str, object]) -> None:
    """Turns the int64 strings of ``data`` (the JSON form of a ``descriptor`` message) into
    numbers, in place, recursing into messages, lists and maps."""
    for field in descriptor.fields:
        if field.json_name not in data:
            continue
        value = data[field.json_name]
        entry = field.message_type
        if entry is not None and entry.GetOptions().map_entry:
            if isinstance(value, dict):
                item = entry.fields_by_name["value"]
                data[field.json_name] = {k: _value(item, v) for k, v in value.items()}
        elif field.is_repeated and isinstance(value, list):
            data[field.json_name] = [_value(field, v) for v in value]
        else:
            data[field.json_name] = _value(field, value)


def _value(field: FieldDescriptor, value: object) -> object:
    message = field.message_type
    if message is not None:
        # Well-known types (Timestamp, Struct, ...) have JSON forms of their own.
        if isinstance(value, dict) and not message.full_name.startswith("google.protobuf."):
            _numbers(message, value)
        return value
    if field.type in _INT64_TYPES and isinstance(value, str):
        number = int(value)
        return number if -SAFE_INTEGER <= number <= SAFE_INTEGER else value
    return value


def snapshot_type(resource: str) -> type[Message] | None:
    """Returns the message a log snapshot of ``resource`` holds, by the shape of its name
    (None for a resource the CLI does not know)."""
    parts = resource.split("/")
    if parts[0] == "webhooks" and len(parts) == 2:
        return Webhook
    if parts[0] != "groups":
        return None
    if len(parts) == 2:
        return ModelGroup
    if len(parts) == 3 and parts[2] == "approvalPolicy":
        return ApprovalPolicy
    if len(parts) == 4 and parts[2] == "versions":
        return ModelVersion
    if len(parts) == 4 and parts[2] == "aliases":
        return Alias
    return None


def _snapshot(resource: str, snapshot: object) -> object:
    kind = snapshot_type(resource)
    if kind is None or not isinstance(snapshot, dict) or not snapshot:
        return snapshot
    message = kind()
    try:
        json_format.ParseDict(snapshot, message, ignore_unknown_fields=True)
    except json_format.ParseError:
        return snapshot  # not what its name says: print it as the log holds it
    return message_dict(message)


def _snapshots(event: AuditEvent, data: dict[str, object]) -> None:
    for key in ("before", "after"):
        if key in data:
            data[key] = _snapshot(event.resource, data[key])
    related = data.get("related")
    if isinstance(related, list):
        for change, item in zip(event.related, related, strict=True):
            if isinstance(item, dict):
                for key in ("before", "after"):
                    if key in item:
                        item[key] = _snapshot(change.resource, item[key])
