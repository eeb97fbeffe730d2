"""What the server puts in a failed call's trailers: the google.rpc.Status and its details."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import google.rpc.error_details_pb2 as error_details_pb2
import google.rpc.status_pb2 as status_pb2
import grpc


def status_details(error: grpc.RpcError) -> status_pb2.Status:
    """Returns the google.rpc.Status the server put in the error's trailers."""
    trailers = cast(Sequence[tuple[str, bytes]], error.trailing_metadata() or ())
    for key, value in trailers:
        if key == "grpc-status-details-bin":
            return status_pb2.Status.FromString(value)
    raise AssertionError(f"no status details in {error}")


def reason_of(error: grpc.RpcError) -> str:
    """Returns the reason of the error's ErrorInfo, which must be in modelyard's domain."""
    for detail in status_details(error).details:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            assert info.domain == "modelyard.dev"
            return info.reason
    raise AssertionError("no ErrorInfo")


def violations_of(error: grpc.RpcError) -> dict[str, str]:
    """Returns the error's BadRequest field violations, field to description."""
    for detail in status_details(error).details:
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            return {v.field: v.description for v in bad.field_violations}
    return {}
