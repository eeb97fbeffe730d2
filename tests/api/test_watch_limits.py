"""What one server gives event streams: a limit on each principal's open streams, and
idle streams that cost the writers nothing and all still hear of every change."""

from __future__ import annotations

import time
from typing import Any

import grpc
import pytest
from modelyard import Registry, errors
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
