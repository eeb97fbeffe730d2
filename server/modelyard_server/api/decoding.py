"""Requests whose bytes do not parse: INVALID_ARGUMENT (MALFORMED_REQUEST) with ErrorInfo.

grpc parses a request before any servicer code runs, and answers a parse failure with
UNKNOWN and the exception's class in the message. A caller who sends corrupt bytes, a string
that is not UTF-8 or messages nested too deep gets the typed error every other bad input
gets instead: the request is parsed here, and a failure is handed on as `Malformed`, which
the call then ends with, after the caller is authenticated like any other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import DecodeError
from modelyard.v1 import errors_pb2 as reasons

from modelyard_server.api.errors import abort
from modelyard_server.api.handlers import Context, Handler, WrappingInterceptor, with_step
from modelyard_server.domain.errors import InvalidArgument


@dataclass(frozen=True)
class Malformed:
    """What a request that does not parse becomes: why it does not."""

    problem: str

    def error(self) -> InvalidArgument:
        return InvalidArgument(
            reasons.MALFORMED_REQUEST,
            f"the request does not parse: {self.problem}; send a serialized request message "
            "(the generated stubs and the SDK do)",
        )


def _tolerant(parse: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
    def deserialize(data: bytes) -> Any:
        try:
            return parse(data)
        except DecodeError as error:
            return Malformed(str(error))

    return deserialize


class DecodingInterceptor(WrappingInterceptor):
    """Parses every request itself, so that one that does not parse ends as Malformed says."""

    def wrap(self, method: str, handler: Handler) -> Handler:
        if handler.request_deserializer is None or handler.request_streaming:
            return handler  # no requests of ours stream; grpc parses each of theirs

        async def parsed(request: Any, context: Context) -> None:
            if isinstance(request, Malformed):
                await abort(context, request.error())

        wrapped = with_step(handler, parsed, _tolerant(handler.request_deserializer))
        return handler if wrapped is None else wrapped
