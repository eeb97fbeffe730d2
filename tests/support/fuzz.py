"""Hypothesis strategies that build any protobuf message from its descriptor, as a hostile
caller would: every scalar at its edges, unknown enum values, out-of-range timestamps,
garbage field masks, Structs with NaN, deep nesting, huge and odd strings.

Requests that fail at parsing test little, so the values lean toward what the server would
accept: each resource reference (`google.api.resource_reference` in the proto) is mostly the
name of a resource of that type that exists (`Names`), or one made from the type's pattern
with odd parts; a page token is mostly one the server issued, or one forged from it; each
field is mostly plausible and sometimes garbage.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, TypeVar

from google.api import field_behavior_pb2, resource_pb2
from google.protobuf import field_mask_pb2, message_factory, struct_pb2, timestamp_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor
from google.protobuf.message import Message
from hypothesis import strategies as st

from tests.support.hostile import (
    BAD_IDS,
    BAD_KEYS,
    EDGE_STRINGS,
    FILTER_OPS,
    FILTERS,
    INT32,
    INT64,
    KEYS,
    NUMBERS,
    ODD_FILTER_OPS,
    ORDERINGS,
    ROLES,
    UINT32,
    UINT64,
    URIS,
    forged_tokens,
)

T = TypeVar("T")

PLAIN = st.text("abcdefghijklmnopqrstuvwxyz0123456789 -_.", max_size=20)
TAME = st.text("abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=12)


def weighted(*choices: tuple[int, st.SearchStrategy[T]]) -> st.SearchStrategy[T]:
    """Returns a strategy that picks among others in proportion to their weights."""
    pool = [strategy for weight, strategy in choices for _ in range(weight)]
    return st.sampled_from(pool).flatmap(lambda strategy: strategy)


def pick(items: Sequence[T]) -> st.SearchStrategy[T]:
    """Returns one of the items (there must be some)."""
    return st.sampled_from(list(items))


def pick_name(items: Sequence[str]) -> st.SearchStrategy[str]:
    """Returns one of the names; an empty string while there are none yet."""
    return st.sampled_from(list(items)) if items else st.just("")


def _extension(options: Any, extension: Any) -> Any:
    """Returns an option extension's value (the typing of extensions is too loose to help)."""
    return options.Extensions[extension]


class Names:
    """What exists on the server, by resource type (`modelyard.dev/ModelVersion`), and what
    it issued (page tokens, etags, artifact digests): what the fuzzer's requests name."""

    def __init__(self) -> None:
        self.by_type: dict[str, list[str]] = {}
        self.page_tokens: list[str] = []
        self.etags: list[str] = []
        self.sha256s: list[str] = []
        self.subjects: list[str] = []

    def add(self, resource_type: str, *names: str) -> None:
        self.by_type.setdefault(resource_type, []).extend(names)

    def of(self, resource_type: str) -> list[str]:
        return self.by_type.get(resource_type, [])

    def everything(self) -> list[str]:
        return [name for names in self.by_type.values() for name in names]


def resource_patterns(*descriptors: Descriptor) -> dict[str, str]:
    """Returns the pattern of every resource type (`google.api.resource`) among the messages
    the descriptors use, e.g. `modelyard.dev/ModelGroup` -> `groups/{group}`."""
    patterns: dict[str, str] = {}
    seen: set[str] = set()
    todo = list(descriptors)
    while todo:
        descriptor = todo.pop()
        if descriptor.full_name in seen:
            continue
        seen.add(descriptor.full_name)
        resource = _extension(descriptor.GetOptions(), resource_pb2.resource)
        if resource.type and resource.pattern:
            patterns[resource.type] = resource.pattern[0]
        todo.extend(f.message_type for f in descriptor.fields if f.message_type is not None)
    return patterns


