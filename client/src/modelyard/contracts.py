"""Checking data against a version's input or output schema, before it reaches the model.

::

    from modelyard import contracts

    violations = contracts.validate(version.schema, rows)  # list of dicts
    violations = contracts.validate(version.schema, frame)  # a pandas DataFrame
    violations = contracts.validate(version.schema, table)  # a pyarrow Table
    for v in violations:
        print(v)  # wrong_type: column 'age' (INTEGER): 3 of 1000 rows ...

``registry.validate(group, version_or_alias, data)`` fetches the schema first. pandas and
pyarrow are imported only when given one of theirs: the SDK needs neither.

A column the schema names and the data lacks is MISSING_COLUMN (unless nullable: then it
reads as null); a column the data has and the schema does not name is UNEXPECTED_COLUMN;
a value that is not of the column's type is WRONG_TYPE; None, and NaN (pandas' null), in a
column that is not nullable is NULL_VALUE; a number below the column's min or above its
max is OUT_OF_RANGE. Each violation counts the rows it affects and gives the first.
A whole number held as a float (40.0, as pandas holds an integer column with a null in it)
counts as an integer.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from modelyard.types import ColumnSpec, ColumnType, ModelSchema
from modelyard.v1 import resources_pb2

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)


class ViolationKind(enum.Enum):
    """What is wrong with the data."""

    MISSING_COLUMN = "missing_column"
    UNEXPECTED_COLUMN = "unexpected_column"
    WRONG_TYPE = "wrong_type"
    NULL_VALUE = "null_value"
    OUT_OF_RANGE = "out_of_range"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Violation:
    """One kind of problem in one column: how many rows have it, and the first of them
    (None for a column that is missing or unexpected as a whole)."""

    kind: ViolationKind
    column: str
    rows: int
    first_row: int | None
    detail: str

    def __str__(self) -> str:
        where = f" (first: row {self.first_row})" if self.first_row is not None else ""
        return f"{self.kind}: column {self.column!r}: {self.detail}{where}"


SchemaLike = ModelSchema | resources_pb2.ModelSchema | Sequence[ColumnSpec]


def validate(
    schema: SchemaLike,
    data: Any,
    *,
    side: Literal["inputs", "outputs"] = "inputs",
) -> list[Violation]:
    """Returns every way ``data`` breaks one side of the schema (its inputs unless told),
    in the schema's column order, then the unexpected columns; [] when it conforms.

    ``data`` is a list of dicts (one per row), a pandas DataFrame or a pyarrow Table.
    Raises TypeError for anything else, and ValueError for a schema side with no columns.
    """
    specs = _columns(schema, side)
    if not specs:
        raise ValueError(f"the schema has no {side}: there is nothing to validate against")
    table = _table(data)
    violations: list[Violation] = []
    for spec in specs:
        values = table.columns.get(spec.name)
        if values is None:
            if spec.nullable:
                continue  # a nullable column may be left out
            violations.append(
                Violation(
                    ViolationKind.MISSING_COLUMN,
                    spec.name,
                    table.rows,
                    None,
                    f"the schema requires it ({_type_name(spec)}) and the data has no such column",
                )
            )
            continue
        violations.extend(_check_column(spec, values))
    named = {spec.name for spec in specs}
    for name in table.order:
        if name not in named:
            violations.append(
                Violation(
                    ViolationKind.UNEXPECTED_COLUMN,
                    name,
                    table.rows,
                    None,
                    f"the schema's {side} do not name it",
                )
            )
    return violations


def _columns(schema: SchemaLike, side: str) -> list[ColumnSpec]:
    if isinstance(schema, resources_pb2.ModelSchema):
        schema = ModelSchema(schema)
    if isinstance(schema, ModelSchema):
        return list(schema.inputs if side == "inputs" else schema.outputs)
    return [spec if isinstance(spec, ColumnSpec) else ColumnSpec(spec) for spec in schema]


def _type_name(spec: ColumnSpec) -> str:
    return spec.type.name


# The data, as columns of Python values


@dataclass
class _Table:
    rows: int
    columns: dict[str, list[Any]]
    order: list[str]


_ABSENT = object()  # a row of a list of dicts that lacks the key: null


def _table(data: Any) -> _Table:
    module = type(data).__module__.split(".", 1)[0]
    if module == "pandas" and type(data).__name__ == "DataFrame":
        return _from_pandas(data)
    if module == "pyarrow" and type(data).__name__ == "Table":
        return _from_arrow(data)
    if isinstance(data, Sequence) and not isinstance(data, (str, bytes)):
        return _from_records(data)
    if isinstance(data, Iterable) and not isinstance(data, (str, bytes, Mapping)):
        return _from_records(list(data))
    raise TypeError(
        f"cannot validate a {type(data).__name__}: give a list of dicts (one per row), "
        "a pandas DataFrame or a pyarrow Table"
    )


def _from_records(records: Sequence[Any]) -> _Table:
    order: list[str] = []
    seen: set[str] = set()
    for index, record in enumerate(records):
        if not isinstance(record, Mapping):
            raise TypeError(
                f"row {index} is a {type(record).__name__}, not a dict: give one dict per row"
            )
        for key in record:
            if key not in seen:
                seen.add(key)
                order.append(str(key))
    columns = {name: [record.get(name, _ABSENT) for record in records] for name in order}
    return _Table(len(records), columns, order)


def _from_pandas(frame: Any) -> _Table:
    order = [str(name) for name in frame.columns]
    columns = {str(name): frame[name].tolist() for name in frame.columns}
    return _Table(len(frame), columns, order)


def _from_arrow(table: Any) -> _Table:
    order = [str(name) for name in table.column_names]
    columns = {name: table.column(name).to_pylist() for name in order}
    return _Table(table.num_rows, columns, order)


# One column


def _is_null(value: Any) -> bool:
    if value is None or value is _ABSENT:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    # pandas' NaT and NA compare unequal to themselves and are not numbers
    return type(value).__name__ in ("NaTType", "NAType")


def _check_column(spec: ColumnSpec, values: list[Any]) -> Iterator[Violation]:
    nulls: list[int] = []
    wrong: list[int] = []
    outside: list[int] = []
    low, high = spec.min, spec.max
    for row, value in enumerate(values):
        if _is_null(value):
            if not spec.nullable:
                nulls.append(row)
            continue
        if not _fits(spec, value):
            wrong.append(row)
            continue
        if not isinstance(value, (int, float)):
            continue  # a range bounds numbers only
        if (low is not None and value < low) or (high is not None and value > high):
            outside.append(row)
    if wrong:
        example = values[wrong[0]]
        yield Violation(
            ViolationKind.WRONG_TYPE,
            spec.name,
            len(wrong),
            wrong[0],
            f"{_count(wrong, values)} hold values that are not {_expected(spec)} "
            f"(e.g. {_example(example)})",
        )
    if nulls:
        yield Violation(
            ViolationKind.NULL_VALUE,
            spec.name,
            len(nulls),
            nulls[0],
            f"{_count(nulls, values)} are null and the column is not nullable",
        )
    if outside:
        bounds = " and ".join(
            text
            for text in (
                f">= {low:g}" if low is not None else "",
                f"<= {high:g}" if high is not None else "",
            )
            if text
        )
        yield Violation(
            ViolationKind.OUT_OF_RANGE,
            spec.name,
            len(outside),
            outside[0],
            f"{_count(outside, values)} are outside the expected range (must be {bounds}; "
            f"e.g. {_example(values[outside[0]])})",
        )


def _count(rows: list[int], values: list[Any]) -> str:
    return f"{len(rows)} of {len(values)} rows"


def _example(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:40] + "…"


def _expected(spec: ColumnSpec) -> str:
    kind = spec.type
    if kind == ColumnType.TENSOR and spec.shape:
        return f"TENSOR arrays of shape {list(spec.shape)}"
    return {
        ColumnType.BOOLEAN: "BOOLEAN (true or false)",
        ColumnType.INTEGER: "INTEGER (whole numbers that fit 32 bits)",
        ColumnType.LONG: "LONG (whole numbers that fit 64 bits)",
        ColumnType.FLOAT: "FLOAT (numbers)",
        ColumnType.DOUBLE: "DOUBLE (numbers)",
        ColumnType.STRING: "STRING (text)",
        ColumnType.BINARY: "BINARY (bytes)",
        ColumnType.DATETIME: "DATETIME (points in time)",
        ColumnType.TENSOR: "TENSOR (arrays of numbers)",
    }.get(kind, kind.name)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _fits(spec: ColumnSpec, value: Any) -> bool:
    kind = spec.type
    if kind == ColumnType.BOOLEAN:
        return isinstance(value, bool)
    if kind in (ColumnType.INTEGER, ColumnType.LONG):
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # 40.0: how pandas holds an integer column that has a null
        low, high = INT32 if kind == ColumnType.INTEGER else INT64
        return _whole(value) and low <= value <= high
    if kind in (ColumnType.FLOAT, ColumnType.DOUBLE):
        return _whole(value) or isinstance(value, float)
    if kind == ColumnType.STRING:
        return isinstance(value, str)
    if kind == ColumnType.BINARY:
        return isinstance(value, (bytes, bytearray, memoryview))
    if kind == ColumnType.DATETIME:
        return isinstance(value, (datetime, date))
    if kind == ColumnType.TENSOR:
        return _tensor_fits(value, list(spec.shape))
    return False


def _tensor_fits(value: Any, shape: list[int]) -> bool:
    if hasattr(value, "tolist") and not isinstance(value, (list, tuple)):
        value = value.tolist()  # a numpy array
    return _dims_fit(value, shape)


def _dims_fit(value: Any, shape: list[int]) -> bool:
    if not shape:  # no shape declared: any nesting of numbers
        if isinstance(value, (list, tuple)):
            return all(_dims_fit(item, []) for item in value)
        return _whole(value) or isinstance(value, float)
    if not isinstance(value, (list, tuple)):
        return False
    size, rest = shape[0], shape[1:]
    if size != -1 and len(value) != size:
        return False
    if not rest:
        return all(_whole(v) or isinstance(v, float) for v in value)
    return all(_dims_fit(item, rest) for item in value)


__all__ = ["SchemaLike", "Violation", "ViolationKind", "validate"]
