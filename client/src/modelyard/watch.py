"""Event streams that resume by themselves: :class:`Watch` (sync) and :class:`AsyncWatch`.

::

    with registry.watch(groups=["fraud"], actions=["STAGE_CHANGED"], start_after=cursor) as events:
        for event in events:
            deploy(event)
            save(events.cursor)

A watch follows the registry's log in seq order. When the stream breaks (the server
restarts, the network drops, or the server ends a stream that fell too far behind), it
reconnects with backoff and resumes after the last seq it handed out, so each event is
handed to the caller exactly once, with no gap. Heartbeats advance :attr:`Watch.cursor`
while nothing matches the filters, so a persisted cursor never falls far behind the log.
"""

# The timeout parameters are gRPC deadlines of the first connection, the same keyword every
# other call takes; asyncio.timeout could not carry them over the wire.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
import weakref
from collections.abc import Iterable, Iterator
from types import TracebackType
from typing import Any

import grpc
import grpc.aio

from modelyard import _requests as build
from modelyard.errors import ModelyardError, Unavailable, from_rpc_error
from modelyard.names import group_name
from modelyard.transport import Metadata, call_metadata
from modelyard.v1 import registry_service_pb2, registry_service_pb2_grpc, resources_pb2

__all__ = ["RESUMABLE_CODES", "AsyncWatch", "Watch", "watch_request"]

log = logging.getLogger("modelyard.watch")

#: Failures after which a watch reconnects and resumes from its cursor; any other code is
#: the caller's to handle (a bad filter, a missing permission, a cursor from another log).
RESUMABLE_CODES = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
    }
)
#: Seconds to wait before reconnecting: doubling from the first to the last, with jitter.
FIRST_BACKOFF = 0.1
MAX_BACKOFF = 5.0


def watch_request(
    groups: Iterable[str],
    actions: Iterable[build.ActionLike],
    versions: Iterable[str],
    start_after: int | None,
) -> registry_service_pb2.WatchEventsRequest:
    """Returns the WatchEventsRequest for these filters (groups by id or resource name)."""
    if isinstance(groups, str) or isinstance(versions, str):
        raise TypeError("groups and versions are lists of names, not one string")
    if start_after is not None and start_after < 0:
        raise ValueError(f"start_after must be a seq >= 0, got {start_after}")
    request = registry_service_pb2.WatchEventsRequest(
        groups=[group_name(g) for g in groups],
        actions=[build.action(a) for a in actions],
        versions=list(versions),
    )
    if start_after is not None:
        request.start_after = start_after
    return request


class _Position:
    """The cursor, the request that resumes from it, and the pause before reconnecting."""

    def __init__(
        self, request: registry_service_pb2.WatchEventsRequest, idle_timeout: float | None
    ) -> None:
        self.base = request
        self.cursor: int | None = request.start_after if request.HasField("start_after") else None
        self.idle_timeout = idle_timeout
        self.failures = 0

    def request(self) -> registry_service_pb2.WatchEventsRequest:
        request = registry_service_pb2.WatchEventsRequest()
        request.CopyFrom(self.base)
        if self.cursor is not None:
            request.start_after = self.cursor
        return request

    def accept(
        self, message: registry_service_pb2.WatchEventsResponse
    ) -> resources_pb2.AuditEvent | None:
        """Returns the event to hand out, or None for a heartbeat (or a repeat)."""
        self.failures = 0
        if message.HasField("heartbeat"):
            if self.cursor is None or message.heartbeat.head_seq > self.cursor:
                self.cursor = message.heartbeat.head_seq
            return None
        if not message.HasField("event"):
            return None
        event = message.event
        if self.cursor is not None and event.seq <= self.cursor:
            # Never hand out an event twice, whatever the server sends; say so, it is a bug.
            log.warning("dropped event seq %d, already past it (cursor %d)", event.seq, self.cursor)
            return None
        self.cursor = event.seq
        return event

    def resumable(self, error: ModelyardError) -> bool:
        return error.code in RESUMABLE_CODES

    def backoff(self) -> float:
        self.failures += 1
        ceiling = min(MAX_BACKOFF, FIRST_BACKOFF * 2 ** (self.failures - 1))
        return random.uniform(ceiling / 2, ceiling)


