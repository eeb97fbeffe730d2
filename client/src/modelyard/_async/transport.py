"""The transport under :class:`modelyard.AsyncRegistry`: a gRPC channel, and calls
that follow the policy of :mod:`modelyard.transport`."""

# The `timeout` keywords are gRPC deadlines sent with each call.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import threading
from typing import TypeVar

import grpc.aio
from google.protobuf.message import Message

from modelyard._concurrency import aclose_channel
from modelyard.errors import from_rpc_error, unreachable
from modelyard.transport import (
    DEFAULT_TIMEOUT,
    Deadline,
    Metadata,
    RetryPolicy,
    TlsFiles,
    call_metadata,
    channel_options,
    discover_token,
    resolve_address,
)
from modelyard.v1 import (
    approval_service_pb2_grpc,
    artifact_service_pb2_grpc,
    audit_service_pb2_grpc,
    registry_service_pb2_grpc,
    retention_service_pb2_grpc,
    token_service_pb2_grpc,
    webhook_service_pb2_grpc,
)

__all__ = ["AsyncStubs", "AsyncTransport"]

RequestT = TypeVar("RequestT", bound=Message)
ResponseT = TypeVar("ResponseT", bound=Message)


class AsyncStubs:
    """The registry's services, over one channel."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self.registry: registry_service_pb2_grpc.RegistryServiceAsyncStub = (
            registry_service_pb2_grpc.RegistryServiceStub(channel)
        )
        self.audit: audit_service_pb2_grpc.AuditServiceAsyncStub = (
            audit_service_pb2_grpc.AuditServiceStub(channel)
        )
        self.approvals: approval_service_pb2_grpc.ApprovalServiceAsyncStub = (
            approval_service_pb2_grpc.ApprovalServiceStub(channel)
        )
        self.webhooks: webhook_service_pb2_grpc.WebhookServiceAsyncStub = (
            webhook_service_pb2_grpc.WebhookServiceStub(channel)
        )
        self.artifacts: artifact_service_pb2_grpc.ArtifactServiceAsyncStub = (
            artifact_service_pb2_grpc.ArtifactServiceStub(channel)
        )
        self.retention: retention_service_pb2_grpc.RetentionServiceAsyncStub = (
            retention_service_pb2_grpc.RetentionServiceStub(channel)
        )
        self.tokens: token_service_pb2_grpc.TokenServiceAsyncStub = (
            token_service_pb2_grpc.TokenServiceStub(channel)
        )


class AsyncTransport:
    """A channel to the registry and the policy every call follows.

    The channel opens on first use, so an asyncio transport may be built before its event
    loop runs, and opens again on the first use after :meth:`close`.
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        token: str | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        credentials: grpc.ChannelCredentials | None = None,
        tls: TlsFiles | None = None,
    ) -> None:
        self.address = resolve_address(address)
        self.token = token if token is not None else discover_token()
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        #: The TLS files the channel was made of (None: plaintext, or credentials given).
        self.tls = tls
        if credentials is None and tls is not None:
            credentials = tls.credentials()  # read now: a bad file fails here, not on a call
        self._credentials = credentials
        self._channel: grpc.aio.Channel | None = None
        self._stubs: AsyncStubs | None = None
        # Threads that share a sync transport must not open two channels.
        self._opening = threading.Lock()

    @property
    def secure(self) -> bool:
        """Whether the channel speaks TLS."""
        return self._credentials is not None

    @property
    def stubs(self) -> AsyncStubs:
        """The services' stubs, over the channel (opened here on first use)."""
        with self._opening:
            if self._stubs is None:
                if self._credentials is None:
                    channel = grpc.aio.insecure_channel(self.address, options=channel_options())
                else:
                    channel = grpc.aio.secure_channel(
                        self.address, self._credentials, options=channel_options()
                    )
                self._channel, self._stubs = channel, AsyncStubs(channel)
            return self._stubs

    async def call(
        self,
        method: grpc.aio.UnaryUnaryMultiCallable[RequestT, ResponseT],
        request: RequestT,
        *,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> ResponseT:
        """Returns the response of a unary call, retried on UNAVAILABLE; raises
        :class:`~modelyard.errors.ModelyardError` subclasses on failure."""
        deadline = Deadline(timeout if timeout is not None else self.timeout)
        md = tuple(call_metadata(self.token, metadata))
        attempt = 0
        while True:
            attempt += 1
            try:
                return await method(request, timeout=deadline.remaining(), metadata=md)
            except grpc.RpcError as rpc_error:
                error = from_rpc_error(rpc_error)
                pause = self.retry.backoff(attempt)
                if not (self.retry.should_retry(error, attempt) and deadline.allows(pause)):
                    raise unreachable(error, self.address, self.secure, self.tls) from None
            await asyncio.sleep(pause)

    async def close(self) -> None:
        """Closes the channel, cancelling calls in flight; the next call opens a new one."""
        with self._opening:
            channel, self._channel, self._stubs = self._channel, None, None
        if channel is not None:
            await aclose_channel(channel)
