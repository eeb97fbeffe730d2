"""Authentication: a bearer token in `authorization` metadata becomes the call's principal."""

from __future__ import annotations

import contextvars
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, cast

import grpc
from modelyard.v1 import errors_pb2 as reasons

from modelyard_server.api.errors import abort
from modelyard_server.api.handlers import Context, Handler, WrappingInterceptor, with_step
from modelyard_server.domain.errors import DomainError, Unauthenticated
from modelyard_server.domain.principal import Principal
from modelyard_server.identity.verifier import looks_like_jwt

# Health checks and reflection need no token: load balancers and grpcurl list/describe.
OPEN_SERVICES = (
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1alpha.ServerReflection/",
    "/grpc.reflection.v1.ServerReflection/",
)
CACHE_SECONDS = 30.0

_principal: contextvars.ContextVar[Principal] = contextvars.ContextVar("principal")

Lookup = Callable[[str], Awaitable[Principal | None]]
# A JWT's principal, or a DomainError saying why there is none (identity/verifier.py).
VerifyJwt = Callable[[str], Awaitable[Principal]]


def current_principal() -> Principal:
    """Returns the authenticated caller of the current RPC."""
    return _principal.get()


class Authenticator:
    """Resolves tokens to principals, remembering answers briefly so reads stay cheap."""

    def __init__(self, lookup: Lookup, verify_jwt: VerifyJwt | None = None) -> None:
        self.lookup = lookup
        self.verify_jwt = verify_jwt
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
        if self.verify_jwt is not None and looks_like_jwt(token):
            return await self.verify_jwt(token)  # it caches what it verified
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


class AuthInterceptor(WrappingInterceptor):
    """Authenticates every call except health and reflection, before the servicer runs; a
    method it cannot wrap is refused rather than served unauthenticated."""

    def __init__(self, authenticator: Authenticator) -> None:
        super().__init__()
        self.authenticator = authenticator

    def wrap(self, method: str, handler: Handler) -> Handler:
        if method.startswith(OPEN_SERVICES):
            return handler
        authenticator = self.authenticator

        async def authenticate(request: Any, context: Context) -> None:
            try:
                # A tuple of (key, value) pairs at run time, whatever the stubs say.
                metadata = cast(Sequence[tuple[str, str | bytes]], context.invocation_metadata())
                principal = await authenticator.principal(metadata)
            except DomainError as error:  # Unauthenticated; Unavailable without the IdP's keys
                await abort(context, error)
            _principal.set(principal)

        wrapped = with_step(handler, authenticate)
        if wrapped is None:
            serialize = (handler.request_deserializer, handler.response_serializer)
            return grpc.unary_unary_rpc_method_handler(_refuse, *serialize)
        return wrapped


async def _refuse(request: Any, context: Context) -> Any:
    """Answers a method whose handler has no behaviour the interceptor can authenticate."""
    await abort(
        context,
        Unauthenticated(
            reasons.UNAUTHENTICATED, "this method cannot be authenticated, so it is not served"
        ),
    )
