"""Schema compatibility between versions: what changed, and whether it breaks callers.

The rules follow Confluent Schema Registry's compatibility types, read for a model's two
kinds of callers. Those who send inputs rely on the candidate accepting every request the
base accepts (BACKWARD): an added input must be nullable, a type may only widen (INTEGER to
LONG, FLOAT or DOUBLE; LONG or FLOAT to DOUBLE), an input may become nullable but not the
reverse, a range and a tensor's fixed dimensions may only widen. An input the candidate no
longer reads is not breaking: a caller's extra column is ignored. Those who read outputs
rely on the candidate writing only what they expect (FULL adds this): no output removed,
types only narrowing, no output becoming nullable, ranges and shapes only narrowing.

`SchemaCompatibility` on the group's policy makes a promotion to PRODUCTION pass these
rules against every version already in production.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from modelyard.v1 import errors_pb2 as reasons
from modelyard.v1 import resources_pb2 as pb

from modelyard_server.domain.errors import FailedPrecondition

_T = pb.ColumnType
# Which types accept every value of which others, as modelyard.contracts checks values.
WIDER: dict[int, frozenset[int]] = {
    _T.COLUMN_TYPE_INTEGER: frozenset(
        {_T.COLUMN_TYPE_LONG, _T.COLUMN_TYPE_FLOAT, _T.COLUMN_TYPE_DOUBLE}
    ),
    _T.COLUMN_TYPE_LONG: frozenset({_T.COLUMN_TYPE_DOUBLE}),
    _T.COLUMN_TYPE_FLOAT: frozenset({_T.COLUMN_TYPE_DOUBLE}),
}
INPUTS, OUTPUTS = pb.SCHEMA_SIDE_INPUTS, pb.SCHEMA_SIDE_OUTPUTS
_K = pb.SchemaChangeKind


def _type(kind: int) -> str:
    return pb.ColumnType.Name(kind).removeprefix("COLUMN_TYPE_")  # type: ignore[arg-type]


def _widens(narrow: int, wide: int) -> bool:
    """Whether every value of type ``narrow`` is a value of type ``wide``."""
    return narrow == wide or wide in WIDER.get(narrow, frozenset())


def _bounds(spec: pb.ColumnSpec) -> tuple[float | None, float | None]:
    return (
        spec.min if spec.HasField("min") else None,
        spec.max if spec.HasField("max") else None,
    )


def _range_within(inner: pb.ColumnSpec, outer: pb.ColumnSpec) -> bool:
    """Whether every value ``inner``'s range allows, ``outer``'s allows too."""
    (low_in, high_in), (low_out, high_out) = _bounds(inner), _bounds(outer)
    low_ok = low_out is None or (low_in is not None and low_in >= low_out)
    high_ok = high_out is None or (high_in is not None and high_in <= high_out)
    return low_ok and high_ok


def _shape_within(inner: Sequence[int], outer: Sequence[int]) -> bool:
    """Whether every tensor ``inner``'s shape allows, ``outer``'s allows too (no shape, or
    -1, allows any)."""
    if not outer:
        return True
    if len(inner) != len(outer):
        return False
    return all(o == -1 or i == o for i, o in zip(inner, outer, strict=True))


def _range_text(spec: pb.ColumnSpec) -> str:
    low, high = _bounds(spec)
    if low is None and high is None:
        return "any value"
    return f"[{'-inf' if low is None else f'{low:g}'}, {'inf' if high is None else f'{high:g}'}]"


def _change(
    side: int,
    kind: int,
    column: str,
    before: pb.ColumnSpec | None,
    after: pb.ColumnSpec | None,
    breaking: bool,
    what: str,
) -> pb.SchemaChange:
    word = "input" if side == INPUTS else "output"
    change = pb.SchemaChange(
        side=side,  # type: ignore[arg-type]
        column=column,
        kind=kind,  # type: ignore[arg-type]
        breaking=breaking,
        description=f"{word} '{column}' {what}",
    )
    if before is not None:
        change.before.CopyFrom(before)
    if after is not None:
        change.after.CopyFrom(after)
    return change


def _column_changes(side: int, old: pb.ColumnSpec, new: pb.ColumnSpec) -> Iterable[pb.SchemaChange]:
    # On the inputs the candidate must accept what the base accepted: `new` must contain
    # `old`. On the outputs readers must accept what the candidate writes: `old` must
    # contain `new`.
    inner, outer = (old, new) if side == INPUTS else (new, old)
    name = old.name
    if old.type != new.type:
        yield _change(
            side, _K.SCHEMA_CHANGE_KIND_TYPE_CHANGED, name, old, new,
            not _widens(inner.type, outer.type),
            f"changed type from {_type(old.type)} to {_type(new.type)}",
        )  # fmt: skip
    if old.nullable != new.nullable:
        yield _change(
            side, _K.SCHEMA_CHANGE_KIND_NULLABILITY_CHANGED, name, old, new,
            inner.nullable and not outer.nullable,
            "became nullable" if new.nullable else "is no longer nullable",
        )  # fmt: skip
    if _bounds(old) != _bounds(new):
        yield _change(
            side, _K.SCHEMA_CHANGE_KIND_RANGE_CHANGED, name, old, new,
            not _range_within(inner, outer),
            f"changed range from {_range_text(old)} to {_range_text(new)}",
        )  # fmt: skip
    if list(old.shape) != list(new.shape):
        yield _change(
            side, _K.SCHEMA_CHANGE_KIND_SHAPE_CHANGED, name, old, new,
            not _shape_within(inner.shape, outer.shape),
            f"changed shape from {list(old.shape) or 'any'} to {list(new.shape) or 'any'}",
        )  # fmt: skip


def _side_changes(
    side: int, old: Sequence[pb.ColumnSpec], new: Sequence[pb.ColumnSpec]
) -> list[pb.SchemaChange]:
    changes: list[pb.SchemaChange] = []
    if old and not new:
        # A side the candidate no longer declares: nothing says what it accepts or writes.
        return [
            _change(side, _K.SCHEMA_CHANGE_KIND_COLUMN_REMOVED, c.name, c, None, True,
                    "is not in the candidate, which declares no schema on this side")
            for c in old
        ]  # fmt: skip
    if not old:
        return []  # the base promises nothing on this side: there is nothing to break
    candidate = {c.name: c for c in new}
    for column in old:
        match = candidate.get(column.name)
        if match is None:
            changes.append(
                _change(
                    side, _K.SCHEMA_CHANGE_KIND_COLUMN_REMOVED, column.name, column, None,
                    side == OUTPUTS,
                    "was removed" + (": readers expect it" if side == OUTPUTS else ""),
                )
            )  # fmt: skip
            continue
        changes.extend(_column_changes(side, column, match))
    known = {c.name for c in old}
    for column in new:
        if column.name in known:
            continue
        required = side == INPUTS and not column.nullable
        changes.append(
            _change(
                side, _K.SCHEMA_CHANGE_KIND_COLUMN_ADDED, column.name, None, column, required,
                "was added" + (" as required: requests without it are rejected"
                               if required else ""),
            )
        )  # fmt: skip
    return changes


def compare(base: pb.ModelSchema, candidate: pb.ModelSchema) -> list[pb.SchemaChange]:
    """Returns every difference between the schemas, inputs first."""
    return [
        *_side_changes(INPUTS, base.inputs, candidate.inputs),
        *_side_changes(OUTPUTS, base.outputs, candidate.outputs),
    ]


def breaks(change: pb.SchemaChange, compatibility: int) -> bool:
    """Whether the change breaks what the compatibility type promises."""
    if not change.breaking:
        return False
    if compatibility == pb.SCHEMA_COMPATIBILITY_BACKWARD:
        return change.side == INPUTS
    return compatibility == pb.SCHEMA_COMPATIBILITY_FULL


@dataclass(frozen=True)
class Comparison:
    """Two versions' schemas side by side: every change, and what they allow."""

    base: pb.ModelVersion
    candidate: pb.ModelVersion
    changes: list[pb.SchemaChange]

    @property
    def backward_compatible(self) -> bool:
        """Whether a BACKWARD policy lets the candidate replace the base."""
        return not any(breaks(c, pb.SCHEMA_COMPATIBILITY_BACKWARD) for c in self.changes)

    @property
    def full_compatible(self) -> bool:
        """Whether a FULL policy lets the candidate replace the base."""
        return not any(breaks(c, pb.SCHEMA_COMPATIBILITY_FULL) for c in self.changes)


