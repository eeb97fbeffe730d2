"""Channels, credentials, metadata, deadlines and retries under the SDK's clients.

:class:`Transport` (sync) and :class:`AsyncTransport` (``grpc.aio``) make every call the
same way: the bearer token and the caller's metadata are attached, one deadline covers
all attempts of a call, and a call that fails with UNAVAILABLE is tried again with
exponential backoff and jitter. Mutating requests carry a ``request_id`` by the time they
get here, so a retry of a write the server already committed returns the first result
instead of writing twice.
"""

# The timeout parameters of the async calls are gRPC deadlines sent to the server, the same
# keyword the sync calls take; asyncio.timeout could not carry them over the wire.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata as _dist_metadata
from pathlib import Path
from typing import TypeVar

import grpc
import grpc.aio
from google.protobuf.message import Message

from modelyard.errors import ModelyardError, from_rpc_error

__all__ = [
    "ADDRESS_ENV",
    "DATA_DIR_ENV",
    "DEFAULT_ADDRESS",
    "DEFAULT_DATA_DIR",
    "DEFAULT_TIMEOUT",
    "TOKEN_ENV",
    "TOKEN_FILE_ENV",
    "TOKEN_FILE_NAME",
    "AsyncTransport",
    "RetryPolicy",
    "Transport",
    "call_metadata",
    "discover_token",
    "resolve_address",
]

ADDRESS_ENV = "MODELYARD_ADDRESS"
TOKEN_ENV = "MODELYARD_TOKEN"
TOKEN_FILE_ENV = "MODELYARD_TOKEN_FILE"
DATA_DIR_ENV = "MODELYARD_DATA_DIR"
DEFAULT_ADDRESS = "127.0.0.1:50051"
DEFAULT_DATA_DIR = "modelyard-data"
TOKEN_FILE_NAME = "admin.token"
#: Seconds a call may take, over all its attempts, unless the caller says otherwise.
DEFAULT_TIMEOUT = 30.0

Metadata = Sequence[tuple[str, str]]
RequestT = TypeVar("RequestT", bound=Message)
ResponseT = TypeVar("ResponseT", bound=Message)


def resolve_address(address: str | None = None) -> str:
    """Returns the address to dial: ``address``, else $MODELYARD_ADDRESS, else the default."""
    return address or os.environ.get(ADDRESS_ENV) or DEFAULT_ADDRESS


def _read_token(path: Path) -> str:
    token = path.read_text(encoding="utf-8").strip()
    if not token:
        raise ValueError(f"token file {path} is empty")
    return token


