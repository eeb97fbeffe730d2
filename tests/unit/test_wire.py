"""A List response written from stored messages (api/wire.py) is, byte for byte, what a
client parses into the response the server would have built: the same items in the same
order and the same next_page_token, whatever the items' sizes and the token's text."""

from __future__ import annotations

from google.protobuf.message import Message
from hypothesis import given, settings
from hypothesis import strategies as st
from modelyard.v1 import registry_service_pb2 as rs
from modelyard.v1 import resources_pb2 as pb
from modelyard_server.api.wire import list_response, varint
from modelyard_server.domain.repositories import Encoded

# Descriptions long enough to cross each varint length of a body: 1, 2 and 3 bytes.
descriptions = st.one_of(st.text(max_size=40), st.text(min_size=100, max_size=300)).map(
    lambda text: text * 80 if len(text) > 200 else text
)
versions = st.builds(
    lambda n, description, tags: pb.ModelVersion(
        name=f"groups/g/versions/{n}", version=n, description=description, tags=tags
    ),
    st.integers(min_value=1, max_value=2**40),
    descriptions,
    st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=8), max_size=3),
)
groups = st.builds(
    lambda name, description: pb.ModelGroup(name=f"groups/{name}", description=description),
    st.text(min_size=1, max_size=20),
    descriptions,
)


def sent(kind: type[Message], items: list[Message], token: str) -> Message:
    """The response as a client reads it, written from the items as the store keeps them."""
    stored = Encoded(bytes, [item.SerializeToString(deterministic=True) for item in items])
    data = list_response(kind, stored, token)
    assert isinstance(data, bytes)
    return kind.FromString(data)


# Each List response written from stored messages: its type, its items' field, and items.
PAGES = [
    (rs.ListModelVersionsResponse, "model_versions", versions),
    (rs.ListModelGroupsResponse, "model_groups", groups),
]


@settings(max_examples=300, deadline=None)
@given(st.data(), st.text(max_size=300))
def test_a_page_reads_as_the_response_built_from_its_items(data: st.DataObject, token: str) -> None:
    kind, field, item = data.draw(st.sampled_from(PAGES))
    items: list[Message] = data.draw(st.lists(item, max_size=12))
    built = kind(**{field: items, "next_page_token": token})
    assert sent(kind, items, token) == built


@given(st.integers(min_value=0, max_value=2**64 - 1))
def test_a_varint_is_protobufs(value: int) -> None:
    # ModelVersion.version is int64 field 2: its tag (2 << 3, varint) and the value's varint,
    # which an int64 reads as two's complement.
    parsed = pb.ModelVersion.FromString(b"\x10" + varint(value))
    assert parsed.version == (value - 2**64 if value >= 2**63 else value)


def test_the_stored_messages_are_parsed_once_and_only_when_read() -> None:
    calls: list[bytes] = []

    def parse(data: bytes) -> pb.ModelVersion:
        calls.append(data)
        return pb.ModelVersion.FromString(data)

    data = [pb.ModelVersion(version=n).SerializeToString() for n in (1, 2)]
    stored = Encoded(parse, data)
    assert len(stored) == 2 and calls == []
    assert [v.version for v in stored] == [1, 2] and stored[1].version == 2
    assert calls == data