class Strategies:
    """Builds the strategies of messages, knowing the names that exist on the server and
    the resource patterns of the protos.

    A `tame` instance leaves out the odd values (garbage, edges, unknown enums, forged
    tokens): its requests are mostly valid and reach the deepest code, where a wild
    instance's mostly stop at validation. The fuzz draws from both.
    """

    def __init__(
        self, names: Names, patterns: dict[str, str], *, tame: bool = False, max_depth: int = 4
    ) -> None:
        self.names = names
        self.patterns = patterns
        self.tame = tame
        self.max_depth = max_depth
        text = st.text(st.characters(codec="utf-8"), max_size=40)  # no lone surrogates
        self.garbage = TAME if tame else weighted((1, pick(EDGE_STRINGS)), (1, text))
        self.plain = self.mix((4, PLAIN if not tame else TAME), odd=[(1, self.garbage)])
        self.segments = self._segments()
        self.any_name = self.mix(
            (3, pick_name(names.everything())),
            (1, st.sampled_from(sorted(patterns)).flatmap(self.made_up)),
            odd=[(1, self.garbage)],
        )
        self._references: dict[str, st.SearchStrategy[str]] = {}
        self._messages: dict[tuple[str, int], st.SearchStrategy[Message]] = {}
        tokens = names.page_tokens
        self.page_token = self.mix(
            (3, st.just("")),
            (3, pick_name(tokens)),
            odd=[(2, pick_name(forged_tokens(tokens))), (1, self.garbage)],
        )
        comparison = self.mix(
            *((4, self._comparisons(kind)) for kind in FILTERS if kind != "unknown"),
            odd=[(1, self._comparisons("unknown"))],
        )
        # Terms, each maybe negated or in parentheses, joined by AND and OR (st.recursive
        # would do, but warns now and then that it cannot see the recursion).
        term = st.builds(
            lambda text, negated, grouped: (
                f"{'NOT ' if negated else ''}{f'({text})' if grouped else text}"
            ),
            comparison,
            st.booleans(),
            st.booleans(),
        )
        expression = st.builds(
            lambda first, rest: first + "".join(f" {joiner} {t}" for joiner, t in rest),
            term,
            st.lists(st.tuples(st.sampled_from(["AND", "OR"]), term), max_size=4),
        )
        nested = st.builds(
            lambda depth, inner, parens: (
                "(" * depth + inner + ")" * depth if parens else "NOT " * depth + inner
            ),
            st.integers(1, 1000),
            comparison,
            st.booleans(),
        )
        self.filter = self.mix(
            (2, st.just("")), (5, expression), odd=[(1, nested), (1, self.garbage)]
        )
        self.order_by = self.mix(
            (3, st.just("")),
            (3, pick(ORDERINGS[:10])),
            odd=[(2, pick(ORDERINGS[10:])), (1, self.garbage)],
        )
        self.url = self.mix((4, pick(URIS[12:16])), odd=[(4, pick(URIS)), (1, self.garbage)])
        self.uri = self.mix(
            (4, pick(URIS[:3] + URIS[12:16])), odd=[(4, pick(URIS)), (1, self.garbage)]
        )
        fresh_sha = st.binary(max_size=16).map(lambda b: hashlib.sha256(b).hexdigest())
        self.sha256 = self.mix(
            (4, fresh_sha),
            (1, pick_name(names.sha256s)),
            odd=[(1, pick(["", "ABC", "0" * 63, "0" * 65, "G" * 64, "A" * 64])), (1, self.garbage)],
        )
        self.request_id = self.mix(
            (6, st.just("")),
            (3, pick(["fz-1", "fz-2", "fz-3", "r" * 128])),
            odd=[(1, pick(["r" * 129, "\x00", "😀" * 40])), (1, self.garbage)],
        )
        self.etag = self.mix((6, st.just("")), (2, pick_name(names.etags)), odd=[(1, self.garbage)])
        self.secret = self.mix(
            (4, pick(["s" * 16, "s" * 256, "🔑" * 16])), odd=[(1, pick(["s" * 15, "s" * 257, ""]))]
        )
        self.role = self.mix((4, pick(ROLES[:5])), odd=[(1, pick(ROLES[5:])), (1, self.garbage)])
        self.subject = self.mix((3, pick_name(names.subjects)), odd=[(1, self.garbage)])
        group_ids = [n.split("/")[1] for n in names.of("modelyard.dev/ModelGroup")]
        self.group_id = self.mix(
            (3, pick([f"fz-new-{i}" for i in range(5)])),
            (2, pick_name(group_ids)),
            odd=[(1, pick(BAD_IDS)), (1, self.garbage)],
        )
        alias_ids = [n.rsplit("/", 1)[1] for n in names.of("modelyard.dev/Alias")]
        self.alias_id = self.mix(
            (4, pick_name([*alias_ids, "shadow"])), odd=[(1, pick(BAD_IDS)), (1, self.garbage)]
        )

    def _comparisons(self, kind: str) -> st.SearchStrategy[str]:
        """Returns comparisons of the fields of one kind: mostly with values of that kind."""
        fields, fitting, odd_values = FILTERS[kind]
        everything = [value for _, values, odd in FILTERS.values() for value in values + odd]
        ops = self.mix((6, pick(FILTER_OPS)), odd=[(1, pick(ODD_FILTER_OPS))])
        values = self.mix((4, pick(fitting)), odd=[(4, pick(odd_values)), (1, pick(everything))])
        return st.builds("{} {} {}".format, pick(fields), ops, values)

    def mix(
        self,
        *choices: tuple[int, st.SearchStrategy[T]],
        odd: Sequence[tuple[int, st.SearchStrategy[T]]] = (),
    ) -> st.SearchStrategy[T]:
        """Returns `weighted` over the choices, and over the `odd` ones too unless tame."""
        return weighted(*choices, *(() if self.tame else odd))

    def _segments(self) -> dict[str, st.SearchStrategy[str]]:
        """Returns, for each variable of the patterns ({group}, {version}, …), a strategy of
        its values: those in names that exist, mostly, and odd ones."""
        seen: dict[str, set[str]] = {}
        for resource_type, pattern in self.patterns.items():
            parts = pattern.split("/")
            for name in self.names.of(resource_type):
                values = name.split("/")
                if len(values) != len(parts):
                    continue
                for part, value in zip(parts, values, strict=True):
                    if part.startswith("{"):
                        seen.setdefault(part, set()).add(value)
        segments = {}
        variables = {p for pattern in self.patterns.values() for p in pattern.split("/")}
        for variable in sorted(v for v in variables if v.startswith("{")):
            odd = NUMBERS if variable in {"{version}", "{delivery}"} else BAD_IDS
            segments[variable] = self.mix(
                (4, pick_name(sorted(seen.get(variable, ())))),
                odd=[(2, pick(odd)), (1, self.garbage)],
            )
        return segments

    def made_up(self, resource_type: str) -> st.SearchStrategy[str]:
        """Returns names made from the type's pattern, with odd values for its variables."""
        parts = self.patterns[resource_type].split("/")
        return st.tuples(
            *(self.segments[p] if p.startswith("{") else st.just(p) for p in parts)
        ).map("/".join)

    def reference(self, resource_type: str) -> st.SearchStrategy[str]:
        """Returns a strategy of names of one resource type: mostly of resources that exist."""
        if resource_type not in self._references:
            if resource_type not in self.patterns:
                self._references[resource_type] = self.any_name
            else:
                self._references[resource_type] = self.mix(
                    (8, pick_name(self.names.of(resource_type))),
                    (3, self.made_up(resource_type)),
                    odd=[(1, self.any_name)],
                )
        return self._references[resource_type]

    def referenced_type(self, owner: Descriptor, member: FieldDescriptor) -> str | None:
        """Returns the resource type a string field names: its resource_reference (the
        parent's type for a child_type), or its own message's type for a resource's name."""
        options: Any = member.GetOptions()
        if options.HasExtension(resource_pb2.resource_reference):
            reference = _extension(options, resource_pb2.resource_reference)
            if reference.type:
                return str(reference.type)
            child = self.patterns.get(reference.child_type, "")
            parent = "/".join(child.split("/")[:-2])
            return next((t for t, p in self.patterns.items() if p == parent), "*")
        own = str(_extension(owner.GetOptions(), resource_pb2.resource).type)
        if member.name == "name" and own:
            return own
        return None

    # Strings by what the field means, each still mixed with garbage.

    def string(self, owner: Descriptor, member: FieldDescriptor) -> st.SearchStrategy[str]:
        by_name: dict[str, st.SearchStrategy[str]] = {
            "page_token": self.page_token,
            "filter": self.filter,
            "order_by": self.order_by,
            "request_id": self.request_id,
            "etag": self.etag,
            "sha256": self.sha256,
            "secret": self.secret,
            "actor": self.subject,
            "url": self.url,
            "uri": self.uri,
            "code_repository": self.uri,
            "dataset_uri": self.uri,
            "model_group_id": self.group_id,
            "protected_aliases": self.alias_id,
            "approver_roles": self.role,
            "promoter_roles": self.role,
        }
        if member.name in by_name:
            return by_name[member.name]
        resource_type = self.referenced_type(owner, member)
        if resource_type is not None:
            return self.reference(resource_type)
        return self.plain

    def scalar(self, owner: Descriptor, member: FieldDescriptor) -> st.SearchStrategy[Any]:
        kind = member.type
        if kind == FieldDescriptor.TYPE_STRING:
            return self.string(owner, member)
        if kind == FieldDescriptor.TYPE_BYTES:
            return st.one_of(st.just(b""), st.just(b"\x00" * 3), st.binary(max_size=64))
        if kind == FieldDescriptor.TYPE_BOOL:
            return st.booleans()
        if kind == FieldDescriptor.TYPE_DOUBLE:
            return self.mix(
                (4, st.floats(-10, 10)),
                odd=[
                    (1, pick([0.0, -0.0, 1e308, -1e308, 5e-324])),
                    (1, pick([float("nan"), float("inf"), -float("inf")])),
                    (1, st.floats()),
                ],
            )
        if kind == FieldDescriptor.TYPE_FLOAT:
            return st.floats(width=32)
        if kind == FieldDescriptor.TYPE_ENUM:
            assert member.enum_type is not None
            known = [v.number for v in member.enum_type.values]
            unknown = [-1, max(known) + 1, 99, *INT32]
            return self.mix((6, pick(known)), odd=[(1, pick(unknown))])
        bounds = {
            FieldDescriptor.TYPE_INT32: INT32,
            FieldDescriptor.TYPE_SINT32: INT32,
            FieldDescriptor.TYPE_SFIXED32: INT32,
            FieldDescriptor.TYPE_INT64: INT64,
            FieldDescriptor.TYPE_SINT64: INT64,
            FieldDescriptor.TYPE_SFIXED64: INT64,
            FieldDescriptor.TYPE_UINT32: UINT32,
            FieldDescriptor.TYPE_FIXED32: UINT32,
            FieldDescriptor.TYPE_UINT64: UINT64,
            FieldDescriptor.TYPE_FIXED64: UINT64,
        }
        low, high = bounds[kind]
        edges = [v for v in (-1, 1000, 1001, 2**31, 2**53) if low <= v <= high]
        small = st.integers(max(low, 1 if self.tame else -2), min(high, 12))
        return self.mix(
            (4, small), odd=[(2, pick([*edges, low, high, high - 1])), (1, st.integers(low, high))]
        )

    # Well-known types

    def timestamp(self) -> st.SearchStrategy[Message]:
        seconds = self.mix(
            (4, st.integers(1_500_000_000, 2_000_000_000)),
            odd=[
                (1, pick([0, -1, -62135596800, -62135596801, 253402300799, 253402300800, *INT64])),
                (1, st.integers(*INT64)),
            ],
        )
        nanos = self.mix((4, st.integers(0, 999_999_999)), odd=[(1, pick([-1, 10**9, *INT32]))])
        return st.builds(timestamp_pb2.Timestamp, seconds=seconds, nanos=nanos)

    def field_mask(self, owner: Descriptor) -> st.SearchStrategy[Message]:
        """Masks over the fields of the owner's other message fields (the resource an update
        changes): real paths, paths into maps and submessages, and garbage."""
        paths: list[str] = []
        for sibling in owner.fields:
            target = sibling.message_type
            if target is None or target.full_name.startswith("google.protobuf."):
                continue
            for sub in target.fields:
                if self.tame and _behavior(sub) & FIXED:
                    continue
                paths.append(sub.name)
                if _is_map(sub):
                    paths.extend([f"{sub.name}.team", f"{sub.name}.a.b"])
                elif sub.message_type is not None:
                    paths.extend(f"{sub.name}.{leaf.name}" for leaf in sub.message_type.fields)
        odd = ["", ".", "*", "a.b.c", "name.first", "tags.", "tags.\x00", "model_card.nope"]
        path = self.mix((6, pick_name(paths)), odd=[(1, pick(odd)), (1, self.garbage)])
        return st.builds(
            lambda p: field_mask_pb2.FieldMask(paths=p),
            st.lists(path, min_size=1 if self.tame else 0, max_size=4),
        )

    def struct(self) -> st.SearchStrategy[Message]:
        leaves = self.mix(
            (4, st.one_of(st.none(), st.booleans(), st.floats(-1e6, 1e6), self.plain)),
            odd=[(1, pick([float("nan"), float("inf"), -float("inf")])), (1, self.garbage)],
        )
        lists = st.lists(leaves, max_size=3)
        json_values = st.one_of(
            leaves,
            lists,
            st.dictionaries(self.plain, st.one_of(leaves, lists), max_size=3),
        )

        def build(items: dict[str, Any]) -> Message:
            message = struct_pb2.Struct()
            message.update(items)
            return message

        top = st.dictionaries(self.plain, json_values, max_size=4).map(build)
        return self.mix((4, top), odd=[(1, st.integers(1, 30).map(_deep_struct))])

    # Messages

    def message(self, descriptor: Descriptor, depth: int = 0) -> st.SearchStrategy[Message]:
        """Returns a strategy of messages of the descriptor's type, nested at most
        `max_depth` deep; each field is set or left unset, oneofs get at most one member."""
        key = (descriptor.full_name, depth)
        if key not in self._messages:
            self._messages[key] = self._message(descriptor, depth)
        return self._messages[key]

    def _message(self, descriptor: Descriptor, depth: int) -> st.SearchStrategy[Message]:
        name = descriptor.full_name
        if name == "google.protobuf.Timestamp":
            return self.timestamp()
        if name == "google.protobuf.Struct":
            return self.struct()
        required: dict[str, st.SearchStrategy[Any]] = {}
        optional: dict[str, st.SearchStrategy[Any]] = {}
        for member in descriptor.fields:
            behavior = _behavior(member)
            if self.tame and field_behavior_pb2.OUTPUT_ONLY in behavior:
                continue
            value = self.value(descriptor, member, depth)
            if value is None:
                continue
            # Tame requests set what the proto says is required; wild ones may leave it out.
            if self.tame and behavior & {
                field_behavior_pb2.REQUIRED,
                field_behavior_pb2.IDENTIFIER,
            }:
                required[member.name] = value
            else:
                optional[member.name] = value
        cls = message_factory.GetMessageClass(descriptor)
        oneofs = [o for o in descriptor.oneofs if not _synthetic(o)]

        def build(fields: dict[str, Any]) -> Message:
            for oneof in oneofs:
                present = [f.name for f in oneof.fields if f.name in fields]
                for extra in present[1:]:
                    del fields[extra]
            return cls(**fields)

        return st.fixed_dictionaries(required, optional=optional).map(build)

    def value(
        self, owner: Descriptor, member: FieldDescriptor, depth: int
    ) -> st.SearchStrategy[Any] | None:
        """Returns the strategy of one field's value, or None when it is too deep to set."""
        if _is_map(member):
            entry = member.message_type
            assert entry is not None
            value_field = entry.fields_by_name["value"]
            values = self.single(entry, value_field, depth)
            if values is None:
                return None
            keys = self.mix(
                (4, pick(KEYS)),
                (1, st.from_regex(r"[A-Za-z_][A-Za-z0-9_.\-]{0,20}", fullmatch=True)),
                odd=[(1, pick(BAD_KEYS)), (1, self.garbage)],
            )
            small = st.dictionaries(keys, values, max_size=4)
            many = st.integers(60, 300).map(lambda n: {f"k{i}": "v" for i in range(n)})
            if value_field.type == FieldDescriptor.TYPE_STRING:
                return self.mix((8, small), odd=[(1, many)])
            return small
        single = self.single(owner, member, depth)
        if single is None:
            return None
        if member.is_repeated:
            return self.mix(
                (8, st.lists(single, max_size=3)),
                odd=[(1, st.lists(single, min_size=30, max_size=40))],
            )
        return single

    def single(
        self, owner: Descriptor, member: FieldDescriptor, depth: int
    ) -> st.SearchStrategy[Any] | None:
        target = member.message_type
        if target is None:
            return self.scalar(owner, member)
        if target.full_name == "google.protobuf.FieldMask":
            return self.field_mask(owner)
        if depth >= self.max_depth and not target.full_name.startswith("google.protobuf."):
            return None
        return self.message(target, depth + 1)


