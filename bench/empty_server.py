"""A bare grpc.aio server: the physical limit of this machine, for calls and for streams.

`/bench.Empty/Call` takes and returns google.protobuf.Empty and does nothing else: no
interceptors, no authentication, no database. Whatever modelyard does per request costs
on top of this.

`/bench.Fanout/Watch` is a server stream that first sends an empty message, then every
message anyone publishes; `/bench.Fanout/Publish` hands its request's bytes, as they are, to
every open Watch. That is the least a server can do to fan an event out to many streams
(no filters, no log, one serialization for all), the limit fanout.py --limit measures.

Runs in the top-level venv, as its own process, until SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import AsyncIterator

import grpc
from google.protobuf.empty_pb2 import Empty

SERVICE = "bench.Empty"
METHOD = "Call"
FULL_METHOD = f"/{SERVICE}/{METHOD}"
FANOUT_WATCH = "/bench.Fanout/Watch"
FANOUT_PUBLISH = "/bench.Fanout/Publish"


async def call(request: Empty, context: grpc.aio.ServicerContext[Empty, Empty]) -> Empty:
    return Empty()


class Fanout:
    """Every open Watch's queue of messages to send, and the event that wakes it."""

    def __init__(self) -> None:
        self.watchers: dict[int, tuple[list[bytes], asyncio.Event]] = {}

    async def watch(self, request: bytes, context: object) -> AsyncIterator[bytes]:
        waiting: list[bytes] = []
        wake = asyncio.Event()
        self.watchers[id(waiting)] = (waiting, wake)
        try:
            yield b""
            while True:
                await wake.wait()
                wake.clear()
                sending, waiting[:] = waiting[:], []
                for message in sending:
                    yield message
        finally:
            del self.watchers[id(waiting)]

    async def publish(self, request: bytes, context: object) -> bytes:
        for waiting, wake in self.watchers.values():
            waiting.append(request)
            wake.set()
        return b""


def as_is(data: bytes) -> bytes:
    return data


async def serve(address: str) -> None:
    server = grpc.aio.server()
    handler = grpc.method_handlers_generic_handler(
        SERVICE,
        {
            METHOD: grpc.unary_unary_rpc_method_handler(
                call,
                request_deserializer=Empty.FromString,
                response_serializer=Empty.SerializeToString,
            )
        },
    )
    fanout = Fanout()
    streams = grpc.method_handlers_generic_handler(
        "bench.Fanout",
        {
            "Watch": grpc.unary_stream_rpc_method_handler(
                fanout.watch, request_deserializer=as_is, response_serializer=as_is
            ),
            "Publish": grpc.unary_unary_rpc_method_handler(
                fanout.publish, request_deserializer=as_is, response_serializer=as_is
            ),
        },
    )
    server.add_generic_rpc_handlers((handler, streams))
    if server.add_insecure_port(address) == 0:
        raise SystemExit(f"cannot bind {address}")
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"empty server listening on {address}", flush=True)
    await stop.wait()
    await server.stop(grace=1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--address", required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.address))


if __name__ == "__main__":
    main()
