"""Request messages built from the SDK's Python arguments, shared by the sync and async clients.

Everything here is pure: no channel, no I/O. Mutating requests get a fresh ``request_id``
when the caller gives none, so the transport may retry them safely.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TypeAlias, TypeVar

from google.protobuf import duration_pb2, field_mask_pb2, timestamp_pb2

from modelyard import _views, types
from modelyard._views import proto_of
from modelyard.names import (
    GROUP_PREFIX,
    alias_name,
    delivery_name,
    group_name,
    optional_group_name,
    policy_name,
    token_name,
    version_name,
    webhook_name,
)
from modelyard.v1 import (
    approval_service_pb2,
    audit_service_pb2,
    registry_service_pb2,
    resources_pb2,
    retention_service_pb2,
    token_service_pb2,
    webhook_service_pb2,
)

# A plain int is accepted too: enums kept in int-typed variables or tables are ints to mypy.
ArtifactFormatLike: TypeAlias = "types.ArtifactFormat | int | str"
ActionLike: TypeAlias = "types.Action | int | str"
StageLike: TypeAlias = "types.Stage | int | str"
DeliveryStateLike: TypeAlias = "types.DeliveryState | int | str"
ModelGroupLike: TypeAlias = "types.ModelGroup | resources_pb2.ModelGroup"
ModelVersionLike: TypeAlias = "types.ModelVersion | resources_pb2.ModelVersion"
ApprovalPolicyLike: TypeAlias = "types.ApprovalPolicy | resources_pb2.ApprovalPolicy"
RetentionPolicyLike: TypeAlias = "types.RetentionPolicy | retention_service_pb2.RetentionPolicy"
WebhookLike: TypeAlias = "types.Webhook | webhook_service_pb2.Webhook"
EnumT = TypeVar("EnumT", bound=_views.Enum)
ListRequestT = TypeVar(
    "ListRequestT",
    registry_service_pb2.ListModelGroupsRequest,
    registry_service_pb2.ListModelVersionsRequest,
    registry_service_pb2.ListAliasesRequest,
    approval_service_pb2.ListApprovalsRequest,
    audit_service_pb2.ListAuditEventsRequest,
    webhook_service_pb2.ListWebhooksRequest,
    webhook_service_pb2.ListWebhookDeliveriesRequest,
    token_service_pb2.ListTokensRequest,
)


#: The most versions a group's policy may keep in production at once (A/B), so one page
#: of a production list holds them all.
PRODUCTION_PAGE = 10
PRODUCTION_FILTER = "stage = PRODUCTION"
APPROVED_FILTER = "approval_status = APPROVED"
_VERSION_SEPARATOR = "/versions/"


def request_id(given: str | None) -> str:
    """Returns the caller's request_id, or a new random one."""
    return given if given else str(uuid.uuid4())


def _member(enum: type[EnumT], value: int | str, what: str) -> EnumT:
    if isinstance(value, int):
        return enum(value)  # an unknown number is the server's to refuse
    try:
        return enum.parse(value)
    except ValueError:
        raise ValueError(
            f"unknown {what} {value!r}; use one of: {', '.join(enum.choices())}"
        ) from None


def artifact_format(value: ArtifactFormatLike) -> resources_pb2.ArtifactFormat.ValueType:
    """Returns the ArtifactFormat for a member, a number or a name such as ``"onnx"``."""
    return resources_pb2.ArtifactFormat.ValueType(_member(types.ArtifactFormat, value, "format"))


def action(value: ActionLike) -> resources_pb2.Action.ValueType:
    """Returns the Action for a member, a number or a name such as ``"model_group_created"``."""
    return resources_pb2.Action.ValueType(_member(types.Action, value, "action"))


def stage(value: StageLike) -> resources_pb2.Stage.ValueType:
    """Returns the Stage for a member, a number or a name such as ``"staging"``."""
    return resources_pb2.Stage.ValueType(_member(types.Stage, value, "stage"))


def delivery_state(value: DeliveryStateLike) -> webhook_service_pb2.DeliveryState.ValueType:
    """Returns the DeliveryState for a member, a number or a name such as ``"failed"``."""
    return webhook_service_pb2.DeliveryState.ValueType(_member(types.DeliveryState, value, "state"))