def _silent() -> ModelyardError:
    """The stream sent nothing, not even a heartbeat, for longer than the idle timeout."""
    return Unavailable("the stream was silent for longer than idle_timeout; reconnecting")


class Watch:
    """An iterator over the registry's events, for code that does not use asyncio.

    Made by :meth:`modelyard.Registry.watch`, which returns once the stream is established,
    so "from now" means from the call. Iterating blocks until the next event; :meth:`close`
    (from any thread) ends the iteration. Raises a :class:`~modelyard.ModelyardError` only
    for failures that reconnecting cannot cure, such as a missing permission.

    Attributes:
        cursor: the seq of the last event handed out, or the log position a heartbeat
            confirmed since; persist it and pass it back as ``start_after`` to resume.
    """

    def __init__(
        self,
        stub: registry_service_pb2_grpc.RegistryServiceStub,
        request: registry_service_pb2.WatchEventsRequest,
        *,
        token: str | None,
        metadata: Metadata | None = None,
        timeout: float | None = None,
        idle_timeout: float | None = 60.0,
    ) -> None:
        self._stub = stub
        self._metadata = tuple(call_metadata(token, metadata))
        self._position = _Position(request, idle_timeout)
        self._call: Any = None
        self._closed = threading.Event()
        self._stale = False
        self._last_message = time.monotonic()
        self._first: resources_pb2.AuditEvent | None = None
        self._establish(timeout)
        if idle_timeout is not None:
            threading.Thread(
                target=_watchdog, args=(weakref.ref(self), idle_timeout), daemon=True
            ).start()

    @property
    def cursor(self) -> int | None:
        """The seq up to which every matching event has been handed out."""
        return self._position.cursor

    def _establish(self, timeout: float | None) -> None:
        """Connects and reads the first message (the heartbeat that pins the start)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self._connect()
            try:
                message = next(self._call)
            except grpc.RpcError as rpc_error:
                error = from_rpc_error(rpc_error)
                pause = self._position.backoff()
                late = deadline is not None and time.monotonic() + pause > deadline
                if not self._position.resumable(error) or late:
                    self.close()
                    raise error from rpc_error
                time.sleep(pause)
                continue
            except StopIteration:
                continue
            self._first = self._position.accept(message)
            return

    def _connect(self) -> None:
        self._last_message = time.monotonic()
        self._call = self._stub.WatchEvents(self._position.request(), metadata=self._metadata)

    def __iter__(self) -> Iterator[resources_pb2.AuditEvent]:
        return self

    def __next__(self) -> resources_pb2.AuditEvent:
        first = self._first
        if first is not None:
            self._first = None
            return first
        while not self._closed.is_set():
            if self._call is None:
                self._connect()
            try:
                message = next(self._call)
            except StopIteration:  # the server ended the stream cleanly: resume
                self._call = None
                continue
            except grpc.RpcError as rpc_error:
                if self._closed.is_set():
                    break
                error = _silent() if self._stale else from_rpc_error(rpc_error)
                self._stale = False
                if not self._position.resumable(error):
                    raise error from rpc_error
                self._call = None
                pause = self._position.backoff()
                log.warning("watch reconnects in %.1fs after %s", pause, error)
                self._closed.wait(pause)
                continue
            self._last_message = time.monotonic()
            event = self._position.accept(message)
            if event is not None:
                return event
        raise StopIteration

    def close(self) -> None:
        """Ends the stream; iteration stops. Safe to call from another thread, and twice."""
        self._closed.set()
        if self._call is not None:
            self._call.cancel()

    def __enter__(self) -> Watch:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:
        if hasattr(self, "_call"):
            self.close()


def _watchdog(ref: weakref.ref[Watch], idle_timeout: float) -> None:
    """Cancels a stream that has been silent too long, so the watch reconnects."""
    period = min(1.0, idle_timeout / 4)
    while True:
        time.sleep(period)
        watch = ref()
        if watch is None or watch._closed.is_set():
            return
        call = watch._call
        if call is not None and time.monotonic() - watch._last_message > idle_timeout:
            watch._stale = True
            watch._last_message = time.monotonic()
            call.cancel()
        del watch


class AsyncWatch:
    """An async iterator over the registry's events; :class:`Watch` for asyncio code.

    Made by ``await`` :meth:`modelyard.AsyncRegistry.watch`, which returns once the stream is
    established. Use it from one event loop; :meth:`close` ends the iteration.

    Attributes:
        cursor: the seq of the last event handed out, or the log position a heartbeat
            confirmed since; persist it and pass it back as ``start_after`` to resume.
    """

    def __init__(
        self,
        stub: registry_service_pb2_grpc.RegistryServiceAsyncStub,
        request: registry_service_pb2.WatchEventsRequest,
        *,
        token: str | None,
        metadata: Metadata | None = None,
        idle_timeout: float | None = 60.0,
    ) -> None:
        self._stub = stub
        self._metadata = tuple(call_metadata(token, metadata))
        self._position = _Position(request, idle_timeout)
        self._call: Any = None
        self._closed = False
        self._first: resources_pb2.AuditEvent | None = None

    @property
    def cursor(self) -> int | None:
        """The seq up to which every matching event has been handed out."""
        return self._position.cursor

    @classmethod
    async def open(
        cls,
        stub: registry_service_pb2_grpc.RegistryServiceAsyncStub,
        request: registry_service_pb2.WatchEventsRequest,
        *,
        token: str | None,
        metadata: Metadata | None = None,
        timeout: float | None = None,
        idle_timeout: float | None = 60.0,
    ) -> AsyncWatch:
        """Returns a watch whose stream is established (``timeout`` bounds that)."""
        watch = cls(stub, request, token=token, metadata=metadata, idle_timeout=idle_timeout)
        return await watch._establish(timeout)

    async def _establish(self, timeout: float | None) -> AsyncWatch:
        """Connects and reads the first message (the heartbeat that pins the start)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                message = await self._read()
            except ModelyardError as error:
                pause = self._position.backoff()
                late = deadline is not None and time.monotonic() + pause > deadline
                if not self._position.resumable(error) or late:
                    await self.close()
                    raise
                await asyncio.sleep(pause)
                continue
            if message is not None:
                self._first = self._position.accept(message)
                return self

    async def _read(self) -> registry_service_pb2.WatchEventsResponse | None:
        """Returns the next message (None when the stream ended cleanly); raises
        ModelyardError."""
        if self._call is None:
            self._call = self._stub.WatchEvents(self._position.request(), metadata=self._metadata)
        call = self._call
        try:
            async with asyncio.timeout(self._position.idle_timeout):
                message = await call.read()
        except TimeoutError:
            call.cancel()
            self._call = None
            raise _silent() from None
        except grpc.RpcError as rpc_error:
            self._call = None
            raise from_rpc_error(rpc_error) from rpc_error
        if message is grpc.aio.EOF:  # type: ignore[attr-defined]
            self._call = None
            return None
        assert isinstance(message, registry_service_pb2.WatchEventsResponse)
        return message

    def __aiter__(self) -> AsyncWatch:
        return self

    async def __anext__(self) -> resources_pb2.AuditEvent:
        first = self._first
        if first is not None:
            self._first = None
            return first
        while not self._closed:
            try:
                message = await self._read()
            except asyncio.CancelledError:
                if self._closed:  # close() cancelled the call we were reading
                    break
                raise
            except ModelyardError as error:
                if self._closed:
                    break
                if not self._position.resumable(error):
                    raise
                pause = self._position.backoff()
                log.warning("watch reconnects in %.1fs after %s", pause, error)
                await asyncio.sleep(pause)
                continue
            if message is None:
                continue
            event = self._position.accept(message)
            if event is not None:
                return event
        raise StopAsyncIteration

    async def close(self) -> None:
        """Ends the stream; iteration stops."""
        self._closed = True
        if self._call is not None:
            self._call.cancel()
            self._call = None

    async def __aenter__(self) -> AsyncWatch:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
