"""A bare grpc.aio server with one empty unary RPC: the physical limit of this machine.

`/bench.Empty/Call` takes and returns google.protobuf.Empty and does nothing else: no
interceptors, no authentication, no database. Whatever modelyard does per request costs
on top of this. Runs in the top-level venv, as its own process, until SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import signal

import grpc
from google.protobuf.empty_pb2 import Empty

SERVICE = "bench.Empty"
METHOD = "Call"
FULL_METHOD = f"/{SERVICE}/{METHOD}"


async def call(request: Empty, context: grpc.aio.ServicerContext[Empty, Empty]) -> Empty:
    return Empty()


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
    server.add_generic_rpc_handlers((handler,))
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