def _timestamp(value: datetime | None, what: str) -> timestamp_pb2.Timestamp | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError(
            f"{what} must be timezone-aware, e.g. datetime.now(timezone.utc); "
            "a naive datetime is ambiguous"
        )
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(value)
    return stamp


def create_group(
    group_id: str,
    *,
    description: str,
    tags: Mapping[str, str] | None,
    request_id_: str | None,
) -> registry_service_pb2.CreateModelGroupRequest:
    return registry_service_pb2.CreateModelGroupRequest(
        model_group_id=group_id.removeprefix(GROUP_PREFIX),
        model_group=resources_pb2.ModelGroup(description=description, tags=dict(tags or {})),
        request_id=request_id(request_id_),
    )


def get_group(group: str) -> registry_service_pb2.GetModelGroupRequest:
    return registry_service_pb2.GetModelGroupRequest(name=group_name(group))


def list_groups(
    *, filter: str, order_by: str, page_size: int
) -> registry_service_pb2.ListModelGroupsRequest:
    return registry_service_pb2.ListModelGroupsRequest(
        filter=filter, order_by=order_by, page_size=page_size
    )


def update_group(
    group: ModelGroupLike, *, update_mask: Sequence[str], request_id_: str | None
) -> registry_service_pb2.UpdateModelGroupRequest:
    sent = resources_pb2.ModelGroup()
    sent.CopyFrom(proto_of(group))  # the caller's message stays as it was
    sent.name = group_name(sent.name)
    return registry_service_pb2.UpdateModelGroupRequest(
        model_group=sent,
        update_mask=_mask(update_mask),
        request_id=request_id(request_id_),
    )


def delete_group(
    group: str, *, etag: str, force: bool, request_id_: str | None
) -> registry_service_pb2.DeleteModelGroupRequest:
    return registry_service_pb2.DeleteModelGroupRequest(
        name=group_name(group), etag=etag, force=force, request_id=request_id(request_id_)
    )


def _mask(paths: Sequence[str]) -> field_mask_pb2.FieldMask:
    if isinstance(paths, str):
        # A lone string would otherwise become one path per character.
        raise TypeError(f"update_mask must be a list of paths, e.g. [{paths!r}]")
    if not paths:
        raise ValueError("update_mask must name at least one field, e.g. ['description']")
    return field_mask_pb2.FieldMask(paths=list(paths))


def create_version(
    group: str, version: ModelVersionLike, *, request_id_: str | None
) -> registry_service_pb2.CreateModelVersionRequest:
    return registry_service_pb2.CreateModelVersionRequest(
        parent=group_name(group),
        model_version=proto_of(version),
        request_id=request_id(request_id_),
    )


def new_version(
    *,
    uri: str,
    sha256: str,
    size_bytes: int,
    format: ArtifactFormatLike,
    framework: str,
    framework_version: str,
    metrics: Mapping[str, float] | None,
    hyperparameters: Mapping[str, str] | None,
    tags: Mapping[str, str] | None,
    description: str,
    inference_image: str,
    lineage: types.Lineage | resources_pb2.Lineage | None,
    model_card: types.ModelCard | resources_pb2.ModelCard | None,
    schema: types.ModelSchema | resources_pb2.ModelSchema | None,
) -> resources_pb2.ModelVersion:
    """Returns the ModelVersion that ``Registry.register`` sends."""
    return resources_pb2.ModelVersion(
        artifact=resources_pb2.Artifact(
            uri=uri,
            sha256=sha256,
            size_bytes=size_bytes,
            format=artifact_format(format),
            framework=framework,
            framework_version=framework_version,
        ),
        inference_image=inference_image,
        metrics=dict(metrics or {}),
        hyperparameters=dict(hyperparameters or {}),
        tags=dict(tags or {}),
        lineage=None if lineage is None else proto_of(lineage),
        model_card=None if model_card is None else proto_of(model_card),
        schema=None if schema is None else proto_of(schema),
        description=description,
    )


def get_version(
    group_or_name: str, version: int | str | None
) -> registry_service_pb2.GetModelVersionRequest:
    return registry_service_pb2.GetModelVersionRequest(name=version_name(group_or_name, version))


def compare_schemas(base: str, candidate: str) -> registry_service_pb2.CompareSchemasRequest:
    return registry_service_pb2.CompareSchemasRequest(base=base, candidate=candidate)


