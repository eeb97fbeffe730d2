"""Calls the empty RPC with the client machinery the SDK uses: a grpc sync channel for the
sequential measurement, one grpc.aio channel with N concurrent calls for the others. Each
call carries a bearer token in its metadata and a deadline, as the SDK's calls do.
Prints {"limits": {name: result}} on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json

import grpc
from benchlib import Result, emit, log, measure_async, measure_sequential, watch_server
from empty_server import FULL_METHOD
from google.protobuf.empty_pb2 import Empty
from workload import LIMITS

METADATA = (("authorization", "Bearer " + "x" * 43),)  # the size of a real token
TIMEOUT_S = 10.0


def sequential(address: str, n: int, max_seconds: float) -> Result:
    with grpc.insecure_channel(address) as channel:
        call = channel.unary_unary(
            FULL_METHOD,
            request_serializer=Empty.SerializeToString,
            response_deserializer=Empty.FromString,
        )
        request = Empty()
        return measure_sequential(
            lambda i: call(request, timeout=TIMEOUT_S, metadata=METADATA),
            n,
            warmup=200,
            max_seconds=max_seconds,
        )


async def concurrent(address: str, clients: int, n: int, max_seconds: float) -> Result:
    async with grpc.aio.insecure_channel(address) as channel:
        call = channel.unary_unary(
            FULL_METHOD,
            request_serializer=Empty.SerializeToString,
            response_deserializer=Empty.FromString,
        )
        request = Empty()

        async def op(i: int) -> Empty:
            response: Empty = await call(request, timeout=TIMEOUT_S, metadata=METADATA)
            return response

        return await measure_async(op, clients, n, warmup_per_client=20, max_seconds=max_seconds)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--address", required=True)
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--max-seconds", type=float, default=10.0)
    parser.add_argument("--server-sid", type=int, help="session id of the server under test")
    args = parser.parse_args()
    watch_server(args.server_sid)
    limits: dict[str, Result] = {}
    for name, title, clients in LIMITS:
        log(f"empty RPC: {title}")
        if clients == 1:
            limits[name] = sequential(args.address, args.n, args.max_seconds)
        else:
            limits[name] = asyncio.run(concurrent(args.address, clients, args.n, args.max_seconds))
        log(f"  {json.dumps(limits[name])}")
    emit({"limits": limits, "grpc_version": grpc.__version__})


if __name__ == "__main__":
    main()
