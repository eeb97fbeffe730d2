"""What the generated :mod:`modelyard.types` is made of: :class:`Enum`, the enums that read as
names, and :class:`View`, the read-only typed face of a protobuf message.

The SDK returns views, not the generated messages, for two reasons: an enum field of a message
is a bare ``int`` (``print(version.stage)`` printing ``3``), and a timestamp field is a
``Timestamp`` message to convert. A view reads the message it wraps field by field: enums as
:class:`Enum` members, timestamps as aware ``datetime`` (None when unset), ``Struct`` fields
as ``dict`` (None when unset), messages as views, maps and lists as read-only collections.
``view.proto`` is the message itself, for ``json_format`` and the like.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, TypeVar, overload

from google.protobuf import json_format, struct_pb2, timestamp_pb2
from google.protobuf.message import Message

__all__ = ["Enum", "ReadOnlyList", "ReadOnlyMap", "View", "proto_of"]

_M = TypeVar("_M", bound=Message)
_E = TypeVar("_E", bound="Enum")
_K = TypeVar("_K")
_V = TypeVar("_V")
_T = TypeVar("_T")
_NUMERIC_FORMATS = frozenset("bcdeEfFgGnoxX%")
#: Where the protobuf enum's prefix puts an underscore in the class name: ArtifactFormat ->
#: ARTIFACT_FORMAT (as scripts/gen_types.py derives it).
_PREFIX_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


class Enum(enum.IntEnum):
    """An enum of the API whose members print as their names (``PRODUCTION``), compare
    equal to the numbers on the wire, and parse from names case-insensitively.

    Each member has its short name (``Stage.PRODUCTION``) and, as an alias, the name the
    protobuf enum gives it (``Stage.STAGE_PRODUCTION``). A number this SDK does not know
    (a newer server's) still reads, as a member named as the protobuf enum would prefix it
    (``Stage.STAGE_9``, ``ArtifactFormat.ARTIFACT_FORMAT_42``).
    """

    def __str__(self) -> str:
        return self.name

    def __format__(self, spec: str) -> str:
        # A numeric presentation type asks for the number, as it does of any int.
        if spec and spec[-1] in _NUMERIC_FORMATS:
            return int.__format__(self, spec)
        return format(self.name, spec)

    def __repr__(self) -> str:
        return f"{type(self).__name__}.{self.name}"

    @classmethod
    def _missing_(cls, value: object) -> Enum | None:
        if not isinstance(value, int) or isinstance(value, bool):
            return None
        member = int.__new__(cls, value)
        member._name_ = f"{_PREFIX_BOUNDARY.sub('_', cls.__name__).upper()}_{value}"
        member._value_ = value
        return member

    @classmethod
    def parse(cls: type[_E], value: str | int) -> _E:
        """Returns the member named (``"production"``, ``"STAGE_PRODUCTION"``,
        ``"saved-model"``) or numbered by ``value``; raises ValueError naming the choices."""
        if isinstance(value, int) and not isinstance(value, bool):
            member = cls._value2member_map_.get(value)
        else:
            key = str(value).strip().upper().replace("-", "_").replace(" ", "_")
            member = cls.__members__.get(key)
        if member is None or member.value == 0:  # UNSPECIFIED is no choice, by name or number
            given = repr(value) if isinstance(value, str) else int(value)
            raise ValueError(
                f"{given} is not a {cls.__name__}; choose one of {', '.join(cls.choices())}"
            )
        return cls(member.value)

    @classmethod
    def choices(cls) -> list[str]:
        """Returns the short names a caller may give, in lower case (not UNSPECIFIED)."""
        return [member.name.lower() for member in cls if member.value != 0]


class View(Generic[_M]):
    """The read-only typed face of one protobuf message (see the module's doc).

    ``View(message)`` wraps a message; ``View(field=value, …)`` builds the message from
    fields, as the message's own constructor does (views, enums and lists of views are
    accepted as values). Views are equal when their messages are, and equal to their message.
    """

    __slots__ = ("_pb",)
    _message: ClassVar[type[Message]]

    def __init__(self, proto: _M | None = None, /, **fields: Any) -> None:
        if proto is None:
            built = self._message(**{name: _unwrap(name, value) for name, value in fields.items()})
            self._pb: _M = built  # type: ignore[assignment]
        elif fields:
            raise TypeError(f"{type(self).__name__}() takes a message or fields, not both")
        elif not isinstance(proto, self._message):
            raise TypeError(
                f"{type(self).__name__}() takes a {self._message.DESCRIPTOR.full_name}, "
                f"not {type(proto).__name__}"
            )
        else:
            self._pb = proto

    @property
    def proto(self) -> _M:
        """The protobuf message this view reads (treat it as read-only)."""
        return self._pb

    def __eq__(self, other: object) -> bool:
        if isinstance(other, View):
            return type(other) is type(self) and bool(other._pb == self._pb)
        if isinstance(other, Message):
            return bool(other == self._pb)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{field.name}={getattr(self, field.name)!r}" for field, _ in self._pb.ListFields()
        )
        return f"{type(self).__name__}({shown})"

    def __getstate__(self) -> bytes:
        return self._pb.SerializeToString()

    def __setstate__(self, state: bytes) -> None:
        self._pb = self._message.FromString(state)  # type: ignore[assignment]


class ReadOnlyMap(Mapping[_K, _V]):
    """A map field of a view: a Mapping that reads the message's map and cannot change it.

    The message's own map is no Mapping to hand out: reading a missing key adds the key
    with a default value (``version.metrics["auc"]`` would be ``0.0`` and the view would
    have changed), and it can be written to. Here a missing key raises KeyError.
    """

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[_K, _V]) -> None:
        self._items = items

    def __getitem__(self, key: _K) -> _V:
        if key not in self:
            raise KeyError(key)
        return self._items[key]

    def __contains__(self, key: object) -> bool:
        try:
            return key in self._items
        except TypeError:  # the message's map refuses a key of another type; a dict has none
            return False

    def __iter__(self) -> Iterator[_K]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return repr(dict(self._items))

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (dict(self._items),))


class ReadOnlyList(Sequence[_T]):
    """A repeated scalar field of a view: a Sequence that reads the message's list and cannot
    change it; equal to a list or tuple of the same items, as the message's list is."""

    __slots__ = ("_items",)

    def __init__(self, items: Sequence[_T]) -> None:
        self._items = items

    @overload
    def __getitem__(self, index: int) -> _T: ...

    @overload
    def __getitem__(self, index: slice) -> ReadOnlyList[_T]: ...

    def __getitem__(self, index: int | slice) -> _T | ReadOnlyList[_T]:
        if isinstance(index, slice):
            return ReadOnlyList(list(self._items[index]))
        return self._items[index]

    def __len__(self) -> int:
        return len(self._items)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str | bytes) or not isinstance(other, Sequence):
            return NotImplemented
        return list(self._items) == list(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(list(self._items))

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (list(self._items),))


