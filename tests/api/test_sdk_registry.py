"""The SDK against the real server: both clients, names, pagers, errors.

Retries across a real restart are in tests/e2e/test_restarts.py, the example programs in
tests/e2e/test_examples.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import modelyard
import pytest
from modelyard import AsyncRegistry, ModelGroup, ModelVersion, Registry

from tests.support.servers import Server
from tests.support.versions import sha


def test_the_registry_finds_address_and_token_in_the_environment(
    server: Server, unique_group: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELYARD_ADDRESS", server.address)
    monkeypatch.setenv("MODELYARD_DATA_DIR", str(server.data_dir))
    monkeypatch.delenv("MODELYARD_TOKEN", raising=False)
    monkeypatch.delenv("MODELYARD_TOKEN_FILE", raising=False)
    with Registry() as registry:
        assert registry.create_group(unique_group).name == f"groups/{unique_group}"
        assert registry.get_group(unique_group).created_by


def test_a_version_can_be_named_every_way_the_sdk_accepts(
    registry: Registry, unique_group: str
) -> None:
    registry.create_group(unique_group)
    created = registry.register(unique_group, uri="s3://m/1", sha256=sha())
    names: list[tuple[str, int | str | None]] = [
        (unique_group, 1),
        (unique_group, "1"),
        (unique_group, "latest"),
        (f"groups/{unique_group}", 1),
        (f"groups/{unique_group}/versions/1", None),
    ]
    for group_or_name, version in names:
        assert registry.get_version(group_or_name, version) == created


def test_register_sends_every_field_and_gets_them_back(
    registry: Registry, unique_group: str
) -> None:
    registry.create_group(unique_group)
    version = registry.register(
        unique_group,
        uri="s3://m/model.onnx",
        sha256=sha(),
        size_bytes=2048,
        format="saved_model",
        framework="tensorflow",
        framework_version="2.17",
        metrics={"auc": 0.91},
        hyperparameters={"lr": "0.01"},
        tags={"team": "risk"},
        description="first",
        inference_image="registry.example/serve:1",
        lineage=modelyard.Lineage(code_repository="https://git.example/fraud", code_commit="abc"),
        model_card=modelyard.ModelCard(intended_use="review queue ranking"),
        schema=modelyard.ModelSchema(
            inputs=[modelyard.ColumnSpec(name="amount", type=modelyard.ColumnType.DOUBLE)]
        ),
    )
    assert version.artifact.format == modelyard.ArtifactFormat.SAVED_MODEL
    assert version.artifact.size_bytes == 2048
    assert dict(version.metrics) == {"auc": 0.91}
    assert version.lineage.code_commit == "abc"
    assert version.model_card.intended_use == "review queue ranking"
    assert version.schema.inputs[0].name == "amount"
    assert version.stage == modelyard.Stage.NONE
    assert version.approval_status == modelyard.ApprovalStatus.PENDING_MANUAL_APPROVAL


def test_set_tag_changes_one_tag_and_keeps_the_others(
    registry: Registry, unique_group: str
) -> None:
    registry.create_group(unique_group)
    registry.register(unique_group, uri="s3://m/1", sha256=sha(), tags={"team": "risk"})
    tagged = registry.set_tag(unique_group, 1, "validated", "yes")
    assert dict(tagged.tags) == {"team": "risk", "validated": "yes"}
    assert dict(registry.get_version(unique_group, 1).tags) == dict(tagged.tags)


def test_an_update_with_the_etag_it_read_wins_and_a_stale_one_raises(
    registry: Registry, unique_group: str
) -> None:
    group = registry.create_group(unique_group, tags={"a": "1"})
    changed = ModelGroup(name=group.name, description="new", etag=group.etag)
    updated = registry.update_group(changed, update_mask=["description"])
    assert updated.description == "new"
    assert updated.etag != group.etag
    with pytest.raises(modelyard.StaleEtag) as caught:
        registry.update_group(changed, update_mask=["description"])
    assert isinstance(caught.value, modelyard.Aborted)
    with pytest.raises(modelyard.StaleEtag):
        registry.delete_group(unique_group, etag=group.etag)
    registry.delete_group(unique_group, etag=updated.etag)
    with pytest.raises(modelyard.ModelGroupNotFound):
        registry.get_group(unique_group)


def test_the_server_errors_arrive_as_typed_exceptions(
    registry: Registry, unique_group: str
) -> None:
    registry.create_group(unique_group)
    digest = sha()
    registry.register(unique_group, uri="s3://m/1", sha256=digest)
    with pytest.raises(modelyard.DuplicateArtifact) as duplicate:
        registry.register(unique_group, uri="s3://m/2", sha256=digest)
    assert duplicate.value.existing_version == f"groups/{unique_group}/versions/1"
    with pytest.raises(modelyard.ModelGroupAlreadyExists):
        registry.create_group(unique_group)
    with pytest.raises(modelyard.ModelVersionNotFound):
        registry.get_version(unique_group, 99)
    with pytest.raises(modelyard.ModelGroupNotEmpty):
        registry.delete_group(unique_group)
    with pytest.raises(modelyard.ImmutableField):
        registry.update_version(
            ModelVersion(name=f"groups/{unique_group}/versions/1", metrics={"auc": 1.0}),
            update_mask=["metrics"],
        )
    with pytest.raises(modelyard.InvalidField) as invalid:
        registry.register(unique_group, uri="no-scheme", sha256="not-hex")
    fields = {field for field, _ in invalid.value.field_violations}
    assert {"model_version.artifact.uri", "model_version.artifact.sha256"} <= fields
    with pytest.raises(modelyard.InvalidFilter):
        registry.list_versions(unique_group, filter="colour = red")


def test_a_wrong_token_raises_unauthenticated(server: Server) -> None:
    with (
        Registry(server.address, token="not-a-token") as registry,
        pytest.raises(modelyard.Unauthenticated) as caught,
    ):
        registry.get_group("anything")
    assert caught.value.reason == "UNAUTHENTICATED"


def test_a_pager_walks_every_page_of_the_real_server(registry: Registry, unique_group: str) -> None:
    registry.create_group(unique_group)
    for i in range(5):
        registry.register(unique_group, uri=f"s3://m/{i}", sha256=sha())
    pager = registry.list_versions(unique_group, page_size=2)
    assert [v.version for v in pager] == [5, 4, 3, 2, 1]
    assert [len(page.model_versions) for page in pager.pages] == [2, 2, 1]
    oldest_first = registry.list_versions(unique_group, order_by="version asc", page_size=2)
    assert [v.version for v in oldest_first] == [1, 2, 3, 4, 5]


def test_audit_events_filter_by_action_name_and_time(registry: Registry, unique_group: str) -> None:
    before = datetime.now(UTC) - timedelta(seconds=5)
    registry.create_group(unique_group)
    created = registry.register(unique_group, uri="s3://m/1", sha256=sha())
    registry.set_tag(created.name, None, "k", "v")
    group = f"groups/{unique_group}"
    actions = [e.action for e in registry.list_audit_events(resource=group)]
    assert actions == [
        modelyard.Action.MODEL_GROUP_CREATED,
        modelyard.Action.MODEL_VERSION_CREATED,
        modelyard.Action.MODEL_VERSION_UPDATED,
    ]
    only_updates = list(
        registry.list_audit_events(
            resource=group, actions=["MODEL_VERSION_UPDATED"], start_time=before
        )
    )
    assert [e.resource for e in only_updates] == [created.name]
    later = datetime.now(UTC) + timedelta(hours=1)
    assert list(registry.list_audit_events(resource=group, start_time=later)) == []
    newest = next(iter(registry.list_audit_events(resource=group, newest_first=True)))
    assert newest.action == modelyard.Action.MODEL_VERSION_UPDATED
    assert registry.verify_audit_log().ok


async def test_the_async_registry_does_what_the_sync_one_does(
    server: Server, unique_group: str
) -> None:
    async with AsyncRegistry(server.address, token=server.token) as registry:
        group = await registry.create_group(unique_group, description="async")
        assert group.name == f"groups/{unique_group}"
        digest = sha()
        first = await registry.register(unique_group, uri="s3://m/1", sha256=digest)
        await registry.register(unique_group, uri="s3://m/2", sha256=sha())
        assert (await registry.get_version(unique_group, "latest")).version == 2
        with pytest.raises(modelyard.DuplicateArtifact) as duplicate:
            await registry.register(unique_group, uri="s3://m/3", sha256=digest)
        assert duplicate.value.existing_version == first.name
        pager = await registry.list_versions(unique_group, page_size=1)
        assert [v.version async for v in pager] == [2, 1]
        assert len([page async for page in pager.pages]) == 2
        tagged = await registry.set_tag(unique_group, 1, "k", "v")
        assert tagged.tags["k"] == "v"
        changed = ModelVersion(name=first.name, description="changed")
        updated = await registry.update_version(changed, update_mask=["description"])
        assert updated.description == "changed"
        groups = await registry.list_groups(filter=f'name = "groups/{unique_group}"')
        assert [g.name async for g in groups] == [group.name]
        await registry.delete_version(unique_group, 2)
        with pytest.raises(modelyard.ModelVersionNotFound):
            await registry.get_version(unique_group, 2)
        await registry.delete_group(unique_group, force=True)
        events = await registry.list_audit_events(resource=group.name)
        assert [e.seq async for e in events]
        assert (await registry.verify_audit_log()).ok