def discover_token(environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> str | None:
    """Returns the bearer token the environment provides, or None when there is none.

    Looked up in order: $MODELYARD_TOKEN; the file named by $MODELYARD_TOKEN_FILE (which
    must then be readable); ``$MODELYARD_DATA_DIR/admin.token``; ``./modelyard-data/
    admin.token`` (the file the server writes on first start of a data directory).
    """
    env = os.environ if environ is None else environ
    token = env.get(TOKEN_ENV, "").strip()
    if token:
        return token
    token_file = env.get(TOKEN_FILE_ENV)
    if token_file:
        try:
            return _read_token(Path(token_file).expanduser())
        except OSError as err:
            raise ValueError(
                f"${TOKEN_FILE_ENV} names {token_file}, which cannot be read: {err.strerror}"
            ) from err
    data_dir = env.get(DATA_DIR_ENV)
    base = cwd if cwd is not None else Path.cwd()
    candidates = [Path(data_dir).expanduser() / TOKEN_FILE_NAME] if data_dir else []
    candidates.append(base / DEFAULT_DATA_DIR / TOKEN_FILE_NAME)
    for candidate in candidates:
        if candidate.is_file():
            return _read_token(candidate)
    return None


def call_metadata(token: str | None, extra: Metadata | None = None) -> list[tuple[str, str]]:
    """Returns the metadata of one call: the caller's, plus the bearer token unless the
    caller sent its own ``authorization``."""
    result = list(extra or ())
    if token and not any(key.lower() == "authorization" for key, _ in result):
        result.insert(0, ("authorization", f"Bearer {token}"))
    return result


@dataclass(frozen=True)
class RetryPolicy:
    """When and how long to wait before trying an UNAVAILABLE call again.

    Attempt ``n`` (counting from 1) that fails is followed by a pause drawn uniformly from
    ``[d/2, d]`` with ``d = min(max_backoff, initial_backoff * multiplier**(n-1))``; the
    jitter keeps many clients that lost the same server from returning in lockstep.
    """

    max_attempts: int = 5
    initial_backoff: float = 0.2
    max_backoff: float = 10.0
    multiplier: float = 2.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")

    def backoff(self, attempt: int) -> float:
        """Returns the seconds to wait after failed attempt number ``attempt``."""
        ceiling = min(self.max_backoff, self.initial_backoff * self.multiplier ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)

    def should_retry(self, error: ModelyardError, attempt: int) -> bool:
        """Returns whether a call that failed this way on this attempt is tried again."""
        return error.code == grpc.StatusCode.UNAVAILABLE and attempt < self.max_attempts


def _user_agent() -> str:
    try:
        version = _dist_metadata.version("modelyard-client")
    except _dist_metadata.PackageNotFoundError:
        version = "0+unknown"
    return f"modelyard-python/{version}"


def _channel_options() -> list[tuple[str, str | int]]:
    return [
        ("grpc.primary_user_agent", _user_agent()),
        # gRPC's reconnect backoff grows to 120 s by default; a registry that restarts must
        # be reachable again within the few seconds the call's own retries last.
        ("grpc.initial_reconnect_backoff_ms", 200),
        ("grpc.max_reconnect_backoff_ms", 2000),
    ]


class _Deadline:
    """One deadline shared by all attempts of a call."""

    def __init__(self, timeout: float | None) -> None:
        self._at = None if timeout is None else time.monotonic() + timeout

    def remaining(self) -> float | None:
        return None if self._at is None else max(0.0, self._at - time.monotonic())

    def allows(self, pause: float) -> bool:
        return self._at is None or time.monotonic() + pause < self._at


class Transport:
    """A sync channel to the registry and the policy every call follows."""

    def __init__(
        self,
        address: str | None = None,
        *,
        token: str | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        credentials: grpc.ChannelCredentials | None = None,
    ) -> None:
        self.address = resolve_address(address)
        self.token = token if token is not None else discover_token()
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        if credentials is None:
            self.channel = grpc.insecure_channel(self.address, options=_channel_options())
        else:
            self.channel = grpc.secure_channel(
                self.address, credentials, options=_channel_options()
            )

    def call(
        self,
        method: grpc.UnaryUnaryMultiCallable[RequestT, ResponseT],
        request: RequestT,
        *,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> ResponseT:
        """Returns the response of a unary call, retried on UNAVAILABLE; raises
        :class:`~modelyard.errors.ModelyardError` subclasses on failure."""
        deadline = _Deadline(timeout if timeout is not None else self.timeout)
        md = tuple(call_metadata(self.token, metadata))
        attempt = 0
        while True:
            attempt += 1
            try:
                return method(request, timeout=deadline.remaining(), metadata=md)
            except grpc.RpcError as rpc_error:
                error = from_rpc_error(rpc_error)
                pause = self.retry.backoff(attempt)
                if not (self.retry.should_retry(error, attempt) and deadline.allows(pause)):
                    raise error from rpc_error
            time.sleep(pause)

    def close(self) -> None:
        """Closes the channel; calls in flight are cancelled."""
        self.channel.close()


class AsyncTransport:
    """A ``grpc.aio`` channel to the registry and the policy every call follows.

    The channel is opened on first use, so an :class:`AsyncTransport` may be built before
    the event loop that will use it is running.
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        token: str | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        credentials: grpc.ChannelCredentials | None = None,
    ) -> None:
        self.address = resolve_address(address)
        self.token = token if token is not None else discover_token()
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self._credentials = credentials
        self._channel: grpc.aio.Channel | None = None

    @property
    def channel(self) -> grpc.aio.Channel:
        """The channel, opened on first use in the running event loop."""
        if self._channel is None:
            if self._credentials is None:
                self._channel = grpc.aio.insecure_channel(self.address, options=_channel_options())
            else:
                self._channel = grpc.aio.secure_channel(
                    self.address, self._credentials, options=_channel_options()
                )
        return self._channel

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
        deadline = _Deadline(timeout if timeout is not None else self.timeout)
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
                    raise error from rpc_error
            await asyncio.sleep(pause)

    async def close(self) -> None:
        """Closes the channel; calls in flight are cancelled."""
        if self._channel is not None:
            await self._channel.close(None)
            self._channel = None