def compared(base: pb.ModelVersion, candidate: pb.ModelVersion) -> Comparison:
    """Returns the comparison of two versions' schemas."""
    return Comparison(base, candidate, compare(base.schema, candidate.schema))


def check_promotion(
    compatibility: int, candidate: pb.ModelVersion, production: Iterable[pb.ModelVersion]
) -> None:
    """Raises SCHEMA_INCOMPATIBLE when promoting ``candidate`` would break callers of a
    version in production, under the group's compatibility type."""
    if compatibility in (pb.SCHEMA_COMPATIBILITY_UNSPECIFIED, pb.SCHEMA_COMPATIBILITY_NONE):
        return
    policy = pb.SchemaCompatibility.Name(compatibility).removeprefix("SCHEMA_COMPATIBILITY_")  # type: ignore[arg-type]
    for current in production:
        if current.name == candidate.name:
            continue
        broken = [c for c in compare(current.schema, candidate.schema) if breaks(c, compatibility)]
        if broken:
            columns = sorted({c.column for c in broken})
            raise FailedPrecondition(
                reasons.SCHEMA_INCOMPATIBLE,
                f"'{candidate.name}' breaks callers of production version '{current.name}' "
                f"(schema_compatibility {policy}): "
                + "; ".join(c.description for c in broken)
                + "; register a version with a compatible schema, or change the group's "
                "schema_compatibility policy",
                metadata={"production": current.name, "columns": ",".join(columns)},
            )