def list_versions(
    group: str, *, filter: str, order_by: str, page_size: int
) -> registry_service_pb2.ListModelVersionsRequest:
    return registry_service_pb2.ListModelVersionsRequest(
        parent=group_name(group), filter=filter, order_by=order_by, page_size=page_size
    )


def update_version(
    version: ModelVersionLike, *, update_mask: Sequence[str], request_id_: str | None
) -> registry_service_pb2.UpdateModelVersionRequest:
    sent = resources_pb2.ModelVersion()
    sent.CopyFrom(proto_of(version))  # the caller's message stays as it was
    sent.name = version_name(sent.name)
    return registry_service_pb2.UpdateModelVersionRequest(
        model_version=sent, update_mask=_mask(update_mask), request_id=request_id(request_id_)
    )


def set_tag(
    group_or_name: str, version: int | str | None, key: str, value: str, request_id_: str | None
) -> registry_service_pb2.UpdateModelVersionRequest:
    if not key:
        raise ValueError("a tag key is required")
    return update_version(
        resources_pb2.ModelVersion(name=version_name(group_or_name, version), tags={key: value}),
        update_mask=[f"tags.{key}"],
        request_id_=request_id_,
    )


def delete_version(
    group_or_name: str,
    version: int | str | None,
    *,
    etag: str,
    request_id_: str | None,
    force: bool = False,
    reason: str = "",
) -> registry_service_pb2.DeleteModelVersionRequest:
    return registry_service_pb2.DeleteModelVersionRequest(
        name=version_name(group_or_name, version),
        etag=etag,
        request_id=request_id(request_id_),
        force=force,
        reason=reason,
    )


def list_dependents(
    group_or_name: str, version: int | str | None
) -> registry_service_pb2.ListDependentsRequest:
    return registry_service_pb2.ListDependentsRequest(name=version_name(group_or_name, version))


_RETENTION_POLICY = "/retentionPolicy"


def retention_policy_name(group: str | None) -> str:
    """Returns ``groups/{group}/retentionPolicy`` for a group id, a group's name or the
    policy's own name; None or ``"-"`` names the tenant's default."""
    if group is None or group in ("-", "groups/-"):
        return "groups/-" + _RETENTION_POLICY
    if group.endswith(_RETENTION_POLICY):
        return group
    return group_name(group) + _RETENTION_POLICY


def get_retention_policy(group: str | None) -> retention_service_pb2.GetRetentionPolicyRequest:
    return retention_service_pb2.GetRetentionPolicyRequest(name=retention_policy_name(group))


def update_retention_policy(
    policy: RetentionPolicyLike, *, update_mask: Sequence[str], request_id_: str | None
) -> retention_service_pb2.UpdateRetentionPolicyRequest:
    sent = retention_service_pb2.RetentionPolicy()
    sent.CopyFrom(proto_of(policy))  # the caller's message stays as it was
    sent.name = retention_policy_name(sent.name or None)
    return retention_service_pb2.UpdateRetentionPolicyRequest(
        retention_policy=sent, update_mask=_mask(update_mask), request_id=request_id(request_id_)
    )


def set_legal_hold(
    group_or_name: str, version: int | str | None, *, reason: str, request_id_: str | None
) -> retention_service_pb2.SetLegalHoldRequest:
    return retention_service_pb2.SetLegalHoldRequest(
        name=version_name(group_or_name, version),
        reason=reason,
        request_id=request_id(request_id_),
    )


def clear_legal_hold(
    group_or_name: str, version: int | str | None, *, reason: str, request_id_: str | None
) -> retention_service_pb2.ClearLegalHoldRequest:
    return retention_service_pb2.ClearLegalHoldRequest(
        name=version_name(group_or_name, version),
        reason=reason,
        request_id=request_id(request_id_),
    )


def approve(
    group_or_name: str,
    version: int | str | None,
    *,
    reason: str,
    etag: str,
    request_id_: str | None,
) -> approval_service_pb2.ApproveModelVersionRequest:
    return approval_service_pb2.ApproveModelVersionRequest(
        name=version_name(group_or_name, version),
        reason=reason,
        etag=etag,
        request_id=request_id(request_id_),
    )


def reject(
    group_or_name: str,
    version: int | str | None,
    *,
    reason: str,
    etag: str,
    request_id_: str | None,
    force: bool = False,
) -> approval_service_pb2.RejectModelVersionRequest:
    return approval_service_pb2.RejectModelVersionRequest(
        name=version_name(group_or_name, version),
        reason=reason,
        etag=etag,
        request_id=request_id(request_id_),
        force=force,
    )


