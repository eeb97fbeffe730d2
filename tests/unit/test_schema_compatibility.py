"""The schema compatibility rules: which changes break a model's callers, on each side."""

from __future__ import annotations

import pytest
from modelyard.v1 import errors_pb2 as reasons
from modelyard.v1 import resources_pb2 as pb
from modelyard_server.domain.contracts import breaks, check_promotion, compare
from modelyard_server.domain.errors import FailedPrecondition

T = pb.ColumnType
K = pb.SchemaChangeKind


def col(name: str = "x", kind: int = T.COLUMN_TYPE_INTEGER, **fields: object) -> pb.ColumnSpec:
    return pb.ColumnSpec(name=name, type=kind, **fields)  # type: ignore[arg-type]


def changes(
    before: list[pb.ColumnSpec], after: list[pb.ColumnSpec], side: str
) -> list[tuple[str, int, bool]]:
    old, new = pb.ModelSchema(), pb.ModelSchema()
    getattr(old, side).extend(before)
    getattr(new, side).extend(after)
    return [(c.column, c.kind, c.breaking) for c in compare(old, new)]


# (before, after, kind, breaks the inputs, breaks the outputs)
CASES = [
    pytest.param([col()], [col(), col("y")], K.SCHEMA_CHANGE_KIND_COLUMN_ADDED, True, False,
                 id="a required column added"),
    pytest.param([col()], [col(), col("y", nullable=True)], K.SCHEMA_CHANGE_KIND_COLUMN_ADDED,
                 False, False, id="a nullable column added"),
    pytest.param([col(), col("y")], [col()], K.SCHEMA_CHANGE_KIND_COLUMN_REMOVED, False, True,
                 id="a column removed"),
    pytest.param([col()], [col(kind=T.COLUMN_TYPE_LONG)], K.SCHEMA_CHANGE_KIND_TYPE_CHANGED,
                 False, True, id="INTEGER widened to LONG"),
    pytest.param([col(kind=T.COLUMN_TYPE_DOUBLE)], [col(kind=T.COLUMN_TYPE_FLOAT)],
                 K.SCHEMA_CHANGE_KIND_TYPE_CHANGED, True, False, id="DOUBLE narrowed to FLOAT"),
    pytest.param([col()], [col(kind=T.COLUMN_TYPE_STRING)], K.SCHEMA_CHANGE_KIND_TYPE_CHANGED,
                 True, True, id="INTEGER to STRING"),
    pytest.param([col()], [col(nullable=True)], K.SCHEMA_CHANGE_KIND_NULLABILITY_CHANGED,
                 False, True, id="became nullable"),
    pytest.param([col(nullable=True)], [col()], K.SCHEMA_CHANGE_KIND_NULLABILITY_CHANGED,
                 True, False, id="no longer nullable"),
    pytest.param([col(min=0, max=10)], [col(min=0, max=20)], K.SCHEMA_CHANGE_KIND_RANGE_CHANGED,
                 False, True, id="range widened"),
    pytest.param([col(min=0)], [col(min=1)], K.SCHEMA_CHANGE_KIND_RANGE_CHANGED, True, False,
                 id="range narrowed"),
    pytest.param([col()], [col(max=5)], K.SCHEMA_CHANGE_KIND_RANGE_CHANGED, True, False,
                 id="a bound added"),
    pytest.param([col(kind=T.COLUMN_TYPE_TENSOR, shape=[3, 3])],
                 [col(kind=T.COLUMN_TYPE_TENSOR, shape=[-1, 3])],
                 K.SCHEMA_CHANGE_KIND_SHAPE_CHANGED, False, True, id="a dimension made variable"),
    pytest.param([col(kind=T.COLUMN_TYPE_TENSOR, shape=[3])],
                 [col(kind=T.COLUMN_TYPE_TENSOR, shape=[3, 1])],
                 K.SCHEMA_CHANGE_KIND_SHAPE_CHANGED, True, True, id="the rank changed"),
]  # fmt: skip


@pytest.mark.parametrize(("before", "after", "kind", "on_inputs", "on_outputs"), CASES)
def test_a_change_breaks_inputs_when_old_requests_fail_and_outputs_when_readers_would(
    before: list[pb.ColumnSpec],
    after: list[pb.ColumnSpec],
    kind: int,
    on_inputs: bool,
    on_outputs: bool,
) -> None:
    assert [(k, b) for _, k, b in changes(before, after, "inputs")] == [(kind, on_inputs)]
    assert [(k, b) for _, k, b in changes(before, after, "outputs")] == [(kind, on_outputs)]


def test_the_same_schema_has_no_changes_and_a_base_without_one_promises_nothing() -> None:
    schema = [col(min=0), col("y", T.COLUMN_TYPE_STRING, nullable=True)]
    assert changes(schema, schema, "inputs") == []
    assert changes([], schema, "inputs") == []


def test_a_candidate_that_declares_no_schema_breaks_every_column_it_drops() -> None:
    assert changes([col(), col("y")], [], "inputs") == [
        ("x", K.SCHEMA_CHANGE_KIND_COLUMN_REMOVED, True),
        ("y", K.SCHEMA_CHANGE_KIND_COLUMN_REMOVED, True),
    ]


def test_backward_looks_at_the_inputs_and_full_at_both_sides() -> None:
    old = pb.ModelSchema(inputs=[col()], outputs=[col("score", T.COLUMN_TYPE_DOUBLE)])
    new = pb.ModelSchema(inputs=[col()], outputs=[])
    [dropped] = compare(old, new)
    assert not breaks(dropped, pb.SCHEMA_COMPATIBILITY_BACKWARD)
    assert breaks(dropped, pb.SCHEMA_COMPATIBILITY_FULL)
    assert not breaks(dropped, pb.SCHEMA_COMPATIBILITY_NONE)


def test_a_refused_promotion_names_the_production_version_and_each_breaking_column() -> None:
    production = pb.ModelVersion(
        name="groups/g/versions/1", schema=pb.ModelSchema(inputs=[col("age"), col("city")])
    )
    candidate = pb.ModelVersion(
        name="groups/g/versions/2",
        schema=pb.ModelSchema(inputs=[col("age", T.COLUMN_TYPE_STRING), col("zip")]),
    )
    with pytest.raises(FailedPrecondition) as refused:
        check_promotion(pb.SCHEMA_COMPATIBILITY_BACKWARD, candidate, [production])
    error = refused.value
    assert error.reason == reasons.SCHEMA_INCOMPATIBLE
    assert error.metadata == {"production": "groups/g/versions/1", "columns": "age,zip"}
    assert "input 'age' changed type from INTEGER to STRING" in str(error)
    assert "input 'zip' was added as required" in str(error)
    check_promotion(pb.SCHEMA_COMPATIBILITY_NONE, candidate, [production])  # not checked
