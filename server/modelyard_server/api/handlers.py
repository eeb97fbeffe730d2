"""Method handlers with a step before the servicer: how the interceptors wrap every kind of
method (unary or streaming requests and responses) the same way."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

import grpc

if TYPE_CHECKING:
    Interceptor = grpc.aio.ServerInterceptor[Any, Any]
    Handler = grpc.RpcMethodHandler[Any, Any]
else:
    Interceptor = grpc.aio.ServerInterceptor
    Handler = grpc.RpcMethodHandler

Context = grpc.aio.ServicerContext[Any, Any]
# Runs before the servicer with the request (or, for streaming requests, their iterator); it
# ends the call by aborting.
Before = Callable[[Any, Context], Awaitable[None]]


def with_step(
    handler: Handler,
    before: Before,
    deserialize: Callable[[bytes], Any] | None = None,
    serialize: Callable[[Any], bytes] | None = None,
) -> Handler | None:
    """Returns the handler with `before` run first (and `deserialize` for its requests,
    `serialize` for its responses, if given), or None for a handler of no kind grpc defines,
    which the caller must refuse."""
    codecs = (
        deserialize or handler.request_deserializer,
        serialize or handler.response_serializer,
    )

    def unary(behavior: Any) -> Callable[[Any, Context], Awaitable[Any]]:
        async def call(request: Any, context: Context) -> Any:
            await before(request, context)
            return await behavior(request, context)

        return call

    def streaming(behavior: Any) -> Callable[[Any, Context], AsyncIterator[Any]]:
        async def call(request: Any, context: Context) -> AsyncIterator[Any]:
            await before(request, context)
            async for response in behavior(request, context):
                yield response

        return call

    if handler.unary_unary is not None:
        return grpc.unary_unary_rpc_method_handler(unary(handler.unary_unary), *codecs)
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(streaming(handler.unary_stream), *codecs)
    if handler.stream_unary is not None:
        return grpc.stream_unary_rpc_method_handler(unary(handler.stream_unary), *codecs)
    if handler.stream_stream is not None:
        return grpc.stream_stream_rpc_method_handler(streaming(handler.stream_stream), *codecs)
    return None


class WrappingInterceptor(Interceptor):
    """An interceptor that wraps each method's handler once, on its first call."""

    def __init__(self) -> None:
        self.wrapped: dict[str, Handler] = {}

    def wrap(self, method: str, handler: Handler) -> Handler:
        """Returns the handler to serve `method` with."""
        raise NotImplementedError

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
        if handler is None:
            return handler
        wrapped = self.wrap(method, handler)
        self.wrapped[method] = wrapped
        return wrapped


class GenericHandlersOnly:
    """A server as the generated `add_*Servicer_to_server` functions see it: their methods
    are added as generic handlers only, never as registered ones.

    grpc.aio's server keeps one task waiting for a call of each registered method, and for
    every call it accepts it waits on all of them again (asyncio.wait, a callback added and
    removed per task): with this server's 53 methods that was a fixed cost on every call,
    growing with every method added. Generic handlers are found by one lookup per service,
    once per method, since the interceptors keep what they wrapped.
    """

    def __init__(self, server: grpc.aio.Server) -> None:
        self.server = server

    def add_generic_rpc_handlers(
        self, handlers: Sequence[grpc.GenericRpcHandler[Any, Any]]
    ) -> None:
        self.server.add_generic_rpc_handlers(handlers)

    def add_registered_method_handlers(self, service: str, handlers: dict[str, Handler]) -> None:
        """Registers nothing: the same handlers come as generic ones too."""
