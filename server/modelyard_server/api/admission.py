"""Write admission: at most `--max-concurrent-writes` calls that change the registry run at
once in a server process; the others wait for their turn, in the order they came, before
any of their work starts. Reads and streams are never held.

Why: one event loop runs every call's Python, and a write's transaction waits for its turn
on the database anyway (GroupCommit takes one at a time, and commits the ones that queued
meanwhile together). Writes admitted beyond a couple make those batches larger, not the
writes much faster; they add their steps (validation, the change, the reply) to every turn
of the loop, and each read waits behind them. With 8 clients registering at full speed on
two cores, on SQLite, a get took 7 ms at the median and 11 ms at p99 with every write
admitted, and about the same with 4; with 2, about 2.3 ms and 3.5-4.1 ms, three times as
many gets were answered, and the writes went 20-35% slower (bench/: `run.py --quick --ops
get_seq,get_seq_under_writes,register_c8` with MODELYARD_MAX_CONCURRENT_WRITES set). A
registry is read far more than it is written, so the default is 2; a bulk load that nobody
reads during may raise it.

A call changes the registry when its request takes a `request_id`, the idempotency key of
the API's changes; the few calls that take none (tokens, a retention run, blob uploads) are
not held. A waiting call whose deadline passes, or whose caller goes away, ends without
having started: nothing of it is written.
"""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
from google.protobuf import descriptor_pool

from modelyard_server.api.handlers import Context, Handler, WrappingInterceptor
from modelyard_server.observability import metrics


def changes_registry(method: str) -> bool:
    """Whether a method ("/modelyard.v1.RegistryService/CreateModelVersion") is a call that
    changes the registry: its request has a request_id."""
    try:
        found = descriptor_pool.Default().FindMethodByName(method.strip("/").replace("/", "."))
    except KeyError:  # health, reflection: not ours
        return False
    return "request_id" in found.input_type.fields_by_name


class WriteAdmission(WrappingInterceptor):
    """Runs at most `limit` registry-changing calls at once; the rest wait, first come first
    served, counted by modelyard_writes_waiting."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.turns = asyncio.Semaphore(limit)

    def wrap(self, method: str, handler: Handler) -> Handler:
        behavior: Any = handler.unary_unary  # a coroutine function, whatever the stubs say
        if behavior is None or not changes_registry(method):
            return handler
        turns = self.turns

        async def admitted(request: Any, context: Context) -> Any:
            if turns.locked():
                metrics.WRITES_WAITING.inc()
                try:
                    await turns.acquire()
                finally:
                    metrics.WRITES_WAITING.dec()
            else:
                await turns.acquire()
            try:
                return await behavior(request, context)
            finally:
                turns.release()

        return grpc.unary_unary_rpc_method_handler(
            admitted, handler.request_deserializer, handler.response_serializer
        )