# What an update may not change: the server sets it, or it is fixed once made.
FIXED = {
    field_behavior_pb2.OUTPUT_ONLY,
    field_behavior_pb2.IMMUTABLE,
    field_behavior_pb2.IDENTIFIER,
}


def _behavior(member: FieldDescriptor) -> set[int]:
    """Returns the field's `google.api.field_behavior`s (REQUIRED, OUTPUT_ONLY, …)."""
    return set(_extension(member.GetOptions(), field_behavior_pb2.field_behavior))


def _is_map(member: FieldDescriptor) -> bool:
    target = member.message_type
    return target is not None and target.GetOptions().map_entry


def _synthetic(oneof: Any) -> bool:
    """Whether a oneof only gives a proto3 `optional` field its presence."""
    fields = list(oneof.fields)
    return len(fields) == 1 and oneof.name == f"_{fields[0].name}"


def _deep_struct(depth: int) -> Message:
    """Returns a Struct nested `depth` levels deep."""
    value: Any = 1.0
    for _ in range(depth):
        value = {"a": value}
    message = struct_pb2.Struct()
    message.update(value)
    return message


def method_classes(method: MethodDescriptor) -> tuple[type[Message], type[Message]]:
    """Returns the request and response classes of a method descriptor."""
    request: type[Message] = message_factory.GetMessageClass(method.input_type)
    response: type[Message] = message_factory.GetMessageClass(method.output_type)
    return request, response