def proto_of(value: View[_M] | _M) -> _M:
    """Returns the message of a view, or the message itself: what SDK methods that take a
    message accept."""
    return value._pb if isinstance(value, View) else value


def _unwrap(field: str, value: Any) -> Any:
    if isinstance(value, View):
        return value._pb
    if isinstance(value, list | tuple):
        return [_unwrap(field, item) for item in value]
    if isinstance(value, datetime):
        # Timestamp.FromDatetime would take a naive time for UTC, and a view would then read
        # back another instant than the caller's local one; the SDK refuses it everywhere.
        if value.tzinfo is None:
            raise ValueError(
                f"{field} must be timezone-aware, e.g. datetime.now(timezone.utc); "
                "a naive datetime is ambiguous"
            )
        stamp = timestamp_pb2.Timestamp()
        stamp.FromDatetime(value)
        return stamp
    return value


def timestamp(message: Message, field: str) -> datetime | None:
    """Returns a Timestamp field as an aware UTC datetime, or None when it is unset."""
    if not message.HasField(field):
        return None
    stamp: timestamp_pb2.Timestamp = getattr(message, field)
    return stamp.ToDatetime(tzinfo=UTC)


def struct(message: Message, field: str) -> dict[str, Any] | None:
    """Returns a Struct field as a dict, or None when it is unset."""
    if not message.HasField(field):
        return None
    value: struct_pb2.Struct = getattr(message, field)
    return json_format.MessageToDict(value)
