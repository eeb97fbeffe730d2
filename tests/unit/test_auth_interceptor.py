"""The auth interceptor authenticates every kind of method before it runs, and refuses what
it cannot authenticate.

No method of the registry streams requests today; the day an upload stream is added, it
must not be served unauthenticated. A server in this test serves one method of each kind
behind the interceptor.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc
import grpc.aio
import pytest

from tests.support.inprocess import Authenticator, AuthInterceptor, Principal, current_principal

SERVICE = "test.Kinds"
TOKEN = "known-token"
ME = Principal("ann", "default", frozenset({"viewer"}))
Context = grpc.aio.ServicerContext[Any, Any]


def identity(data: bytes) -> bytes:
    return data


async def lookup(token: str) -> Principal | None:
    return ME if token == TOKEN else None


async def unary_unary(request: bytes, context: Context) -> bytes:
    return current_principal().subject.encode()


async def unary_stream(request: bytes, context: Context) -> AsyncIterator[bytes]:
    yield current_principal().subject.encode()


async def stream_unary(requests: AsyncIterator[bytes], context: Context) -> bytes:
    count = len([r async for r in requests])
    return f"{current_principal().subject}:{count}".encode()


async def stream_stream(requests: AsyncIterator[bytes], context: Context) -> AsyncIterator[bytes]:
    async for request in requests:
        yield current_principal().subject.encode() + b":" + request


HANDLERS = {
    "UnaryUnary": grpc.unary_unary_rpc_method_handler(unary_unary, identity, identity),
    "UnaryStream": grpc.unary_stream_rpc_method_handler(unary_stream, identity, identity),
    "StreamUnary": grpc.stream_unary_rpc_method_handler(stream_unary, identity, identity),
    "StreamStream": grpc.stream_stream_rpc_method_handler(stream_stream, identity, identity),
}


@pytest.fixture
async def address() -> AsyncIterator[str]:
    server = grpc.aio.server(interceptors=[AuthInterceptor(Authenticator(lookup))])
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(SERVICE, HANDLERS)])
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield f"127.0.0.1:{port}"
    await server.stop(None)


async def requests(*items: bytes) -> AsyncIterator[bytes]:
    for item in items:
        yield item


async def call(
    channel: grpc.aio.Channel, kind: str, token: str | None, items: tuple[bytes, ...] = ()
) -> list[bytes]:
    """Calls the method of that kind (streaming `items` to it) and returns what it answered.

    A refused call streams nothing: the refusal may end the call while the client is still
    sending, and the client would then report its own failed send instead of the status.
    """
    metadata = (("authorization", f"Bearer {token}"),) if token else ()
    method = f"/{SERVICE}/{kind}"
    if kind == "UnaryUnary":
        unary = channel.unary_unary(method, identity, identity)
        return [await unary(b"x", metadata=metadata, timeout=10)]
    if kind == "UnaryStream":
        answers = channel.unary_stream(method, identity, identity)
        return [r async for r in answers(b"x", metadata=metadata, timeout=10)]
    if kind == "StreamUnary":
        gathered = channel.stream_unary(method, identity, identity)
        return [await gathered(requests(*items), metadata=metadata, timeout=10)]
    both = channel.stream_stream(method, identity, identity)
    return [r async for r in both(requests(*items), metadata=metadata, timeout=10)]


ANSWERS = {
    "UnaryUnary": [b"ann"],
    "UnaryStream": [b"ann"],
    "StreamUnary": [b"ann:2"],
    "StreamStream": [b"ann:a", b"ann:b"],
}


def kinds() -> Iterator[str]:
    yield from HANDLERS


@pytest.mark.parametrize("kind", list(kinds()))
async def test_every_kind_of_method_refuses_a_call_without_a_known_token(
    address: str, kind: str
) -> None:
    async with grpc.aio.insecure_channel(address) as channel:
        for token in (None, "stolen"):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await call(channel, kind, token)
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED


@pytest.mark.parametrize("kind", list(kinds()))
async def test_every_kind_of_method_runs_as_the_caller_of_a_known_token(
    address: str, kind: str
) -> None:
    async with grpc.aio.insecure_channel(address) as channel:
        assert await call(channel, kind, TOKEN, (b"a", b"b")) == ANSWERS[kind]
