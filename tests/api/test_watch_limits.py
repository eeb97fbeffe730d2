"""What one server gives event streams: a limit on each principal's open streams, and
idle streams that cost the writers nothing and all still hear of every change."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import grpc
import pytest
from modelyard import AsyncRegistry, AsyncWatch, Registry, errors
from modelyard.v1 import registry_service_pb2 as rs
from modelyard.v1 import registry_service_pb2_grpc

from tests.support.factory import ServerFactory
from tests.support.status import reason_of
from tests.support.stubs import bearer


def open_stream(channel: grpc.Channel, token: str, group: str = "") -> Any:
    """Returns a WatchEvents call that has read its first message (the heartbeat)."""
    stub = registry_service_pb2_grpc.RegistryServiceStub(channel)
    request = rs.WatchEventsRequest(groups=[f"groups/{group}"] if group else [])
    call: Any = stub.WatchEvents(request, metadata=bearer(token), timeout=60)
    assert next(call).HasField("heartbeat")
    return call


def try_open(channel: grpc.Channel, token: str) -> Any:
    """Returns an open stream, or None while the principal may not open one more."""
    try:
        return open_stream(channel, token)
    except grpc.RpcError as refused:
        if reason_of(refused) != "TOO_MANY_STREAMS":
            raise
        return None


def test_one_stream_more_than_a_principal_may_hold_is_resource_exhausted(
    server_factory: ServerFactory,
) -> None:
    with (
        server_factory(watch_streams_per_principal="2") as server,
        grpc.insecure_channel(server.address) as channel,
    ):
        held = [open_stream(channel, server.token) for _ in range(2)]
        with pytest.raises(grpc.RpcError) as caught:
            open_stream(channel, server.token)
        error = caught.value
        assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert reason_of(error) == "TOO_MANY_STREAMS"
        message = error.details() or ""
        assert "--watch-streams-per-principal" in message and "is 2" in message, message
        # Another principal has streams of its own; the SDK raises instead of retrying.
        vic = server.mint_token("vic", "viewer")
        open_stream(channel, vic).cancel()
        with (
            Registry(server.address, token=server.token) as registry,
            pytest.raises(errors.TooManyStreams),
        ):
            registry.watch(timeout=10).establish()
        # A stream that ends gives its place back.
        held.pop().cancel()
        deadline = time.monotonic() + 10
        while (opened := try_open(channel, server.token)) is None:
            assert time.monotonic() < deadline, "the ended stream was never released"
            time.sleep(0.05)
        held.append(opened)
        for call in held:
            call.cancel()


PER_CHANNEL = 100


@pytest.mark.timeout(120)
async def test_many_idle_streams_each_get_what_they_watch_and_heartbeats_reach_the_head(
    server_factory: ServerFactory,
) -> None:
    """A write wakes only the streams whose filters may want it; the others stay asleep, yet
    each gets every event it watches, and its heartbeats carry the head all the same."""
    counts = {"a": 150, "b": 150, "": 30}  # "": no group filter, the whole log
    with server_factory(heartbeat_seconds="0.3", watch_streams_per_principal="400") as server:
        registries = [
            AsyncRegistry(server.address, token=server.token, timeout=30)
            for _ in range(-(-sum(counts.values()) // PER_CHANNEL))
        ]
        try:
            admin = registries[0]
            await admin.create_group("a")
            await admin.create_group("b")
            watches: dict[str, list[AsyncWatch]] = {group: [] for group in counts}
            for i, (group, _) in enumerate(
                (group, n) for group, count in counts.items() for n in range(count)
            ):
                watch = registries[i // PER_CHANNEL].watch(groups=[group] if group else [])
                watches[group].append(await watch)
            received: dict[AsyncWatch, list[str]] = {}

            async def follow(watch: AsyncWatch) -> None:
                async for event in watch:
                    received.setdefault(watch, []).append(event.resource)

            followers = [asyncio.create_task(follow(w)) for ws in watches.values() for w in ws]
            made_a = await admin.register("a", uri="s3://m/a", sha256="a" * 64)
            made_b = await admin.register("b", uri="s3://m/b", sha256="b" * 64)
            head = (await admin.verify_audit_log()).head_seq
            everyone = [w for ws in watches.values() for w in ws]
            for _ in range(300):  # 30 s
                if all((w.cursor or 0) >= head for w in everyone):
                    break
                await asyncio.sleep(0.1)
            behind = [w.cursor for w in everyone if (w.cursor or 0) < head]
            assert behind == [], f"heartbeats never brought these cursors to {head}"
            for watch in everyone:
                await watch.close()
            await asyncio.gather(*followers)
        finally:
            for registry in registries:
                await registry.close()
    assert all(received.get(w) == [made_a.name] for w in watches["a"])
    assert all(received.get(w) == [made_b.name] for w in watches["b"])
    assert all(received.get(w) == [made_a.name, made_b.name] for w in watches[""])
