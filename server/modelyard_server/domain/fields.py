"""Update masks and etags: which fields a request may change, and whether it read the latest."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from google.protobuf.message import Message
from modelyard.v1 import errors_pb2 as reasons

from modelyard_server.domain.errors import (
    Aborted,
    FieldViolation,
    InvalidArgument,
    invalid_fields,
    quote,
)


def check_etag(sent: str, current: str, name: str) -> None:
    """Raises STALE_ETAG when the caller sent an etag and the resource has moved on since."""
    if sent and sent != current:
        raise Aborted(
            reasons.STALE_ETAG,
            f"{quote(name)} changed since you read it (etag {sent}, now {current}); read it again and retry",
            metadata={"resource": name, "current_etag": current},
        )


@dataclass(frozen=True)
class FieldRules:
    """Which fields of a resource an update mask may name: `mutable` ones, with `maps` (whose
    `field.key` paths set one key) and `messages` (whose `field.sub` paths set one subfield).
    `immutable` fields describe how the model was made; `output_only` ones the server sets."""

    mutable: frozenset[str]
    output_only: frozenset[str]
    immutable: frozenset[str] = frozenset()
    maps: frozenset[str] = frozenset()
    messages: frozenset[str] = frozenset()

    def check(self, paths: Sequence[str]) -> list[str]:
        """Returns the update mask's paths if each names a field that may change."""
        if not paths:
            raise InvalidArgument(
                reasons.INVALID_FIELD,
                "update_mask is required: name the fields to change, e.g. 'description'",
                violations=[FieldViolation("update_mask", "is empty")],
            )
        for path in paths:
            head, dot, rest = path.partition(".")
            if head in self.output_only:
                raise InvalidArgument(
                    reasons.IMMUTABLE_FIELD, f"{quote(path)} is output only and cannot be updated"
                )
            if head in self.immutable:
                raise InvalidArgument(
                    reasons.IMMUTABLE_FIELD,
                    f"{quote(path)} describes how the model was made and is immutable; register a new version instead",
                )
            if (
                head not in self.mutable
                or (dot and head not in self.maps | self.messages)
                or (dot and not rest)
            ):
                allowed = ", ".join(sorted(self.mutable))
                raise invalid_fields(
                    [
                        FieldViolation(
                            "update_mask",
                            f"{quote(path)} is not a field that can be updated ({allowed})",
                        )
                    ]
                )
        return list(paths)

    def apply(self, target: Message, patch: Message, paths: Sequence[str]) -> None:
        """Copies the masked fields of `patch` onto `target`; `tags.k` sets or removes one key."""
        for path in paths:
            head, _, rest = path.partition(".")
            if head in self.maps and rest:
                source, dest = getattr(patch, head), getattr(target, head)
                if rest in source:
                    dest[rest] = source[rest]
                elif rest in dest:
                    del dest[rest]
            elif rest:
                sub_target, sub_patch = getattr(target, head), getattr(patch, head)
                descriptor = sub_target.DESCRIPTOR.fields_by_name.get(rest)
                if descriptor is None:
                    raise invalid_fields(
                        [FieldViolation("update_mask", f"{quote(path)} names no field of {head}")]
                    )
                sub_target.ClearField(rest)
                if descriptor.is_repeated:
                    getattr(sub_target, rest).extend(getattr(sub_patch, rest))
                elif descriptor.message_type is not None:
                    if sub_patch.HasField(rest):
                        getattr(sub_target, rest).CopyFrom(getattr(sub_patch, rest))
                else:
                    setattr(sub_target, rest, getattr(sub_patch, rest))
            else:
                target.ClearField(head)
                value = getattr(patch, head)
                if head in self.maps:
                    getattr(target, head).update(value)
                elif target.DESCRIPTOR.fields_by_name[head].is_repeated:
                    getattr(target, head).extend(value)
                elif isinstance(value, Message):
                    if patch.HasField(head):
                        getattr(target, head).CopyFrom(value)
                else:
                    setattr(target, head, value)
