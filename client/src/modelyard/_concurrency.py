"""What sync and async code do differently, each written both ways by hand.

Everything else in ``modelyard._sync`` is generated from ``modelyard._async`` by
``scripts/unasync.py``, which turns ``AsyncEvent`` into ``Event``, ``AsyncWatchStream``
into ``WatchStream`` and ``aclose_channel`` into ``close_channel``; so each pair offers the
same methods, the async one's as coroutines.

- a flag that one side sets and the other waits on, for at most a timeout: it ends a
  watch's pause before reconnecting as soon as the watch is closed;
- one WatchEvents call, read with a bound on how long it may stay silent: asyncio times
  out the read itself, a thread has to cancel a blocking read from the side;
- closing a channel, which takes a grace period in ``grpc.aio`` only;
- when a watch opens: an async watch on ``await``, ``async with`` or its first iteration
  (``pending``, and ``AsyncEstablishedOnAwait`` for ``await``), a sync watch before
  ``Registry.watch`` returns (``established``), since a sync caller has no ``await`` to
  say when.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Generator, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, Self, TypeVar

import grpc
import grpc.aio

from modelyard.errors import ModelyardError, Unavailable, from_rpc_error
from modelyard.v1 import registry_service_pb2, registry_service_pb2_grpc

__all__ = [
    "AsyncEstablishedOnAwait",
    "AsyncEvent",
    "AsyncWatchStream",
    "EstablishedOnAwait",
    "Event",
    "WatchStream",
    "aclose_channel",
    "call",
    "close_channel",
    "established",
    "gathered",
    "offload",
    "pending",
    "threaded",
]

_T = TypeVar("_T")


async def gathered(
    function: Callable[[_T], Awaitable[object]], items: Iterable[_T], parallel: int
) -> None:
    """Runs `function` on every item, `parallel` at a time; the first failure cancels the
    rest and is raised."""
    slots = asyncio.Semaphore(parallel)

    async def one(item: _T) -> None:
        async with slots:
            await function(item)

    async with asyncio.TaskGroup() as group:
        for item in items:
            group.create_task(one(item))


def threaded(function: Callable[[_T], object], items: Iterable[_T], parallel: int) -> None:
    """The sync twin of :func:`gathered`: `parallel` threads; the first failure is raised
    once the items started have ended."""
    with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="modelyard") as pool:
        for future in [pool.submit(function, item) for item in items]:
            future.result()


async def offload(function: Callable[..., _T], *args: Any) -> _T:
    """Runs blocking work (file I/O, hashing) in a thread, off the event loop."""
    return await asyncio.to_thread(function, *args)


def call(function: Callable[..., _T], *args: Any) -> _T:
    """The sync twin of :func:`offload`: runs it here."""
    return function(*args)


class _Establishes(Protocol):
    def establish(self) -> object: ...


_W = TypeVar("_W", bound=_Establishes)


def pending(watch: _W) -> _W:
    """Returns an async watch as made: it opens on ``await``, ``async with`` or the first
    iteration."""
    return watch


def established(watch: _W) -> _W:
    """Returns a sync watch once it has opened (``establish`` closes it if it cannot)."""
    watch.establish()
    return watch


class AsyncEstablishedOnAwait:
    """Makes ``await watch`` open the watch and return it."""

    async def establish(self) -> Self:
        raise NotImplementedError

    def __await__(self) -> Generator[Any, None, Self]:
        return self.establish().__await__()


class EstablishedOnAwait:
    """The sync twin of :class:`AsyncEstablishedOnAwait`: a sync watch has no ``await``."""

    def establish(self) -> Self:
        raise NotImplementedError


Event = threading.Event


async def aclose_channel(channel: grpc.aio.Channel) -> None:
    """Closes the channel at once, cancelling the calls in flight."""
    await channel.close(None)


def close_channel(channel: grpc.Channel) -> None:
    """Closes the channel, cancelling the calls in flight."""
    channel.close()


class AsyncEvent:
    """:class:`threading.Event` for asyncio: a flag to set, and to wait on for at most a
    timeout."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def set(self) -> None:
        """Sets the flag and wakes every waiter."""
        self._event.set()

    def is_set(self) -> bool:
        """Returns whether the flag is set."""
        return self._event.is_set()

    async def wait(self, timeout: float | None = None) -> bool:  # noqa: ASYNC109 (Event.wait's)
        """Returns whether the flag is set, once it is or ``timeout`` seconds have passed."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._event.wait()
        return self._event.is_set()


class ChannelClosed(Exception):
    """The watch's channel was closed with its registry: the watch ends with it."""


def _silent() -> ModelyardError:
    return Unavailable("the stream was silent for longer than idle_timeout; reconnecting")


