"""The generated stubs, for requests the SDK would never send and calls made around it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import grpc
from modelyard.v1 import approval_service_pb2 as aps
from modelyard.v1 import (
    approval_service_pb2_grpc,
    artifact_service_pb2_grpc,
    audit_service_pb2_grpc,
    registry_service_pb2_grpc,
    webhook_service_pb2_grpc,
)
from modelyard.v1 import registry_service_pb2 as rs
from modelyard.v1 import resources_pb2 as pb


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    """Returns the call metadata that authenticates as the principal of `token`."""
    return (("authorization", f"Bearer {token}"),)


@dataclass
class Raw:
    """The generated stubs with the admin's metadata: for requests the SDK would never send."""

    channel: grpc.Channel
    registry: registry_service_pb2_grpc.RegistryServiceStub
    audit: audit_service_pb2_grpc.AuditServiceStub
    approval: approval_service_pb2_grpc.ApprovalServiceStub
    webhooks: webhook_service_pb2_grpc.WebhookServiceStub
    metadata: tuple[tuple[str, str], ...]
    artifacts: artifact_service_pb2_grpc.ArtifactServiceStub


@contextmanager
def raw_stubs(address: str, token: str) -> Iterator[Raw]:
    """Yields the stubs on a plain channel to `address`, authenticated with `token`."""
    with grpc.insecure_channel(address) as channel:
        yield Raw(
            channel,
            registry_service_pb2_grpc.RegistryServiceStub(channel),
            audit_service_pb2_grpc.AuditServiceStub(channel),
            approval_service_pb2_grpc.ApprovalServiceStub(channel),
            webhook_service_pb2_grpc.WebhookServiceStub(channel),
            bearer(token),
            artifact_service_pb2_grpc.ArtifactServiceStub(channel),
        )


def move(
    address: str, token: str, name: str, stage: pb.Stage.ValueType, reason: str = ""
) -> pb.ModelVersion:
    """Moves a version to a stage through the generated stub; returns it."""
    with grpc.insecure_channel(address) as channel:
        stub = registry_service_pb2_grpc.RegistryServiceStub(channel)
        reply = stub.TransitionModelVersionStage(
            rs.TransitionModelVersionStageRequest(name=name, stage=stage, reason=reason),
            metadata=bearer(token),
            timeout=30,
        )
    return reply.model_version


def approve(address: str, token: str, name: str) -> pb.ModelVersion:
    """Approves a version through the generated stub, as the principal of `token`."""
    with grpc.insecure_channel(address) as channel:
        stub = approval_service_pb2_grpc.ApprovalServiceStub(channel)
        return stub.ApproveModelVersion(
            aps.ApproveModelVersionRequest(name=name, reason="tested"),
            metadata=bearer(token),
            timeout=30,
        )
