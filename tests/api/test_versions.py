"""Registering, reading, updating and deleting model versions."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from modelyard import (
    Action,
    ApprovalStatus,
    ArtifactFormat,
    ColumnSpec,
    ColumnType,
    Lineage,
    ModelCard,
    ModelGroup,
    ModelSchema,
    ModelVersion,
    Registry,
    Stage,
    errors,
)

from tests.support.servers import Server
from tests.support.versions import register, sha


def test_a_registered_version_is_numbered_pending_and_in_stage_none(
    registry: Registry, unique_group: str
) -> None:
    registry.create_group(unique_group)
    version = registry.register(
        unique_group,
        uri="s3://models/fraud/1.onnx",
        sha256=sha(1),
        size_bytes=1234,
        format="onnx",
        framework="sklearn",
        framework_version="1.5.2",
        metrics={"auc": 0.93},
        hyperparameters={"max_depth": "6"},
        tags={"team": "risk"},
        description="first",
        inference_image="ghcr.io/acme/serve:1",
        lineage=Lineage(
            code_repository="https://github.com/acme/fraud",
            code_commit="abc123",
            dataset_uri="s3://data/fraud/",
            dataset_digest="sha256:00",
            training_job="job-1",
        ),
        model_card=ModelCard(intended_use="scoring", limitations="not for loans"),
        schema=ModelSchema(
            inputs=[ColumnSpec(name="amount", type=ColumnType.DOUBLE, min=0, max=1e6)]
        ),
    )
    assert version.name == f"groups/{unique_group}/versions/1"
    assert version.version == 1
    assert version.approval_status == ApprovalStatus.PENDING_MANUAL_APPROVAL
    assert version.stage == Stage.NONE
    assert version.created_by == "admin"
    assert version.etag
    assert version.artifact.format == ArtifactFormat.ONNX
    fetched = registry.get_version(unique_group, 1)
    assert fetched == version
    assert registry.get_group(unique_group).latest_version == 1


def test_fifty_concurrent_registrations_get_versions_1_to_50_each_once(
    registry: Registry, unique_group: str
) -> None:
    registry.create_group(unique_group)
    with ThreadPoolExecutor(max_workers=50) as pool:
        versions = list(
            pool.map(
                lambda i: register(registry, unique_group, sha256=sha((unique_group, i))), range(50)
            )
        )
    assert sorted(v.version for v in versions) == list(range(1, 51))
    listed = [v.version for v in registry.list_versions(unique_group, page_size=7)]
    assert listed == list(range(50, 0, -1))
    # The log saw the same 50 creations, numbered in commit order.
    created = [
        e.version
        for e in registry.list_audit_events(
            resource=f"groups/{unique_group}", actions=[Action.MODEL_VERSION_CREATED]
        )
    ]
    assert created == list(range(1, 51))
    assert registry.verify_audit_log().ok


def test_registering_the_same_artifact_twice_names_the_existing_version(
    registry: Registry, unique_group: str
) -> None:
    registry.create_group(unique_group)
    first = register(registry, unique_group, sha256=sha("same-bytes"))
    with pytest.raises(errors.DuplicateArtifact) as caught:
        register(registry, unique_group, sha256=sha("same-bytes"))
    assert caught.value.existing_version == first.name
    assert first.name in caught.value.message
    # Nothing half-written: no version 2, no second log entry.
    assert [v.version for v in registry.list_versions(unique_group)] == [1]
    assert len(list(registry.list_audit_events(resource=f"groups/{unique_group}"))) == 2


def test_the_same_artifact_may_be_registered_in_another_group(
    registry: Registry, unique_group: str
) -> None:
    registry.create_group(unique_group)
    registry.create_group(unique_group + "-b")
    register(registry, unique_group, sha256=sha("shared"))
    assert register(registry, unique_group + "-b", sha256=sha("shared")).version == 1


def test_a_stale_etag_aborts_update_and_delete(registry: Registry, unique_group: str) -> None:
    registry.create_group(unique_group)
    version = register(registry, unique_group)
    fresh = registry.update_version(
        ModelVersion(name=version.name, description="new", etag=version.etag),
        update_mask=["description"],
    )
    assert fresh.description == "new" and fresh.etag != version.etag
    with pytest.raises(errors.StaleEtag):
        registry.update_version(
            ModelVersion(name=version.name, description="lost", etag=version.etag),
            update_mask=["description"],
        )
    with pytest.raises(errors.StaleEtag):
        registry.delete_version(version.name, etag=version.etag)
    assert registry.get_version(version.name).description == "new"
    group = registry.get_group(unique_group)
    updated = registry.update_group(
        ModelGroup(name=group.name, description="d", etag=group.etag),
        update_mask=["description"],
    )
    with pytest.raises(errors.StaleEtag):
        registry.update_group(
            ModelGroup(name=group.name, description="x", etag=group.etag),
            update_mask=["description"],
        )
    assert registry.get_group(unique_group).description == updated.description == "d"


def test_a_retry_with_the_same_request_id_returns_the_first_result_and_writes_nothing(
    registry: Registry, unique_group: str
) -> None:
    registry.create_group(unique_group)
    digest = sha()
    first = registry.register(unique_group, uri="s3://m/1", sha256=digest, request_id="retry-1")
    again = registry.register(unique_group, uri="s3://m/1", sha256=digest, request_id="retry-1")
    assert again == first
    assert [v.version for v in registry.list_versions(unique_group)] == [1]
    entries = list(registry.list_audit_events(resource=first.name))
    assert len(entries) == 1 and entries[0].request_id == "retry-1"
    # An update retried after a later change still answers with the first result.
    updated = registry.update_version(
        ModelVersion(name=first.name, description="a"),
        update_mask=["description"],
        request_id="retry-2",
    )
    registry.update_version(
        ModelVersion(name=first.name, description="b"), update_mask=["description"]
    )
    replay = registry.update_version(
        ModelVersion(name=first.name, description="a"),
        update_mask=["description"],
        request_id="retry-2",
    )
    assert replay == updated
    assert registry.get_version(first.name).description == "b"


def test_a_request_id_reused_for_a_different_request_is_refused(
    registry: Registry, unique_group: str
) -> None:
    registry.create_group(unique_group, request_id=f"{unique_group}-x")
    with pytest.raises(errors.RequestIdReused):
        register(registry, unique_group, request_id=f"{unique_group}-x")
    assert list(registry.list_versions(unique_group)) == []


def test_version_numbers_are_never_reused_after_a_delete(
    registry: Registry, unique_group: str
) -> None:
    registry.create_group(unique_group)
    register(registry, unique_group)
    second = register(registry, unique_group)
    registry.delete_version(second.name)
    with pytest.raises(errors.ModelVersionNotFound):
        registry.get_version(second.name)
    assert register(registry, unique_group).version == 3
    assert registry.get_version(unique_group, "latest").version == 3


def test_latest_names_the_newest_existing_version(registry: Registry, unique_group: str) -> None:
    registry.create_group(unique_group)
    with pytest.raises(errors.ModelVersionNotFound):
        registry.get_version(unique_group, "latest")
    register(registry, unique_group)
    assert registry.get_version(unique_group, "latest").version == 1


def test_missing_group_and_version_are_told_apart(registry: Registry, unique_group: str) -> None:
    with pytest.raises(errors.ModelGroupNotFound):
        registry.get_version(unique_group, 1)
    with pytest.raises(errors.ModelGroupNotFound):
        register(registry, unique_group)
    registry.create_group(unique_group)
    with pytest.raises(errors.ModelVersionNotFound) as caught:
        registry.get_version(unique_group, 9)
    assert f"groups/{unique_group}/versions/9" in caught.value.message


def test_only_description_tags_and_model_card_can_change(
    registry: Registry, unique_group: str
) -> None:
    registry.create_group(unique_group)
    version = register(
        registry, unique_group, tags={"team": "risk", "tier": "1"}, metrics={"auc": 0.9}
    )
    for path in [
        "metrics",
        "artifact",
        "artifact.uri",
        "lineage",
        "schema",
        "hyperparameters",
        "inference_image",
    ]:
        with pytest.raises(errors.ImmutableField):
            registry.update_version(ModelVersion(name=version.name), update_mask=[path])
    for path in ["stage", "approval_status", "etag", "create_time"]:
        with pytest.raises(errors.ImmutableField):
            registry.update_version(ModelVersion(name=version.name), update_mask=[path])
    with pytest.raises(errors.InvalidField):
        registry.update_version(ModelVersion(name=version.name), update_mask=["nonsense"])
    assert registry.get_version(version.name) == version

    tagged = registry.set_tag(unique_group, 1, "owner", "ana")
    assert dict(tagged.tags) == {"team": "risk", "tier": "1", "owner": "ana"}
    untagged = registry.update_version(ModelVersion(name=version.name), update_mask=["tags.tier"])
    assert dict(untagged.tags) == {"team": "risk", "owner": "ana"}
    carded = registry.update_version(
        ModelVersion(
            name=version.name,
            model_card=ModelCard(limitations="no loans", intended_use="ignored"),
        ),
        update_mask=["model_card.limitations"],
    )
    assert carded.model_card.limitations == "no loans" and carded.model_card.intended_use == ""
    assert carded.metrics == version.metrics


def test_lineage_must_name_versions_that_exist(registry: Registry, unique_group: str) -> None:
    registry.create_group(unique_group)
    parent = register(registry, unique_group)
    child = register(registry, unique_group, lineage=Lineage(parent_versions=[parent.name]))
    assert list(child.lineage.parent_versions) == [parent.name]
    with pytest.raises(errors.ReferencedVersionNotFound) as caught:
        register(
            registry,
            unique_group,
            lineage=Lineage(depends_on=[f"groups/{unique_group}/versions/99"]),
        )
    assert "versions/99" in caught.value.message


def test_deleting_a_group_with_versions_needs_force(registry: Registry, unique_group: str) -> None:
    registry.create_group(unique_group)
    register(registry, unique_group)
    with pytest.raises(errors.ModelGroupNotEmpty):
        registry.delete_group(unique_group)
    registry.delete_group(unique_group, force=True)
    with pytest.raises(errors.ModelGroupNotFound):
        registry.get_group(unique_group)
    deleted = list(
        registry.list_audit_events(
            resource=f"groups/{unique_group}", actions=[Action.MODEL_GROUP_DELETED]
        )
    )
    assert len(deleted) == 1
    assert deleted[0].before is not None and deleted[0].before["name"] == f"groups/{unique_group}"


def test_creating_an_existing_group_is_refused(registry: Registry, unique_group: str) -> None:
    registry.create_group(unique_group, description="one")
    with pytest.raises(errors.ModelGroupAlreadyExists):
        registry.create_group(unique_group, description="two")
    assert registry.get_group(f"groups/{unique_group}").description == "one"


def test_a_request_id_replays_only_for_the_caller_who_used_it(
    server: Server, registry: Registry, unique_group: str
) -> None:
    """A viewer who sends the admin's stage move again, with the admin's request_id, must
    not get the admin's reply (OK for a move a viewer may not make; the group's policy is
    checked inside the change, after the replay lookup): the id is refused, as for a
    different request, and nothing is written."""
    registry.create_group(unique_group)
    version = register(registry, unique_group)
    request_id = f"{unique_group}-move"
    moved = registry.transition(version.name, "staging", request_id=request_id)
    again = registry.transition(version.name, "staging", request_id=request_id)
    assert again == moved  # the admin's own retry replays
    head = registry.verify_audit_log().head_seq
    viewer = server.mint_token("victor", "viewer")
    with Registry(server.address, token=viewer) as victor, pytest.raises(errors.RequestIdReused):
        victor.transition(version.name, "staging", request_id=request_id)
    assert registry.verify_audit_log().head_seq == head
