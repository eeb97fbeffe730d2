"""The machine's limit for moving bytes over gRPC on loopback: a bare grpc.aio server with
one client-streaming and one server-streaming method of raw bytes (no protobuf, no disk, no
hashing, no interceptor). bench/artifacts.py measures it beside modelyard and MLflow.

Usage: python artifact_limit.py PORT
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from typing import Any

import grpc

CHUNK = 1 << 20


async def put(requests: AsyncIterator[bytes], context: Any) -> bytes:
    total = 0
    async for chunk in requests:
        total += len(chunk)
    return str(total).encode()


async def get(request: bytes, context: Any) -> AsyncIterator[bytes]:
    chunk = b"\0" * CHUNK
    left = int(request.decode())
    while left > 0:
        yield chunk[: min(CHUNK, left)]
        left -= CHUNK


async def main(port: int) -> None:
    server = grpc.aio.server(options=[("grpc.max_receive_message_length", 4 << 20)])
    handler = grpc.method_handlers_generic_handler(
        "bench.Bytes",
        {
            "Put": grpc.stream_unary_rpc_method_handler(put),
            "Get": grpc.unary_stream_rpc_method_handler(get),
        },
    )
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await server.wait_for_termination()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