def list_approvals(
    group_or_name: str, version: int | str | None, *, page_size: int
) -> approval_service_pb2.ListApprovalsRequest:
    if version is None and _VERSION_SEPARATOR not in group_or_name:
        parent = group_name(group_or_name)
    else:
        parent = version_name(group_or_name, version)
    return approval_service_pb2.ListApprovalsRequest(parent=parent, page_size=page_size)


def get_approval_policy(group: str) -> approval_service_pb2.GetApprovalPolicyRequest:
    return approval_service_pb2.GetApprovalPolicyRequest(name=policy_name(group))


def update_approval_policy(
    policy: ApprovalPolicyLike, *, update_mask: Sequence[str], request_id_: str | None
) -> approval_service_pb2.UpdateApprovalPolicyRequest:
    sent = resources_pb2.ApprovalPolicy()
    sent.CopyFrom(proto_of(policy))  # the caller's message stays as it was
    sent.name = policy_name(sent.name)
    return approval_service_pb2.UpdateApprovalPolicyRequest(
        approval_policy=sent, update_mask=_mask(update_mask), request_id=request_id(request_id_)
    )


def transition(
    name: str,
    to: StageLike,
    *,
    reason: str,
    keep_existing_production: bool,
    etag: str,
    request_id_: str | None,
    force: bool = False,
) -> registry_service_pb2.TransitionModelVersionStageRequest:
    return registry_service_pb2.TransitionModelVersionStageRequest(
        name=version_name(name),
        stage=stage(to),
        reason=reason,
        keep_existing_production=keep_existing_production,
        etag=etag,
        request_id=request_id(request_id_),
        force=force,
    )


def _version_of(group: str, version: int | str) -> str:
    """Returns the name of one of the group's versions, given its number or its name."""
    if isinstance(version, str) and _VERSION_SEPARATOR in version:
        return version
    return version_name(group, version)


def rollback(
    group: str, *, to: int | str | None, reason: str, request_id_: str | None
) -> registry_service_pb2.RollbackProductionRequest:
    return registry_service_pb2.RollbackProductionRequest(
        group=group_name(group),
        target_version="" if to is None else _version_of(group, to),
        reason=reason,
        request_id=request_id(request_id_),
    )


def set_alias(
    group: str, alias: str, version: int | str, *, etag: str, request_id_: str | None
) -> registry_service_pb2.SetAliasRequest:
    return registry_service_pb2.SetAliasRequest(
        alias=resources_pb2.Alias(
            name=alias_name(group, alias), version=_version_of(group, version), etag=etag
        ),
        request_id=request_id(request_id_),
    )


def get_alias(group_or_name: str, alias: str | None) -> registry_service_pb2.GetAliasRequest:
    return registry_service_pb2.GetAliasRequest(name=alias_name(group_or_name, alias))


def list_aliases(group: str, *, page_size: int) -> registry_service_pb2.ListAliasesRequest:
    return registry_service_pb2.ListAliasesRequest(parent=group_name(group), page_size=page_size)


def delete_alias(
    group_or_name: str, alias: str | None, *, etag: str, request_id_: str | None
) -> registry_service_pb2.DeleteAliasRequest:
    return registry_service_pb2.DeleteAliasRequest(
        name=alias_name(group_or_name, alias), etag=etag, request_id=request_id(request_id_)
    )


def version_by_alias(
    group_or_name: str, alias: str | None
) -> registry_service_pb2.GetModelVersionRequest:
    return registry_service_pb2.GetModelVersionRequest(name=alias_name(group_or_name, alias))


def most_recently_promoted(
    versions: Iterable[types.ModelVersion],
) -> list[types.ModelVersion]:
    """Returns production versions, the one that entered production last first."""
    return sorted(
        versions, key=lambda v: (v.proto.stage_time.ToNanoseconds(), v.version), reverse=True
    )


