"""Requests whose bytes do not parse: INVALID_ARGUMENT (MALFORMED_REQUEST) with ErrorInfo.

grpc parses a request before any servicer code runs, and answers a parse failure with
UNKNOWN and the exception's class in the message. A caller who sends corrupt bytes, a string
that is not UTF-8 or messages nested too deep gets the typed error every other bad input
gets instead: the request is parsed here, and a failure is handed on as `Malformed`, which
the call then ends with, after the caller is authenticated like any other.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import grpc
from google.protobuf.message import DecodeError
from modelyard.v1 import errors_pb2 as reasons

from modelyard_server.api.errors import abort
from modelyard_server.domain.errors import InvalidArgument

if TYPE_CHECKING:
    Interceptor = grpc.aio.ServerInterceptor[Any, Any]
    Handler = grpc.RpcMethodHandler[Any, Any]
else:
    Interceptor = grpc.aio.ServerInterceptor
    Handler = grpc.RpcMethodHandler

Context = grpc.aio.ServicerContext[Any, Any]


@dataclass(frozen=True)
class Malformed:
    """What a request that does not parse becomes: why it does not."""

    problem: str

    def error(self) -> InvalidArgument:
        return InvalidArgument(
            reasons.MALFORMED_REQUEST,
            f"the request does not parse: {self.problem}; send a serialized request message "
            "(the generated stubs and the SDK do)",
        )


def _tolerant(parse: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
    def deserialize(data: bytes) -> Any:
        try:
            return parse(data)
        except DecodeError as error:
            return Malformed(str(error))

    return deserialize


class DecodingInterceptor(Interceptor):
    """Parses every request itself, so that one that does not parse ends as Malformed says."""

    def __init__(self) -> None:
        # One wrapped handler per method, built on its first call.
        self.wrapped: dict[str, Handler] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler:
        method = handler_call_details.method
        wrapped = self.wrapped.get(method)
        if wrapped is not None:
            return wrapped
        handler = await continuation(handler_call_details)
        if handler is None or handler.request_deserializer is None:
            return handler
        wrapped = _wrap(handler)
        self.wrapped[method] = wrapped
        return wrapped


def _wrap(handler: Handler) -> Handler:
    assert handler.request_deserializer is not None
    deserialize = _tolerant(handler.request_deserializer)
    if handler.unary_unary is not None:
        behavior = cast(Callable[[Any, Context], Awaitable[Any]], handler.unary_unary)

        async def unary_unary(request: Any, context: Context) -> Any:
            if isinstance(request, Malformed):
                await abort(context, request.error())
            return await behavior(request, context)

        return grpc.unary_unary_rpc_method_handler(
            unary_unary, deserialize, handler.response_serializer
        )
    if handler.unary_stream is not None:
        stream = cast(Callable[[Any, Context], AsyncIterator[Any]], handler.unary_stream)

        async def unary_stream(request: Any, context: Context) -> AsyncIterator[Any]:
            if isinstance(request, Malformed):
                await abort(context, request.error())
            async for response in stream(request, context):
                yield response

        return grpc.unary_stream_rpc_method_handler(
            unary_stream, deserialize, handler.response_serializer
        )
    return handler
