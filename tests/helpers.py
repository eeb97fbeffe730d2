"""Small builders shared by the tests."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import google.rpc.error_details_pb2 as error_details_pb2
import google.rpc.status_pb2 as status_pb2
import grpc
from modelyard import Registry
from modelyard.v1 import (
    approval_service_pb2_grpc,
    audit_service_pb2_grpc,
    registry_service_pb2_grpc,
)
from modelyard.v1 import resources_pb2 as pb


@dataclass
class Raw:
    """The generated stubs with the admin's metadata: for requests the SDK would never send."""

    channel: grpc.Channel
    registry: registry_service_pb2_grpc.RegistryServiceStub
    audit: audit_service_pb2_grpc.AuditServiceStub
    approval: approval_service_pb2_grpc.ApprovalServiceStub
    metadata: tuple[tuple[str, str], ...]


def status_details(error: grpc.RpcError) -> status_pb2.Status:
    """Returns the google.rpc.Status the server put in the error's trailers."""
    trailers = cast(Sequence[tuple[str, bytes]], error.trailing_metadata() or ())
    for key, value in trailers:
        if key == "grpc-status-details-bin":
            return status_pb2.Status.FromString(value)
    raise AssertionError(f"no status details in {error}")


def reason_of(error: grpc.RpcError) -> str:
    for detail in status_details(error).details:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            assert info.domain == "modelyard.dev"
            return info.reason
    raise AssertionError("no ErrorInfo")


def violations_of(error: grpc.RpcError) -> dict[str, str]:
    for detail in status_details(error).details:
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            return {v.field: v.description for v in bad.field_violations}
    return {}


def sha(seed: object | None = None) -> str:
    """A SHA-256 digest, unique unless the same seed is given twice."""
    return hashlib.sha256(str(seed if seed is not None else uuid.uuid4()).encode()).hexdigest()


def register(registry: Registry, group: str, **fields: object) -> pb.ModelVersion:
    """Registers a version with a fresh artifact; fields override the defaults."""
    args: dict[str, object] = {
        "uri": f"s3://models/{group}/{uuid.uuid4().hex}.onnx",
        "sha256": sha(),
    }
    args.update(fields)
    return registry.register(group, **args)  # type: ignore[arg-type]
