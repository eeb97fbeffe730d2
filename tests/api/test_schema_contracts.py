"""Schema contracts over the API: CompareSchemas, and a group's schema_compatibility policy
refusing a promotion that would break the production version's callers."""

from __future__ import annotations

import modelyard
import pytest
from modelyard import (
    ApprovalPolicy,
    ColumnSpec,
    ColumnType,
    ModelSchema,
    Registry,
    SchemaChangeKind,
    SchemaCompatibility,
    SchemaIncompatible,
    SchemaSide,
    Stage,
)

from tests.support.versions import register, released, self_approving_group

AGE = ColumnSpec(name="age", type=ColumnType.INTEGER, min=0)
CITY = ColumnSpec(name="city", type=ColumnType.STRING)
SCORE = ColumnSpec(name="score", type=ColumnType.DOUBLE)
BASE = ModelSchema(inputs=[AGE, CITY], outputs=[SCORE])


def production(registry: Registry, group: str, schema: ModelSchema) -> modelyard.ModelVersion:
    """Registers, approves and promotes a version with the schema."""
    return released(registry, group, schema=schema)


def candidate(registry: Registry, group: str, schema: ModelSchema) -> modelyard.ModelVersion:
    """Registers and approves a version with the schema, ready to be promoted."""
    version = register(registry, group, schema=schema)
    registry.approve(version.name)
    return registry.transition(version.name, Stage.STAGING).model_version


def set_compatibility(registry: Registry, group: str, value: SchemaCompatibility) -> None:
    policy = registry.get_approval_policy(group)
    registry.update_approval_policy(
        ApprovalPolicy(name=policy.name, schema_compatibility=value, etag=policy.etag),
        update_mask=["schema_compatibility"],
    )


def test_a_backward_policy_refuses_a_promotion_that_breaks_requests_and_changes_nothing(
    registry: Registry, unique_group: str
) -> None:
    self_approving_group(registry, unique_group)
    assert registry.get_approval_policy(unique_group).schema_compatibility == (
        SchemaCompatibility.NONE
    )
    serving = production(registry, unique_group, BASE)
    set_compatibility(registry, unique_group, SchemaCompatibility.BACKWARD)
    narrowed = ModelSchema(
        inputs=[ColumnSpec(name="age", type=ColumnType.INTEGER, min=18), CITY], outputs=[SCORE]
    )
    breaking = candidate(registry, unique_group, narrowed)
    with pytest.raises(SchemaIncompatible) as refused:
        registry.promote(breaking.name)
    assert refused.value.metadata == {"production": serving.name, "columns": "age"}
    assert "input 'age' changed range from [0, inf] to [18, inf]" in str(refused.value)
    assert registry.get_version(serving.name).stage == Stage.PRODUCTION
    assert registry.get_version(breaking.name).stage == Stage.STAGING

    # Widening a type, making an input nullable, dropping one and adding an optional one:
    # every old request is still accepted.
    widened = ModelSchema(
        inputs=[
            ColumnSpec(name="age", type=ColumnType.LONG),
            ColumnSpec(name="region", type=ColumnType.STRING, nullable=True),
        ],
        outputs=[],
    )
    compatible = candidate(registry, unique_group, widened)
    assert registry.promote(compatible.name).stage == Stage.PRODUCTION
    assert registry.get_version(serving.name).stage == Stage.ARCHIVED


def test_a_full_policy_also_refuses_outputs_their_readers_would_not_expect(
    registry: Registry, unique_group: str
) -> None:
    self_approving_group(registry, unique_group)
    production(registry, unique_group, BASE)
    set_compatibility(registry, unique_group, SchemaCompatibility.FULL)
    no_score = candidate(registry, unique_group, ModelSchema(inputs=[AGE, CITY]))
    with pytest.raises(SchemaIncompatible, match="output 'score' is not in the candidate"):
        registry.promote(no_score.name)
    set_compatibility(registry, unique_group, SchemaCompatibility.BACKWARD)
    assert registry.promote(no_score.name).stage == Stage.PRODUCTION


def test_compare_schemas_lists_each_change_and_what_it_would_allow(
    registry: Registry, unique_group: str
) -> None:
    self_approving_group(registry, unique_group)
    register(registry, unique_group, schema=BASE)
    changed = ModelSchema(
        inputs=[AGE, ColumnSpec(name="zip", type=ColumnType.STRING)],
        outputs=[SCORE, ColumnSpec(name="label", type=ColumnType.STRING)],
    )
    register(registry, unique_group, schema=changed)
    registry.set_alias(unique_group, "champion", 1)
    result = registry.compare_schemas(unique_group, "champion", "latest")
    assert (result.base, result.candidate) == (
        f"groups/{unique_group}/versions/1",
        f"groups/{unique_group}/versions/2",
    )
    assert [(c.side, c.column, c.kind, c.breaking) for c in result.changes] == [
        (SchemaSide.INPUTS, "city", SchemaChangeKind.COLUMN_REMOVED, False),
        (SchemaSide.INPUTS, "zip", SchemaChangeKind.COLUMN_ADDED, True),
        (SchemaSide.OUTPUTS, "label", SchemaChangeKind.COLUMN_ADDED, False),
    ]
    assert (result.backward_compatible, result.full_compatible) == (False, False)
    assert result.changes[1].after.name == "zip" and result.changes[1].before.name == ""

    same = registry.compare_schemas(unique_group, 1, 1)
    assert (list(same.changes), same.backward_compatible, same.full_compatible) == (
        [],
        True,
        True,
    )
    with pytest.raises(modelyard.ModelVersionNotFound):
        registry.compare_schemas(unique_group, 1, 9)


def test_a_rollback_restores_the_version_that_served_whatever_the_policy(
    registry: Registry, unique_group: str
) -> None:
    self_approving_group(registry, unique_group)
    first = production(registry, unique_group, BASE)
    production(registry, unique_group, ModelSchema(inputs=[AGE]))  # drops city: allowed
    set_compatibility(registry, unique_group, SchemaCompatibility.BACKWARD)
    restored = registry.rollback(unique_group)
    assert restored.restored_version.name == first.name
