"""Authentication: a bearer token in `authorization` metadata becomes the call's principal."""

from __future__ import annotations

import contextvars
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

import grpc
from modelyard.v1 import errors_pb2 as reasons

from modelyard_server.api.errors import abort
from modelyard_server.domain.errors import Unauthenticated
from modelyard_server.domain.principal import Principal

# Health checks and reflection need no token: load balancers and grpcurl list/describe.
OPEN_SERVICES = (
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1alpha.ServerReflection/",
    "/grpc.reflection.v1.ServerReflection/",
)
CACHE_SECONDS = 30.0

_principal: contextvars.ContextVar[Principal] = contextvars.ContextVar("principal")

Lookup = Callable[[str], Awaitable[Principal | None]]


def current_principal() -> Principal:
    """Returns the authenticated caller of the current RPC."""
    return _principal.get()


class Authenticator:
    """Resolves tokens to principals, remembering answers briefly so reads stay cheap."""

    def __init__(self, lookup: Lookup) -> None:
        self.lookup = lookup
        self.cache: dict[str, tuple[float, Principal]] = {}

    async def principal(self, metadata: Sequence[tuple[str, str | bytes]] | None) -> Principal:
        header = next((str(v) for k, v in metadata or () if k == "authorization"), "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated(
                reasons.UNAUTHENTICATED,
                "no bearer token: send metadata 'authorization: Bearer <token>' "
                "(the SDK and CLI read MODELYARD_TOKEN or the admin.token file)",
            )
        token = token.strip()
        now = time.monotonic()
        cached = self.cache.get(token)
        if cached is not None and cached[0] > now:
            return cached[1]
        principal = await self.lookup(token)
        if principal is None:
            raise Unauthenticated(
                reasons.UNAUTHENTICATED, "the bearer token is not known to this server"
            )
        if len(self.cache) > 10_000:
            self.cache.clear()
        self.cache[token] = (now + CACHE_SECONDS, principal)
        return principal


if TYPE_CHECKING:
    Interceptor = grpc.aio.ServerInterceptor[Any, Any]
    Handler = grpc.RpcMethodHandler[Any, Any]
else:
    Interceptor = grpc.aio.ServerInterceptor
    Handler = grpc.RpcMethodHandler


class AuthInterceptor(Interceptor):
    """Authenticates every call except health and reflection, before the servicer runs."""

    def __init__(self, authenticator: Authenticator) -> None:
        self.authenticator = authenticator
        # One wrapped handler per method, built on its first call rather than on every call.
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
        if handler is None or method.startswith(OPEN_SERVICES):
            return handler
        wrapped = self._wrap(handler)
        self.wrapped[method] = wrapped
        return wrapped

    def _wrap(self, handler: Handler) -> Handler:
        """Returns the handler with authentication first, whatever its kind; a handler of no
        kind this server knows is refused rather than served unauthenticated."""
        authenticator = self.authenticator

        async def authenticate(context: grpc.aio.ServicerContext[Any, Any]) -> None:
            try:
                # A tuple of (key, value) pairs at run time, whatever the stubs say.
                metadata = cast(Sequence[tuple[str, str | bytes]], context.invocation_metadata())
                principal = await authenticator.principal(metadata)
            except Unauthenticated as error:
                await abort(context, error)
            _principal.set(principal)

        def unary(behavior: Any) -> Callable[[Any, Any], Awaitable[Any]]:
            async def call(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
                await authenticate(context)
                return await behavior(request, context)

            return call

        def streaming(behavior: Any) -> Callable[[Any, Any], AsyncIterator[Any]]:
            async def call(
                request: Any, context: grpc.aio.ServicerContext[Any, Any]
            ) -> AsyncIterator[Any]:
                await authenticate(context)
                async for response in behavior(request, context):
                    yield response

            return call

        serialize = (handler.request_deserializer, handler.response_serializer)
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(unary(handler.unary_unary), *serialize)
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(streaming(handler.unary_stream), *serialize)
        if handler.stream_unary is not None:
            return grpc.stream_unary_rpc_method_handler(unary(handler.stream_unary), *serialize)
        if handler.stream_stream is not None:
            return grpc.stream_stream_rpc_method_handler(
                streaming(handler.stream_stream), *serialize
            )
        return grpc.unary_unary_rpc_method_handler(_refuse, *serialize)


async def _refuse(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
    """Answers a method whose handler has no behaviour the interceptor can authenticate."""
    await abort(
        context,
        Unauthenticated(
            reasons.UNAUTHENTICATED, "this method cannot be authenticated, so it is not served"
        ),
    )
