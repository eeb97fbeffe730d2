"""A retried request_id answers exactly as the first call did, and writes nothing more.

Every mutating RPC is called twice with one request_id, as the SDK does when the first
answer is lost: both replies must be equal, and the log must hold one entry for the id.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
import pytest
from google.protobuf import field_mask_pb2
from google.protobuf.message import Message
from modelyard.v1 import approval_service_pb2 as aps
from modelyard.v1 import audit_service_pb2 as aus
from modelyard.v1 import registry_service_pb2 as rs
from modelyard.v1 import resources_pb2 as pb
from modelyard.v1 import webhook_service_pb2 as ws
from modelyard.v1 import webhook_service_pb2_grpc as ws_grpc

from tests.support.stubs import Raw
from tests.support.versions import sha

M = TypeVar("M", bound=Message)


@dataclass
class Calls:
    """Raw stubs with the admin's metadata, and small builders of the state a case needs."""

    raw: Raw
    group: str

    def __post_init__(self) -> None:
        self.webhooks = ws_grpc.WebhookServiceStub(self.raw.channel)

    def call(self, method: Callable[..., Any], request: Message) -> Any:
        return method(request, metadata=self.raw.metadata, timeout=30)

    def typed(self, kind: type[M], method: Callable[..., Any], request: Message) -> M:
        reply = self.call(method, request)
        assert isinstance(reply, kind)
        return reply

    @property
    def group_name(self) -> str:
        return f"groups/{self.group}"

    def create_group(self) -> pb.ModelGroup:
        request = rs.CreateModelGroupRequest(model_group_id=self.group)
        return self.typed(pb.ModelGroup, self.raw.registry.CreateModelGroup, request)

    def register(self) -> pb.ModelVersion:
        version = pb.ModelVersion(artifact=pb.Artifact(uri="s3://models/m.onnx", sha256=sha()))
        request = rs.CreateModelVersionRequest(parent=self.group_name, model_version=version)
        return self.typed(pb.ModelVersion, self.raw.registry.CreateModelVersion, request)

    def allow_self_approval(self) -> None:
        policy = pb.ApprovalPolicy(
            name=f"{self.group_name}/approvalPolicy", allow_self_approval=True
        )
        request = aps.UpdateApprovalPolicyRequest(
            approval_policy=policy,
            update_mask=field_mask_pb2.FieldMask(paths=["allow_self_approval"]),
        )
        self.call(self.raw.approval.UpdateApprovalPolicy, request)

    def approved(self) -> pb.ModelVersion:
        version = self.register()
        request = aps.ApproveModelVersionRequest(name=version.name)
        return self.typed(pb.ModelVersion, self.raw.approval.ApproveModelVersion, request)

    def promote(self, name: str) -> None:
        for stage in (pb.STAGE_STAGING, pb.STAGE_PRODUCTION):
            request = rs.TransitionModelVersionStageRequest(name=name, stage=stage)
            self.call(self.raw.registry.TransitionModelVersionStage, request)

    def set_alias(self, alias: str, version: str) -> pb.Alias:
        request = rs.SetAliasRequest(
            alias=pb.Alias(name=f"{self.group_name}/aliases/{alias}", version=version)
        )
        return self.typed(pb.Alias, self.raw.registry.SetAlias, request)

    def webhook(self) -> ws.Webhook:
        hook = ws.Webhook(url="http://127.0.0.1:9/hook", secret="s" * 32, group=self.group_name)
        request = ws.CreateWebhookRequest(webhook=hook)
        return self.typed(ws.Webhook, self.webhooks.CreateWebhook, request)


# Each case prepares what its RPC needs and returns the stub method and the request.
Case = Callable[[Calls], tuple[Callable[..., Any], Message]]


def create_group(c: Calls) -> tuple[Callable[..., Any], Message]:
    return c.raw.registry.CreateModelGroup, rs.CreateModelGroupRequest(model_group_id=c.group)


