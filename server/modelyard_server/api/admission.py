"""Reads first: while reads are being answered, at most `--max-concurrent-writes` calls that
change the registry run at once in a server process; the others wait for their turn, in the
order they came, before any of their work starts. Reads and streams are never held, and with
no read started in the last second, writes are not held either.

Why: one event loop runs every call's Python, and a write's transaction waits for its turn
on the database anyway (GroupCommit takes one at a time, and commits the ones that queued
meanwhile together). Writes admitted beyond a couple make those batches larger, and the
writes faster, but they add their steps (validation, the change, the reply) to every turn of
the loop, and each read waits behind them. With 8 clients registering at full speed on two
cores, on SQLite, a get took 7 ms at the median and 11-16 ms at p99 with every write
admitted, and about the same with 4; with 2, about 2.3 ms and 3.5-6 ms, and three times as
many gets were answered, while the writes went 20-35% slower. Held always, the writes were
also about a quarter slower with no read to favour (8 clients registering, or seeding);
held only while reads go on, they are not (bench/: `run.py --quick --ops
get_seq,get_seq_under_writes,register_c8` with MODELYARD_MAX_CONCURRENT_WRITES set).

A call changes the registry when its request takes a `request_id`, the idempotency key of
the API's changes; the few unary calls that take none (tokens, a retention run, a webhook
redelivery) are not held, and count as reads; streams (uploads, downloads, WatchEvents) are
neither held nor counted. A waiting call whose deadline passes, or whose caller goes away,
ends without having started: nothing of it is written.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from typing import Any

import grpc
from google.protobuf import descriptor_pool

from modelyard_server.api.handlers import Context, Handler, WrappingInterceptor
from modelyard_server.observability import metrics


def changes_registry(method: str) -> bool | None:
    """Whether a method of the registry's API ("/modelyard.v1.RegistryService/GetModelVersion")
    changes the registry (its request has a request_id); None for a method of no service of
    ours (health, reflection)."""
    try:
        found = descriptor_pool.Default().FindMethodByName(method.strip("/").replace("/", "."))
    except KeyError:
        return None
    if not found.full_name.startswith("modelyard."):
        return None
    return "request_id" in found.input_type.fields_by_name


# Reads are being answered while one started within this many seconds.
READS_WINDOW_SECONDS = 1.0


class WriteAdmission(WrappingInterceptor):
    """Admits registry-changing calls: while reads are being answered, at most `limit` at
    once, the rest waiting first come first served (counted by modelyard_writes_waiting);
    with no reads to favour, every one."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self.last_read = -math.inf  # time.monotonic() when the newest read started
        self.writes = 0  # writes running
        self.waiting: deque[asyncio.Future[None]] = deque()

    def wrap(self, method: str, handler: Handler) -> Handler:
        behavior: Any = handler.unary_unary  # a coroutine function, whatever the stubs say
        changes = changes_registry(method)
        if behavior is None or changes is None:
            return handler  # a stream, or not the registry's: neither held nor counted
        codecs = (handler.request_deserializer, handler.response_serializer)
        if not changes:

            async def read(request: Any, context: Context) -> Any:
                self.last_read = time.monotonic()
                return await behavior(request, context)

            return grpc.unary_unary_rpc_method_handler(read, *codecs)

        async def write(request: Any, context: Context) -> Any:
            await self._admit()
            try:
                return await behavior(request, context)
            finally:
                self.writes -= 1
                self._wake()

        return grpc.unary_unary_rpc_method_handler(write, *codecs)

    def _room(self) -> bool:
        return self.writes < self.limit or time.monotonic() - self.last_read >= READS_WINDOW_SECONDS

    async def _admit(self) -> None:
        """Returns once the caller may run, counted in `writes`."""
        if not self.waiting and self._room():
            self.writes += 1
            return
        turn = asyncio.get_running_loop().create_future()
        self.waiting.append(turn)
        metrics.WRITES_WAITING.inc()
        try:
            await turn
        except asyncio.CancelledError:
            if turn.cancelled():  # still waiting: leave the queue, unless _wake passed it
                with contextlib.suppress(ValueError):
                    self.waiting.remove(turn)
            else:  # admitted as it was cancelled: pass the turn on
                self.writes -= 1
                self._wake()
            raise
        finally:
            metrics.WRITES_WAITING.dec()

    def _wake(self) -> None:
        """Admits waiting writes, oldest first, while there is room."""
        while self.waiting and self._room():
            turn = self.waiting.popleft()
            if turn.done():  # cancelled while it waited: its caller is leaving
                continue
            self.writes += 1
            turn.set_result(None)
