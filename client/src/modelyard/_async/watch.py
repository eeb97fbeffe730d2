"""The watch: :class:`AsyncWatch`, the registry's events as an iterator that resumes by itself
(see :mod:`modelyard.watch`)."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from modelyard import types
from modelyard._concurrency import (
    AsyncEstablishedOnAwait,
    AsyncEvent,
    AsyncWatchStream,
    ChannelClosed,
)
from modelyard._watch_cursor import Position, log
from modelyard.errors import ModelyardError
from modelyard.transport import Deadline, Metadata, call_metadata
from modelyard.v1 import registry_service_pb2, registry_service_pb2_grpc, resources_pb2

__all__ = ["AsyncWatch"]


class AsyncWatch(AsyncEstablishedOnAwait):
    """An async iterator over the registry's events, in seq order.

    Made by :meth:`modelyard.AsyncRegistry.watch`; the stream opens on ``await``,
    ``async with`` or the first iteration, whichever comes first, so "from now" means from
    then (``await`` it before making the changes it should see). Iterating waits for the next event;
    :meth:`close` ends the iteration (from any thread, for a sync watch). Raises a
    :class:`~modelyard.ModelyardError` only for failures that reconnecting cannot cure,
    such as a missing permission.

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
        timeout: float | None = None,
        idle_timeout: float | None = 60.0,
    ) -> None:
        self._stub = stub
        self._open_timeout = timeout
        self._established = False
        self._metadata = tuple(call_metadata(token, metadata))
        self._position = Position(request, idle_timeout)
        self._stream: AsyncWatchStream | None = None
        self._closed = AsyncEvent()
        self._first: resources_pb2.AuditEvent | None = None

    async def establish(self) -> Self:
        """Opens the stream unless it is open: reads its first message, the heartbeat that
        pins where the watch starts, within the watch's ``timeout``; returns the watch.
        Raises ModelyardError (and closes the watch) when it cannot. A watch closed before
        or while it opens is returned unopened: its iteration ends at once."""
        if self._established:
            return self
        deadline = Deadline(self._open_timeout)
        # A closed watch's streams end as soon as they are made: without this check, opening
        # would make stream after stream without ever awaiting anything that blocks.
        while not self._closed.is_set():
            try:
                message = await self._read()
            except ModelyardError as error:
                pause = self._position.backoff()
                if not (self._position.resumable(error) and deadline.allows(pause)):
                    await self.close()
                    raise
                await self._closed.wait(pause)
                continue
            if message is not None:
                self._first = self._position.accept(message)
                self._established = True
                return self
        return self

    @property
    def cursor(self) -> int | None:
        """The seq up to which every matching event has been handed out."""
        return self._position.cursor

    @property
    def heard(self) -> float | None:
        """When the server last sent an event or a heartbeat on this watch, by
        :func:`time.monotonic`; None before the first. Heartbeats come every few seconds
        even when nothing changes, so a long silence means the stream is down."""
        return self._position.heard

    async def _read(self) -> registry_service_pb2.WatchEventsResponse | None:
        """Returns the next message, connecting first when there is no stream; None when the
        stream has ended. Raises ModelyardError."""
        stream = self._stream
        try:
            if stream is None:
                stream = self._stream = AsyncWatchStream(
                    self._stub,
                    self._position.request(),
                    metadata=self._metadata,
                    idle_timeout=self._position.idle_timeout,
                )
                if self._closed.is_set():  # close() ran before it could see this stream
                    stream.cancel()
            message = await stream.read()
        except ModelyardError:
            self._stream = None
            raise
        except ChannelClosed:
            # The registry it came from was closed: the watch ends, as if closed itself,
            # instead of reconnecting over a channel that is gone.
            self._stream = None
            self._closed.set()
            return None
        if message is None:
            self._stream = None
        return message

    def __aiter__(self) -> AsyncWatch:
        return self

    async def __anext__(self) -> types.AuditEvent:
        if not self._established and not self._closed.is_set():
            await self.establish()
        first = self._first
        if first is not None:
            self._first = None
            return types.AuditEvent(first)
        while not self._closed.is_set():
            try:
                message = await self._read()
            except ModelyardError as error:
                if self._closed.is_set():
                    break
                if not self._position.resumable(error):
                    raise
                pause = self._position.backoff()
                log.warning("watch reconnects in %.1fs after %s", pause, error)
                await self._closed.wait(pause)
                continue
            event = None if message is None else self._position.accept(message)
            if event is not None:
                return types.AuditEvent(event)
        raise StopAsyncIteration

    async def close(self) -> None:
        """Ends the stream; iteration stops. Safe to call twice."""
        self._closed.set()
        stream = self._stream
        if stream is not None:
            stream.cancel()

    async def __aenter__(self) -> Self:
        return await self.establish()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
