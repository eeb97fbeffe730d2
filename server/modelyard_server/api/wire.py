"""List responses written straight from the stored messages.

A stored group or version is its message in the wire encoding (store/: the row's body), and
a List response is those messages as one repeated field and a next_page_token: on the wire,
each item is its field's tag, its length as a varint, and the bytes as stored (the protobuf
encoding of a length-delimited field). Writing that is a join; parsing 100 versions,
copying them into the response and encoding it again cost seven times as much. The bytes
stand in for the response message until grpc sends them: the handlers' serializer
(api/decoding.py) sends bytes as they are.
"""

from __future__ import annotations

from typing import Any, TypeVar, cast

from google.protobuf.message import Message

from modelyard_server.domain.repositories import Encoded

M = TypeVar("M", bound=Message)

_LENGTH_DELIMITED = 2
# Per response type: the tags of its repeated items and of its next_page_token.
_TAGS: dict[type[Message], tuple[bytes, bytes]] = {}


def varint(value: int) -> bytes:
    """The base-128 varint of a non-negative integer, low groups of 7 bits first."""
    if value < 0x80:
        return bytes((value,))
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _tags(kind: type[Message]) -> tuple[bytes, bytes]:
    tags = _TAGS.get(kind)
    if tags is None:
        fields = kind.DESCRIPTOR.fields
        (items,) = [f for f in fields if f.is_repeated and f.message_type]
        token = kind.DESCRIPTOR.fields_by_name["next_page_token"]
        tags = _TAGS[kind] = (
            varint(items.number << 3 | _LENGTH_DELIMITED),
            varint(token.number << 3 | _LENGTH_DELIMITED),
        )
    return tags


def list_response(kind: type[M], items: Encoded[Any], next_page_token: str) -> M:
    """Returns the List response of `kind` holding `items` and the token, as its wire bytes."""
    item_tag, token_tag = _tags(kind)
    parts = [b"".join((item_tag, varint(len(data)), data)) for data in items.data]
    if next_page_token:
        token = next_page_token.encode()
        parts.append(b"".join((token_tag, varint(len(token)), token)))
    return cast(M, b"".join(parts))
