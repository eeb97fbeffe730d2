"""Calls the empty RPC with the client machinery the SDK uses: a grpc sync channel for the
sequential measurement, one grpc.aio channel with N concurrent calls for the others. Each
call carries a bearer token in its metadata and a deadline, as the SDK's calls do.
Prints {"limits": {name: result}} on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

import grpc
from benchlib import (
    Result,
    emit,
    log,
    measure_async,
    measure_sequential,
    measure_shards,
    run_shard,
    watch_server,
)
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


async def concurrent(
    address: str, clients: int, n: int, max_seconds: float, shard: bool = False
) -> Result | None:
    """`clients` concurrent calls over one grpc.aio channel (as a shard: see run_shard)."""
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

        if shard:
            await run_shard(op, clients, n, warmup_per_client=20, max_seconds=max_seconds)
            return None
        return await measure_async(op, clients, n, warmup_per_client=20, max_seconds=max_seconds)


def concurrent_sharded(
    address: str, clients: int, n: int, max_seconds: float, procs: int
) -> Result:
    """The clients split over `procs` processes, one channel (connection) each."""
    if procs <= 1:
        result = asyncio.run(concurrent(address, clients, n, max_seconds))
        assert result is not None
        return result
    me = [sys.executable, str(Path(__file__).resolve()), "--address", address]
    return measure_shards(
        [
            [
                *me,
                "--shard-clients",
                str(clients // procs + (1 if k < clients % procs else 0)),
                "--n",
                str(n // procs),
                "--max-seconds",
                str(max_seconds),
            ]
            for k in range(procs)
        ],
        clients,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--address", required=True)
    parser.add_argument("--n", type=int, default=50_000, help="calls per measurement, at most")
    parser.add_argument("--max-seconds", type=float, default=4.0, help="per measurement")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--server-sid", type=int, help="session id of the server under test")
    parser.add_argument("--client-procs", type=int, default=1, help="processes for concurrency")
    parser.add_argument("--shard-clients", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.shard_clients:  # one of several client processes of a concurrent measurement
        asyncio.run(concurrent(args.address, args.shard_clients, args.n, args.max_seconds, True))
        return
    watch_server(args.server_sid)
    # A limit is the best the machine can do: each measurement runs `rounds` times,
    # interleaved, and the best round (by throughput) is the limit; a round that other
    # processes on the machine slowed down does not lower it.
    rounds: dict[str, list[Result]] = {name: [] for name, _, _ in LIMITS}
    for r in range(args.rounds):
        for name, title, clients in LIMITS:
            log(f"empty RPC, round {r + 1}/{args.rounds}: {title}")
            if clients == 1:
                result = sequential(args.address, args.n, args.max_seconds)
            else:
                result = concurrent_sharded(
                    args.address, clients, args.n, args.max_seconds, args.client_procs
                )
            log(f"  {json.dumps(result)}")
            rounds[name].append(result)
    limits: dict[str, Result] = {}
    for name, results in rounds.items():
        best = dict(max(results, key=lambda x: float(x["ops_per_s"])))
        best["rounds_ops_per_s"] = [x["ops_per_s"] for x in results]
        limits[name] = best
    emit({"limits": limits, "grpc_version": grpc.__version__})


if __name__ == "__main__":
    main()