class AsyncWatchStream:
    """One WatchEvents call that may stay silent (not even a heartbeat) for at most
    ``idle_timeout`` seconds (None: forever).

    The silence is timed by one watchdog timer per stream, moved on only when it fires: a
    timeout around every read cost each message a timer to schedule and cancel, about a
    twelfth of the CPU a process spends reading many busy streams.
    """

    def __init__(
        self,
        stub: registry_service_pb2_grpc.RegistryServiceAsyncStub,
        request: registry_service_pb2.WatchEventsRequest,
        *,
        metadata: tuple[tuple[str, str], ...],
        idle_timeout: float | None,
    ) -> None:
        try:
            self._call = stub.WatchEvents(request, metadata=metadata)
        except grpc.aio.UsageError as error:  # "Channel is closed."
            raise ChannelClosed from error
        self._idle_timeout = idle_timeout
        self._cancelled = False
        self._silent = False
        # When the read in progress began (by the loop's clock); None between reads.
        self._reading_since: float | None = None
        self._watchdog: asyncio.TimerHandle | None = None

    async def read(self) -> registry_service_pb2.WatchEventsResponse | None:
        """Returns the next message, or None once the stream has ended, cleanly or by
        :meth:`cancel`; raises ModelyardError when the call fails or stays silent too long."""
        if self._idle_timeout is not None:
            loop = asyncio.get_running_loop()
            self._reading_since = loop.time()
            if self._watchdog is None:
                self._watchdog = loop.call_at(self._reading_since + self._idle_timeout, self._due)
        try:
            message = await self._call.read()
        except BaseException as error:
            self._stop_watchdog()
            self._ended(error)
            return None
        finally:
            self._reading_since = None
        if message is grpc.aio.EOF:  # type: ignore[attr-defined]
            self._stop_watchdog()
            return None
        assert isinstance(message, registry_service_pb2.WatchEventsResponse)
        return message

    def _ended(self, error: BaseException) -> None:
        """Says what the failure of a read means: None when the stream was cancelled by
        :meth:`cancel`; otherwise raises (ModelyardError, ChannelClosed, or the error)."""
        if isinstance(error, asyncio.CancelledError):
            # cancel() ends a read in progress this way, and so do the watchdog and closing
            # the channel; the cancellation of the reading task itself is not ours to swallow.
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise error
            if self._silent:
                raise _silent() from None
            if self._cancelled:
                return None
            raise ChannelClosed from None
        if isinstance(error, grpc.RpcError):
            if self._silent:
                raise _silent() from None
            if self._cancelled:
                return None
            raise from_rpc_error(error) from None
        raise error

    def _due(self) -> None:
        """The watchdog: ends the call if the read in progress has waited `idle_timeout`;
        otherwise sets itself for when the read in progress would have (or goes to sleep
        until the next read, if none is in progress)."""
        self._watchdog = None
        since, limit = self._reading_since, self._idle_timeout
        if since is None or limit is None or self._cancelled:
            return
        loop = asyncio.get_running_loop()
        if loop.time() < since + limit:
            self._watchdog = loop.call_at(since + limit, self._due)
            return
        self._silent = True
        self._call.cancel()

    def _stop_watchdog(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None

    def cancel(self) -> None:
        """Ends the call; a read in progress returns None."""
        self._cancelled = True
        self._stop_watchdog()
        self._call.cancel()


class WatchStream:
    """One WatchEvents call that may stay silent (not even a heartbeat) for at most
    ``idle_timeout`` seconds (None: forever).

    A blocking read cannot time out, so a watchdog thread cancels the call once it has been
    silent too long; the thread ends with the call, or when the stream is dropped.
    """

    def __init__(
        self,
        stub: registry_service_pb2_grpc.RegistryServiceStub,
        request: registry_service_pb2.WatchEventsRequest,
        *,
        metadata: tuple[tuple[str, str], ...],
        idle_timeout: float | None,
    ) -> None:
        try:
            # grpc-stubs leaves cancel() untyped and the iterator without __next__.
            self._call: Any = stub.WatchEvents(request, metadata=metadata)
        except ValueError as error:  # "Cannot invoke RPC: Channel closed!"
            raise ChannelClosed from error
        self._cancelled = False
        self._went_silent = False
        self._last_message = time.monotonic()
        if idle_timeout is not None:
            threading.Thread(
                target=_watchdog, args=(weakref.ref(self), idle_timeout), daemon=True
            ).start()

    def read(self) -> registry_service_pb2.WatchEventsResponse | None:
        """Returns the next message, or None once the stream has ended, cleanly or by
        :meth:`cancel`; raises ModelyardError when the call fails or stays silent too long."""
        try:
            message = next(self._call)
        except StopIteration:
            return None
        except grpc.RpcError as rpc_error:
            if self._went_silent:
                raise _silent() from rpc_error
            if self._cancelled:
                return None
            raise from_rpc_error(rpc_error) from None
        self._last_message = time.monotonic()
        assert isinstance(message, registry_service_pb2.WatchEventsResponse)
        return message

    def cancel(self) -> None:
        """Ends the call; a read in progress returns None. Safe from any thread."""
        self._cancelled = True
        self._call.cancel()


def _watchdog(ref: weakref.ref[WatchStream], idle_timeout: float) -> None:
    """Cancels the stream's call once it has been silent too long, so its reader reconnects."""
    period = min(1.0, idle_timeout / 4)
    while True:
        time.sleep(period)
        stream = ref()
        if stream is None or not stream._call.is_active():
            return
        if time.monotonic() - stream._last_message > idle_timeout:
            stream._went_silent = True
            stream._call.cancel()
            return
        del stream  # hold no reference while asleep, so a dropped stream is freed


class AsyncBackground:
    """Runs a coroutine function as a task of the running loop until it returns or is
    stopped."""

    def __init__(self, work: Callable[[], Awaitable[None]]) -> None:
        self._task = asyncio.ensure_future(work())

    async def stop(self) -> None:
        """Cancels the work and waits for it to end."""
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


class Background:
    """The sync twin of :class:`AsyncBackground`: runs a function in a daemon thread, which
    the caller ends (by closing what it reads) before :meth:`stop` waits for it."""

    def __init__(self, work: Callable[[], None]) -> None:
        self._thread = threading.Thread(target=work, name="modelyard follow", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Waits for the work to end (a few seconds at most)."""
        self._thread.join(timeout=10)
