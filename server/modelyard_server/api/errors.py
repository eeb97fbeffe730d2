"""The one place where domain errors become gRPC statuses with ErrorInfo and BadRequest."""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

import google.rpc.code_pb2 as code_pb2
import google.rpc.error_details_pb2 as error_details_pb2
import google.rpc.status_pb2 as status_pb2
import grpc
from google.protobuf import any_pb2
from modelyard.v1 import errors_pb2 as reasons

from modelyard_server.domain.errors import DomainError, ErrorKind, InvalidArgument
from modelyard_server.domain.validation import check_no_nul

DOMAIN = "modelyard.dev"
log = logging.getLogger("modelyard.api")

CODES: dict[ErrorKind, grpc.StatusCode] = {
    kind: getattr(grpc.StatusCode, kind.value) for kind in ErrorKind
}

R = TypeVar("R")


# The status travels in trailers, which a client refuses above 8 KiB (grpc's default
# max_metadata_size), in the message once as grpc-message (percent-encoded: a non-ASCII byte
# takes three) and again in grpc-status-details-bin (base64). Messages quote what the caller
# sent, which may be a 70 000-character name: clipped to these budgets, in UTF-8 bytes, the
# trailers stay under 7 KiB, so the caller gets the error rather than RESOURCE_EXHAUSTED.
MAX_MESSAGE_BYTES = 512
MAX_FIELD_BYTES = 128
MAX_DESCRIPTION_BYTES = 160
MAX_METADATA_BYTES = 256
MAX_VIOLATIONS = 8


def clip(text: str, limit: int) -> str:
    """Returns the text, cut to at most `limit` UTF-8 bytes with '…' where it was cut."""
    if len(text.encode()) <= limit:
        return text
    return text.encode()[: limit - 3].decode(errors="ignore") + "…"


def status_of(error: DomainError) -> status_pb2.Status:
    """Returns the rich status of a domain error: code, message, ErrorInfo, BadRequest."""
    code = CODES[error.kind]
    details = []
    info = any_pb2.Any()
    metadata = {
        clip(key, MAX_METADATA_BYTES): clip(value, MAX_METADATA_BYTES)
        for key, value in error.metadata.items()
    }
    info.Pack(
        error_details_pb2.ErrorInfo(reason=error.reason_name, domain=DOMAIN, metadata=metadata)
    )
    details.append(info)
    if error.violations:
        bad_request = any_pb2.Any()
        bad_request.Pack(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(
                        field=clip(v.field, MAX_FIELD_BYTES),
                        description=clip(v.description, MAX_DESCRIPTION_BYTES),
                    )
                    for v in error.violations[:MAX_VIOLATIONS]
                ]
            )
        )
        details.append(bad_request)
    message = clip(error.message, MAX_MESSAGE_BYTES)
    return status_pb2.Status(code=code.value[0], message=message, details=details)


def internal_status() -> status_pb2.Status:
    info = any_pb2.Any()
    reason = reasons.ErrorReason.Name(reasons.INTERNAL_ERROR)
    info.Pack(error_details_pb2.ErrorInfo(reason=reason, domain=DOMAIN))
    return status_pb2.Status(
        code=code_pb2.INTERNAL,
        message="the server failed to handle the request; it has been logged",
        details=[info],
    )


async def abort_with(
    context: grpc.aio.ServicerContext[Any, Any], status: status_pb2.Status
) -> NoReturn:
    """Ends the call with the status, its details in the `grpc-status-details-bin` trailer."""
    code = next(c for c in grpc.StatusCode if c.value[0] == status.code)
    trailers = (("grpc-status-details-bin", status.SerializeToString()),)
    await context.abort(code, status.message, trailers)
    raise AssertionError("unreachable")  # abort always raises


async def abort(context: grpc.aio.ServicerContext[Any, Any], error: DomainError) -> NoReturn:
    await abort_with(context, status_of(error))


async def answer_failure(
    context: grpc.aio.ServicerContext[Any, Any], method: Callable[..., Any], error: Exception
) -> NoReturn:
    """Ends a call whose servicer raised `error` (from inside its `except`): a domain error
    with its status, a fault with a bare INTERNAL (logged here, never sent); an abort goes
    on as it is."""
    if isinstance(error, DomainError):
        await abort(context, error)
    if isinstance(error, grpc.aio.AbortError):
        raise error
    log.exception("unhandled error in %s", method.__qualname__)
    await abort_with(context, internal_status())


@contextlib.asynccontextmanager
async def answering(
    context: grpc.aio.ServicerContext[Any, Any], method: Callable[..., Any]
) -> AsyncIterator[None]:
    """Ends a call whose servicer raised, as answer_failure says; a cancellation goes on."""
    try:
        yield
    except Exception as error:
        await answer_failure(context, method, error)


def rpc(method: Callable[..., Awaitable[R]]) -> Callable[..., Awaitable[R]]:
    """Wraps a unary servicer method: a request with a NUL character is refused; domain errors
    become their status; faults become a bare INTERNAL."""

    # try/except rather than `answering`: every call of the API passes here.
    @functools.wraps(method)
    async def wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> R:
        try:
            check_no_nul(request)
            return await method(self, request, context)
        except Exception as error:
            await answer_failure(context, method, error)

    return wrapper


def stream_rpc(
    method: Callable[..., AsyncIterator[R]],
) -> Callable[..., AsyncIterator[R]]:
    """Wraps a server-streaming method (an async generator) as `rpc` wraps unary ones."""

    @functools.wraps(method)
    async def wrapper(
        self: Any, request: Any, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[R]:
        async with answering(context, method):
            check_no_nul(request)
            async for response in method(self, request, context):
                yield response

    return wrapper


@dataclass(frozen=True)
class Malformed:
    """What a request that does not parse becomes (see api/decoding.py): why it does not."""

    problem: str

    def error(self) -> InvalidArgument:
        return InvalidArgument(
            reasons.MALFORMED_REQUEST,
            f"the request does not parse: {self.problem}; send a serialized request message "
            "(the generated stubs and the SDK do)",
        )


def client_stream_rpc(method: Callable[..., Awaitable[R]]) -> Callable[..., Awaitable[R]]:
    """Wraps a client-streaming servicer method as `rpc` wraps unary ones; each message of
    the stream is checked as it arrives."""

    async def checked(requests: AsyncIterator[Any]) -> AsyncIterator[Any]:
        async for request in requests:
            if isinstance(request, Malformed):
                raise request.error()
            check_no_nul(request)
            yield request

    @functools.wraps(method)
    async def wrapper(self: Any, requests: Any, context: grpc.aio.ServicerContext[Any, Any]) -> R:
        async with answering(context, method):
            return await method(self, checked(requests), context)
        raise AssertionError("unreachable: answering ends the call")

    return wrapper