def update_group(c: Calls) -> tuple[Callable[..., Any], Message]:
    c.create_group()
    patch = pb.ModelGroup(name=c.group_name, description="fraud scores")
    mask = field_mask_pb2.FieldMask(paths=["description"])
    return c.raw.registry.UpdateModelGroup, rs.UpdateModelGroupRequest(
        model_group=patch, update_mask=mask
    )


def delete_group(c: Calls) -> tuple[Callable[..., Any], Message]:
    c.create_group()
    return c.raw.registry.DeleteModelGroup, rs.DeleteModelGroupRequest(name=c.group_name)


def create_version(c: Calls) -> tuple[Callable[..., Any], Message]:
    c.create_group()
    version = pb.ModelVersion(artifact=pb.Artifact(uri="s3://models/m.onnx", sha256=sha()))
    return c.raw.registry.CreateModelVersion, rs.CreateModelVersionRequest(
        parent=c.group_name, model_version=version
    )


def update_version(c: Calls) -> tuple[Callable[..., Any], Message]:
    c.create_group()
    version = c.register()
    patch = pb.ModelVersion(name=version.name, tags={"team": "risk"})
    mask = field_mask_pb2.FieldMask(paths=["tags.team"])
    return c.raw.registry.UpdateModelVersion, rs.UpdateModelVersionRequest(
        model_version=patch, update_mask=mask
    )


def delete_version(c: Calls) -> tuple[Callable[..., Any], Message]:
    c.create_group()
    version = c.register()
    return c.raw.registry.DeleteModelVersion, rs.DeleteModelVersionRequest(name=version.name)


def promote(c: Calls) -> tuple[Callable[..., Any], Message]:
    """A promotion that archives the version it replaces: the reply lists it."""
    c.create_group()
    c.allow_self_approval()
    c.promote(c.approved().name)
    second = c.approved()
    c.call(
        c.raw.registry.TransitionModelVersionStage,
        rs.TransitionModelVersionStageRequest(name=second.name, stage=pb.STAGE_STAGING),
    )
    return c.raw.registry.TransitionModelVersionStage, rs.TransitionModelVersionStageRequest(
        name=second.name, stage=pb.STAGE_PRODUCTION
    )


def rollback(c: Calls) -> tuple[Callable[..., Any], Message]:
    c.create_group()
    c.allow_self_approval()
    c.promote(c.approved().name)
    c.promote(c.approved().name)
    return c.raw.registry.RollbackProduction, rs.RollbackProductionRequest(group=c.group_name)


def set_alias(c: Calls) -> tuple[Callable[..., Any], Message]:
    """Moving an alias: the reply is the alias, the log entry relabels both versions."""
    c.create_group()
    c.set_alias("champion", c.register().name)
    target = c.register()
    alias = pb.Alias(name=f"{c.group_name}/aliases/champion", version=target.name)
    return c.raw.registry.SetAlias, rs.SetAliasRequest(alias=alias)


def delete_alias(c: Calls) -> tuple[Callable[..., Any], Message]:
    c.create_group()
    alias = c.set_alias("champion", c.register().name)
    return c.raw.registry.DeleteAlias, rs.DeleteAliasRequest(name=alias.name)


def approve(c: Calls) -> tuple[Callable[..., Any], Message]:
    c.create_group()
    c.allow_self_approval()
    version = c.register()
    return c.raw.approval.ApproveModelVersion, aps.ApproveModelVersionRequest(
        name=version.name, reason="looks good"
    )


def reject(c: Calls) -> tuple[Callable[..., Any], Message]:
    """Rejecting the production version also brings back the one before it."""
    c.create_group()
    c.allow_self_approval()
    c.promote(c.approved().name)
    current = c.approved()
    c.promote(current.name)
    return c.raw.approval.RejectModelVersion, aps.RejectModelVersionRequest(
        name=current.name, reason="drifted"
    )


