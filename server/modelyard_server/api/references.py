"""References to groups on the wire: full names in and out, group ids inside.

Every field that refers to a group takes and returns its resource name, `groups/fraud`
(AIP-122). The domain and the store key groups by id, `fraud`, so the servicers turn one
into the other here, at the edge.
"""

from __future__ import annotations

from google.protobuf.struct_pb2 import Struct
from modelyard.v1 import webhook_service_pb2 as ws

from modelyard_server.domain import names
from modelyard_server.domain.errors import FieldViolation, invalid_fields

GROUP_PREFIX = "groups/"


def group_id(name: str, field: str) -> str:
    """Returns the {group} of `groups/{group}`, for the domain to check as an id.

    Raises INVALID_FIELD for anything else; a bare id is told the name to send instead.
    """
    parts = name.split("/")
    if len(parts) == 2 and parts[0] == "groups" and parts[1]:
        return parts[1]
    if names.GROUP_ID.fullmatch(name):
        problem = f"'{name}' is not a group name; send '{GROUP_PREFIX}{name}'"
    else:
        problem = f"'{name}' is not a group name: expected groups/{{group}}"
    raise invalid_fields([FieldViolation(field, problem)])


def optional_group_id(name: str, field: str) -> str:
    """Returns the group id of `name`, or "" when no group is named."""
    return group_id(name, field) if name else ""


def group_name(group: str) -> str:
    """Returns `groups/{group}` for a group id, or "" for none."""
    return names.group_name(group) if group else ""


def webhook_in(webhook: ws.Webhook, *, with_group: bool = True) -> ws.Webhook:
    """Returns a copy of a request's webhook with its group as an id. `with_group=False` leaves
    a group that an update does not set (not in its mask) alone: it is ignored anyway."""
    copy = ws.Webhook()
    copy.CopyFrom(webhook)
    if with_group:
        copy.group = optional_group_id(webhook.group, "webhook.group")
    return copy


def webhook_out(webhook: ws.Webhook) -> ws.Webhook:
    """Returns a copy of the webhook as the API shows it: its group by name."""
    copy = ws.Webhook()
    copy.CopyFrom(webhook)
    copy.group = group_name(webhook.group)
    return copy


def snapshot_out(resource: str, snapshot: Struct) -> None:
    """Names the group in a logged snapshot of a webhook, which the log keeps as an id."""
    group = snapshot.fields.get("group")
    if resource.startswith("webhooks/") and group is not None and group.string_value:
        snapshot["group"] = group_name(group.string_value)
