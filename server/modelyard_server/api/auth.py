"""Authentication: a bearer token in `authorization` metadata becomes the call's principal."""

from __future__ import annotations

import contextvars
import math
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, cast

import grpc
from modelyard.v1 import errors_pb2 as reasons

from modelyard_server.api.errors import abort, answer_failure
from modelyard_server.api.handlers import Context, Handler, WrappingInterceptor, with_step
from modelyard_server.api.throttle import Throttle, source_of
from modelyard_server.domain.errors import ResourceExhausted, Unauthenticated
from modelyard_server.domain.principal import Principal
from modelyard_server.identity.verifier import looks_like_jwt

# Health checks and reflection need no token: load balancers and grpcurl list/describe.
OPEN_SERVICES = (
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1alpha.ServerReflection/",
    "/grpc.reflection.v1.ServerReflection/",
)

_principal: contextvars.ContextVar[Principal] = contextvars.ContextVar("principal")

# Turns a presented bearer token into its principal: None if no one has it; Unauthenticated
# (with its reason) for one that no longer works. Opaque tokens: domain.tokens' authenticate.
Lookup = Callable[[str], Awaitable[Principal | None]]
# A JWT's principal, or a DomainError saying why there is none (identity/verifier.py).
VerifyJwt = Callable[[str], Awaitable[Principal]]


def current_principal() -> Principal:
    """Returns the authenticated caller of the current RPC."""
    return _principal.get()


def caller() -> Principal | None:
    """Returns the current RPC's caller, or None when it was not authenticated (yet)."""
    return _principal.get(None)


class Authenticator:
    """Resolves tokens to principals, refusing sources that failed too often.

    Nothing is cached for opaque tokens: every call looks its token up, so a revocation or
    expiry holds from the moment it commits, on every worker and replica. A JWT is verified
    against the identity provider's keys (`verify_jwt`, which remembers what it verified).
    """

    def __init__(
        self,
        lookup: Lookup,
        throttle: Throttle | None = None,
        verify_jwt: VerifyJwt | None = None,
    ) -> None:
        self.lookup = lookup
        self.throttle = throttle or Throttle()
        self.verify_jwt = verify_jwt

    async def principal(
        self, metadata: Sequence[tuple[str, str | bytes]] | None, source: str = ""
    ) -> Principal:
        header = next((str(v) for k, v in metadata or () if k == "authorization"), "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated(
                reasons.UNAUTHENTICATED,
                "no bearer token: send metadata 'authorization: Bearer <token>' "
                "(the SDK and CLI read MODELYARD_TOKEN or the admin.token file)",
            )
        token = token.strip()
        wait = self.throttle.retry_after(source)
        if wait is not None:
            seconds = math.ceil(wait)
            raise ResourceExhausted(
                reasons.TOO_MANY_FAILED_ATTEMPTS,
                f"too many failed authentication attempts from this address; retry after "
                f"{seconds} s with a valid token",
                metadata={"retry_after_seconds": str(seconds)},
            )
        try:
            if self.verify_jwt is not None and looks_like_jwt(token):
                return await self.verify_jwt(token)
            principal = await self.lookup(token)
        except Unauthenticated:
            self.throttle.failed(source)
            raise
        if principal is None:
            self.throttle.failed(source)
            raise Unauthenticated(
                reasons.UNAUTHENTICATED, "the bearer token is not known to this server"
            )
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
            # A domain error (UNAVAILABLE too) ends the call with its status; a fault with a
            # bare INTERNAL, never the database's message.
            try:
                # A tuple of (key, value) pairs at run time, whatever the stubs say.
                metadata = cast(Sequence[tuple[str, str | bytes]], context.invocation_metadata())
                principal = await authenticator.principal(metadata, source_of(context.peer()))
            except Exception as error:
                await answer_failure(context, authenticator.principal, error)
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
