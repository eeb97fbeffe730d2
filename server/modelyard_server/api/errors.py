"""The one place where domain errors become gRPC statuses with ErrorInfo and BadRequest."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn, TypeVar

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from modelyard_server.domain.errors import DomainError, ErrorKind

DOMAIN = "modelyard.dev"
log = logging.getLogger("modelyard.api")

CODES: dict[ErrorKind, grpc.StatusCode] = {kind: getattr(grpc.StatusCode, kind.value) for kind in ErrorKind}

R = TypeVar("R")


def status_of(error: DomainError) -> grpc.Status:
    """Returns the rich status of a domain error: code, message, ErrorInfo, BadRequest."""
    code = CODES[error.kind]
    details = []
    info = any_pb2.Any()
    info.Pack(error_details_pb2.ErrorInfo(reason=error.reason, domain=DOMAIN, metadata=error.metadata))
    details.append(info)
    if error.violations:
        bad_request = any_pb2.Any()
        bad_request.Pack(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
                    for v in error.violations
                ]
            )
        )
        details.append(bad_request)
    status = status_pb2.Status(code=code.value[0], message=error.message, details=details)
    return rpc_status.to_status(status)


def internal_status() -> grpc.Status:
    info = any_pb2.Any()
    info.Pack(error_details_pb2.ErrorInfo(reason="INTERNAL_ERROR", domain=DOMAIN))
    status = status_pb2.Status(
        code=code_pb2.INTERNAL,
        message="the server failed to handle the request; it has been logged",
        details=[info],
    )
    return rpc_status.to_status(status)


async def abort(context: grpc.aio.ServicerContext[Any, Any], error: DomainError) -> NoReturn:
    await context.abort_with_status(status_of(error))
    raise AssertionError("unreachable")  # abort_with_status always raises


def rpc(method: Callable[..., Awaitable[R]]) -> Callable[..., Awaitable[R]]:
    """Wraps a unary servicer method: domain errors become their status; faults become a bare INTERNAL."""

    @functools.wraps(method)
    async def wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> R:
        try:
            return await method(self, request, context)
        except DomainError as error:
            await abort(context, error)
        except grpc.aio.AbortError:
            raise
        except Exception:
            log.exception("unhandled error in %s", method.__qualname__)
            await context.abort_with_status(internal_status())
            raise AssertionError("unreachable") from None

    return wrapper
