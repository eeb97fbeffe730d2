"""modelyard.contracts.validate: each kind of violation, found the same way in a list of
dicts, a pandas DataFrame and a pyarrow Table."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
from modelyard import ColumnSpec, ColumnType, ModelSchema
from modelyard.contracts import Violation, ViolationKind, validate

SCHEMA = ModelSchema(
    inputs=[
        ColumnSpec(name="age", type=ColumnType.INTEGER, min=0, max=130),
        ColumnSpec(name="income", type=ColumnType.DOUBLE, nullable=True),
        ColumnSpec(name="city", type=ColumnType.STRING),
        ColumnSpec(name="seen", type=ColumnType.DATETIME),
    ],
    outputs=[ColumnSpec(name="score", type=ColumnType.FLOAT, min=0, max=1)],
)
WHEN = datetime(2026, 11, 29, tzinfo=UTC)
Columns = dict[str, list[Any]]


def records(columns: Columns) -> list[dict[str, Any]]:
    rows = len(next(iter(columns.values())))
    return [{name: values[i] for name, values in columns.items()} for i in range(rows)]


def frame(columns: Columns) -> pd.DataFrame:
    return pd.DataFrame(columns)


def table(columns: Columns) -> pa.Table:
    return pa.table(columns)


FORMS: list[Callable[[Columns], Any]] = [records, frame, table]


def good() -> Columns:
    return {
        "age": [40, 41, 42],
        "income": [1000.5, None, 2000.0],
        "city": ["Oslo", "Lima", "Pune"],
        "seen": [WHEN, WHEN, WHEN],
    }


def found(violations: list[Violation]) -> list[tuple[ViolationKind, str, int, int | None]]:
    return [(v.kind, v.column, v.rows, v.first_row) for v in violations]


@pytest.mark.parametrize("form", FORMS)
def test_data_that_conforms_has_no_violations(form: Callable[[Columns], Any]) -> None:
    assert validate(SCHEMA, form(good())) == []


@pytest.mark.parametrize("form", FORMS)
def test_a_column_the_schema_requires_and_the_data_lacks_is_missing(
    form: Callable[[Columns], Any],
) -> None:
    columns = good()
    del columns["city"]
    [violation] = validate(SCHEMA, form(columns))
    assert found([violation]) == [(ViolationKind.MISSING_COLUMN, "city", 3, None)]
    assert "requires it (STRING)" in str(violation)


@pytest.mark.parametrize("form", FORMS)
def test_a_nullable_column_may_be_left_out(form: Callable[[Columns], Any]) -> None:
    columns = good()
    del columns["income"]
    assert validate(SCHEMA, form(columns)) == []


@pytest.mark.parametrize("form", FORMS)
def test_a_column_the_schema_does_not_name_is_unexpected(form: Callable[[Columns], Any]) -> None:
    columns = {**good(), "zip": ["0150", "15001", "411001"]}
    assert found(validate(SCHEMA, form(columns))) == [
        (ViolationKind.UNEXPECTED_COLUMN, "zip", 3, None)
    ]


@pytest.mark.parametrize("form", FORMS)
def test_values_of_another_type_are_counted_with_the_first_row(
    form: Callable[[Columns], Any],
) -> None:
    columns = {**good(), "age": ["40", "41", "x"]}
    [violation] = validate(SCHEMA, form(columns))
    assert found([violation]) == [(ViolationKind.WRONG_TYPE, "age", 3, 0)]
    assert "3 of 3 rows hold values that are not INTEGER" in violation.detail


@pytest.mark.parametrize("form", FORMS)
def test_a_null_in_a_column_that_is_not_nullable_is_reported(
    form: Callable[[Columns], Any],
) -> None:
    columns = {**good(), "age": [40, None, 42], "city": ["Oslo", "Lima", None]}
    assert found(validate(SCHEMA, form(columns))) == [
        (ViolationKind.NULL_VALUE, "age", 1, 1),
        (ViolationKind.NULL_VALUE, "city", 1, 2),
    ]


@pytest.mark.parametrize("form", FORMS)
def test_numbers_outside_the_columns_range_are_reported(form: Callable[[Columns], Any]) -> None:
    columns = {**good(), "age": [40, 200, -1]}
    [violation] = validate(SCHEMA, form(columns))
    assert found([violation]) == [(ViolationKind.OUT_OF_RANGE, "age", 2, 1)]
    assert "must be >= 0 and <= 130" in violation.detail


@pytest.mark.parametrize("form", FORMS)
def test_the_outputs_side_is_checked_when_asked(form: Callable[[Columns], Any]) -> None:
    scores = form({"score": [0.2, 1.5, 0.9]})
    assert validate(SCHEMA, scores, side="outputs")[0].kind == ViolationKind.OUT_OF_RANGE
    assert {v.kind for v in validate(SCHEMA, scores)} == {
        ViolationKind.MISSING_COLUMN,
        ViolationKind.UNEXPECTED_COLUMN,
    }


def test_an_integer_beyond_32_bits_is_not_an_integer_but_is_a_long() -> None:
    wide = [{"n": 2**40}]
    as_int = [ColumnSpec(name="n", type=ColumnType.INTEGER)]
    as_long = [ColumnSpec(name="n", type=ColumnType.LONG)]
    assert found(validate(as_int, wide)) == [(ViolationKind.WRONG_TYPE, "n", 1, 0)]
    assert validate(as_long, wide) == []
    assert found(validate(as_long, [{"n": True}])) == [(ViolationKind.WRONG_TYPE, "n", 1, 0)]


def test_a_tensor_column_checks_each_fixed_dimension() -> None:
    spec = [ColumnSpec(name="pixels", type=ColumnType.TENSOR, shape=[-1, 3])]
    rows = [{"pixels": [[1, 2, 3], [4, 5, 6]]}, {"pixels": [[1, 2]]}, {"pixels": "img"}]
    assert found(validate(spec, rows)) == [(ViolationKind.WRONG_TYPE, "pixels", 2, 1)]


def test_anything_but_rows_a_frame_or_a_table_is_refused_saying_what_to_give() -> None:
    with pytest.raises(TypeError, match="give a list of dicts"):
        validate(SCHEMA, {"age": [1]})
    with pytest.raises(TypeError, match="row 1 is a list, not a dict"):
        validate(SCHEMA, [{"age": 1}, [1]])
    with pytest.raises(ValueError, match="the schema has no outputs"):
        validate(ModelSchema(inputs=SCHEMA.inputs), [{"age": 1}], side="outputs")


def test_validating_rows_imports_neither_pandas_nor_pyarrow() -> None:
    program = (
        "import sys, modelyard\n"
        "from modelyard.contracts import validate\n"
        "spec = [modelyard.ColumnSpec(name='a', type=modelyard.ColumnType.INTEGER)]\n"
        "assert validate(spec, [{'a': 'x'}])\n"
        "print(sorted({'pandas', 'pyarrow', 'numpy'} & set(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
    assert (done.returncode, done.stdout.strip()) == (0, "[]"), done.stderr