def list_audit_events(
    *,
    resource: str,
    actor: str,
    actions: Iterable[ActionLike],
    start_time: datetime | None,
    end_time: datetime | None,
    newest_first: bool,
    page_size: int,
) -> audit_service_pb2.ListAuditEventsRequest:
    if isinstance(actions, str):
        raise TypeError(f"actions must be a list, e.g. [{actions!r}]")
    return audit_service_pb2.ListAuditEventsRequest(
        resource=resource,
        actor=actor,
        actions=[action(a) for a in actions],
        start_time=_timestamp(start_time, "start_time"),
        end_time=_timestamp(end_time, "end_time"),
        newest_first=newest_first,
        page_size=page_size,
    )


def create_webhook(
    url: str,
    *,
    secret: str,
    group: str,
    actions: Iterable[ActionLike],
    description: str,
    request_id_: str | None,
) -> webhook_service_pb2.CreateWebhookRequest:
    if isinstance(actions, str):
        raise TypeError(f"actions must be a list, e.g. [{actions!r}]")
    return webhook_service_pb2.CreateWebhookRequest(
        webhook=webhook_service_pb2.Webhook(
            url=url,
            secret=secret,
            group=optional_group_name(group),
            actions=[action(a) for a in actions],
            description=description,
        ),
        request_id=request_id(request_id_),
    )


def get_webhook(webhook: str) -> webhook_service_pb2.GetWebhookRequest:
    return webhook_service_pb2.GetWebhookRequest(name=webhook_name(webhook))


def list_webhooks(*, group: str, page_size: int) -> webhook_service_pb2.ListWebhooksRequest:
    return webhook_service_pb2.ListWebhooksRequest(
        group=optional_group_name(group), page_size=page_size
    )


def update_webhook(
    webhook: WebhookLike, *, update_mask: Sequence[str], request_id_: str | None
) -> webhook_service_pb2.UpdateWebhookRequest:
    sent = webhook_service_pb2.Webhook()
    sent.CopyFrom(proto_of(webhook))  # the caller's message stays as it was
    sent.name = webhook_name(sent.name)
    sent.group = optional_group_name(sent.group)
    return webhook_service_pb2.UpdateWebhookRequest(
        webhook=sent, update_mask=_mask(update_mask), request_id=request_id(request_id_)
    )


def delete_webhook(
    webhook: str, *, etag: str, request_id_: str | None
) -> webhook_service_pb2.DeleteWebhookRequest:
    return webhook_service_pb2.DeleteWebhookRequest(
        name=webhook_name(webhook), etag=etag, request_id=request_id(request_id_)
    )


def list_webhook_deliveries(
    webhook: str, *, state: DeliveryStateLike, page_size: int
) -> webhook_service_pb2.ListWebhookDeliveriesRequest:
    unspecified = webhook_service_pb2.DELIVERY_STATE_UNSPECIFIED
    return webhook_service_pb2.ListWebhookDeliveriesRequest(
        parent=webhook_name(webhook),
        state=unspecified if state in (unspecified, "", "all") else delivery_state(state),
        page_size=page_size,
    )


def redeliver(
    webhook_or_name: str, seq: int | None
) -> webhook_service_pb2.RedeliverWebhookDeliveryRequest:
    return webhook_service_pb2.RedeliverWebhookDeliveryRequest(
        name=delivery_name(webhook_or_name, seq)
    )


def page_after(request: ListRequestT, token: str) -> ListRequestT:
    """Returns a copy of a List request that asks for the page ``token`` points at."""
    following = type(request)()
    following.CopyFrom(request)
    following.page_token = token
    return following


def create_token(
    subject: str, *, roles: Sequence[str], expires: datetime | timedelta | None
) -> token_service_pb2.CreateTokenRequest:
    if isinstance(roles, str):
        raise TypeError(f"roles must be a list, e.g. [{roles!r}]")
    request = token_service_pb2.CreateTokenRequest(
        token=token_service_pb2.Token(subject=subject, roles=list(roles))
    )
    if isinstance(expires, timedelta):
        request.ttl.CopyFrom(duration_pb2.Duration(seconds=int(expires.total_seconds())))
    elif expires is not None:
        stamp = _timestamp(expires, "expires")
        assert stamp is not None
        request.token.expire_time.CopyFrom(stamp)
    return request


def list_tokens(*, page_size: int) -> token_service_pb2.ListTokensRequest:
    return token_service_pb2.ListTokensRequest(page_size=page_size)


def revoke_token(token: str) -> token_service_pb2.RevokeTokenRequest:
    return token_service_pb2.RevokeTokenRequest(name=token_name(token))
