"""registry.validate: data checked against the schema of the version a number or an alias
picks, fetched from a real server."""

from __future__ import annotations

import pytest
from modelyard import ColumnSpec, ColumnType, ModelSchema, Registry
from modelyard.contracts import ViolationKind

from tests.support.versions import register

SCHEMA = ModelSchema(
    inputs=[
        ColumnSpec(name="age", type=ColumnType.INTEGER, min=0, max=130),
        ColumnSpec(name="city", type=ColumnType.STRING),
    ],
    outputs=[ColumnSpec(name="score", type=ColumnType.DOUBLE, min=0, max=1)],
)


def test_validate_checks_data_against_the_schema_an_alias_points_at(
    registry: Registry, unique_group: str
) -> None:
    registry.create_group(unique_group)
    register(registry, unique_group, schema=SCHEMA)
    register(registry, unique_group)  # the latest version has no schema
    registry.set_alias(unique_group, "champion", 1)

    rows = [{"age": 40, "city": "Oslo"}, {"age": 400, "city": None}]
    found = registry.validate(unique_group, "champion", rows)
    assert [(v.kind, v.column, v.rows, v.first_row) for v in found] == [
        (ViolationKind.OUT_OF_RANGE, "age", 1, 1),
        (ViolationKind.NULL_VALUE, "city", 1, 1),
    ]
    assert registry.validate(unique_group, 1, rows[:1]) == []
    assert registry.validate(unique_group, 1, [{"score": 0.5}], side="outputs") == []
    with pytest.raises(ValueError, match=rf"groups/{unique_group}/versions/2 has no inputs"):
        registry.validate(unique_group, "latest", rows)
