"""References on the wire: full resource names in and out, ids inside.

Every field that refers to another resource takes and returns its name (AIP-122): a group
is `groups/fraud`, an alias `groups/fraud/aliases/champion`. The domain and the store key
groups and aliases by id, `fraud` and `champion`, and the log keeps snapshots in that form,
so the servicers turn one into the other here, at the edge.
"""

from __future__ import annotations

from collections.abc import Iterable

from google.protobuf.struct_pb2 import Struct
from modelyard.v1 import resources_pb2 as pb
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


def _alias_names(version_name: str, aliases: Iterable[str]) -> list[str]:
    group = version_name.split("/")[1]
    return [names.AliasRef(group, alias).name for alias in aliases]


def version_out(version: pb.ModelVersion) -> pb.ModelVersion:
    """Returns the version as the API shows it: the aliases that point at it by name."""
    if not version.aliases:
        return version
    copy = pb.ModelVersion()
    copy.CopyFrom(version)
    del copy.aliases[:]
    copy.aliases.extend(_alias_names(version.name, version.aliases))
    return copy


def versions_out(versions: Iterable[pb.ModelVersion]) -> list[pb.ModelVersion]:
    return [version_out(v) for v in versions]


def snapshot_out(resource: str, snapshot: Struct) -> None:
    """Names the references in a logged snapshot that the log keeps as ids: a webhook's
    group, a version's aliases."""
    if resource.startswith("webhooks/"):
        group = snapshot.fields.get("group")
        if group is not None and group.string_value:
            snapshot["group"] = group_name(group.string_value)
    elif "/versions/" in resource:
        aliases = snapshot.fields.get("aliases")
        if aliases is not None and aliases.list_value.values:
            ids = [a.string_value for a in aliases.list_value.values]
            snapshot["aliases"] = _alias_names(resource, ids)