def update_policy(c: Calls) -> tuple[Callable[..., Any], Message]:
    c.create_group()
    policy = pb.ApprovalPolicy(name=f"{c.group_name}/approvalPolicy", required_approvals=2)
    mask = field_mask_pb2.FieldMask(paths=["required_approvals"])
    return c.raw.approval.UpdateApprovalPolicy, aps.UpdateApprovalPolicyRequest(
        approval_policy=policy, update_mask=mask
    )


def create_webhook(c: Calls) -> tuple[Callable[..., Any], Message]:
    c.create_group()
    hook = ws.Webhook(url="http://127.0.0.1:9/hook", secret="s" * 32, group=c.group_name)
    return c.webhooks.CreateWebhook, ws.CreateWebhookRequest(webhook=hook)


def update_webhook(c: Calls) -> tuple[Callable[..., Any], Message]:
    c.create_group()
    hook = c.webhook()
    patch = ws.Webhook(name=hook.name, description="deployer")
    mask = field_mask_pb2.FieldMask(paths=["description"])
    return c.webhooks.UpdateWebhook, ws.UpdateWebhookRequest(webhook=patch, update_mask=mask)


def delete_webhook(c: Calls) -> tuple[Callable[..., Any], Message]:
    c.create_group()
    hook = c.webhook()
    return c.webhooks.DeleteWebhook, ws.DeleteWebhookRequest(name=hook.name)


CASES: list[Case] = [
    create_group,
    update_group,
    delete_group,
    create_version,
    update_version,
    delete_version,
    promote,
    rollback,
    set_alias,
    delete_alias,
    approve,
    reject,
    update_policy,
    create_webhook,
    update_webhook,
    delete_webhook,
]


def entries_with(raw: Raw, request_id: str) -> list[pb.AuditEvent]:
    request = aus.ListAuditEventsRequest(newest_first=True, page_size=200)
    events = raw.audit.ListAuditEvents(request, metadata=raw.metadata, timeout=30).audit_events
    return [e for e in events if e.request_id == request_id]


@pytest.mark.parametrize("case", CASES, ids=[c.__name__ for c in CASES])
def test_a_retried_request_id_gets_the_first_reply_and_writes_nothing(
    raw: Raw, unique_group: str, case: Case
) -> None:
    calls = Calls(raw, unique_group)
    method, request = case(calls)
    request_id = f"retry-{uuid.uuid4().hex}"
    request.request_id = request_id  # type: ignore[attr-defined]
    first = calls.call(method, request)
    again = calls.call(method, request)
    assert again == first
    assert len(entries_with(raw, request_id)) == 1


def test_a_promotion_replayed_still_names_the_version_it_archived(
    raw: Raw, unique_group: str
) -> None:
    calls = Calls(raw, unique_group)
    method, request = promote(calls)
    request.request_id = "promote-once"  # type: ignore[attr-defined]
    first = calls.call(method, request)
    again = calls.call(method, request)
    assert [v.name for v in first.archived_versions] == [f"groups/{unique_group}/versions/1"]
    assert [v.name for v in again.archived_versions] == [f"groups/{unique_group}/versions/1"]


def test_a_request_id_reused_for_another_request_is_refused(raw: Raw, unique_group: str) -> None:
    calls = Calls(raw, unique_group)
    calls.create_group()
    first = rs.CreateModelVersionRequest(
        parent=calls.group_name,
        model_version=pb.ModelVersion(artifact=pb.Artifact(uri="s3://m/a", sha256=sha())),
        request_id="one-id",
    )
    calls.call(raw.registry.CreateModelVersion, first)
    other = rs.CreateModelVersionRequest()
    other.CopyFrom(first)
    other.model_version.artifact.sha256 = sha()
    with pytest.raises(grpc.RpcError) as refused:
        calls.call(raw.registry.CreateModelVersion, other)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "already used for a different request" in (refused.value.details() or "")
