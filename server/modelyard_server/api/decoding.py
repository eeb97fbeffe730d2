"""Requests whose bytes do not parse: INVALID_ARGUMENT (MALFORMED_REQUEST) with ErrorInfo;
and responses already encoded (api/wire.py), sent as they are.

grpc parses a request before any servicer code runs, and answers a parse failure with
UNKNOWN and the exception's class in the message. A caller who sends corrupt bytes, a string
that is not UTF-8 or messages nested too deep gets the typed error every other bad input
gets instead: the request is parsed here, and a failure is handed on as `Malformed`, which
the call then ends with, after the caller is authenticated like any other.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
from google.protobuf.message import DecodeError

from modelyard_server.api.errors import Malformed, abort
from modelyard_server.api.handlers import Context, Handler, WrappingInterceptor, with_step


def _verbatim(encode: Callable[[Any], bytes]) -> Callable[[Any], bytes]:
    """Encodes a response message; a response that is its encoding already is sent as is."""

    def serialize(response: Any) -> bytes:
        return response if type(response) is bytes else encode(response)

    return serialize


def _tolerant(parse: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
    def deserialize(data: bytes) -> Any:
        try:
            return parse(data)
        except DecodeError as error:
            return Malformed(str(error))

    return deserialize


class DecodingInterceptor(WrappingInterceptor):
    """Parses every request itself, so that one that does not parse ends as Malformed says;
    sends unary responses that a servicer encoded itself as they are."""

    def wrap(self, method: str, handler: Handler) -> Handler:
        if handler.request_deserializer is None:
            return handler
        if handler.request_streaming:
            # Each message is parsed as the servicer reads it; one that does not parse
            # arrives as Malformed, and client_stream_rpc ends the call with its error.
            if handler.stream_unary is None:
                return handler  # no method of ours streams both ways
            return grpc.stream_unary_rpc_method_handler(
                handler.stream_unary,
                request_deserializer=_tolerant(handler.request_deserializer),
                response_serializer=handler.response_serializer,
            )

        async def parsed(request: Any, context: Context) -> None:
            if isinstance(request, Malformed):
                await abort(context, request.error())

        encode = handler.response_serializer
        wrapped = with_step(
            handler,
            parsed,
            _tolerant(handler.request_deserializer),
            _verbatim(encode) if encode is not None else None,
        )
        return handler if wrapped is None else wrapped
