"""Legal holds and retention policies through the SDK: who may set them, what a hold
forbids, and plans and runs that touch nothing protected."""

from __future__ import annotations

import time

import pytest
from modelyard import Action, Registry, RetentionOutcome, RetentionPolicy, Stage, errors

from tests.support.factory import ServerFactory
from tests.support.servers import Server
from tests.support.versions import register


@pytest.fixture
def carl(server: Server) -> Registry:
    """A contributor: may register, may not hold or set policies."""
    return Registry(server.address, token=server.mint_token("carl", "contributor"))


def test_a_held_version_cannot_be_deleted_until_an_admin_clears_the_hold(
    registry: Registry, unique_group: str
) -> None:
    registry.create_group(unique_group)
    version = register(registry, unique_group)
    held = registry.set_legal_hold(version.name, reason="case 2026-17")
    assert held.legal_hold.reason == "case 2026-17"
    assert held.legal_hold.set_by == "admin"
    with pytest.raises(errors.VersionOnLegalHold, match="case 2026-17"):
        registry.delete_version(version.name)
    with pytest.raises(errors.VersionOnLegalHold):
        registry.delete_group(unique_group, force=True)
    cleared = registry.clear_legal_hold(version.name, reason="case closed")
    assert cleared.legal_hold.reason == "" and cleared.legal_hold.set_time is None
    registry.delete_version(version.name)
    actions = [
        (e.action, e.reason)
        for e in registry.list_audit_events(
            resource=version.name, actions=[Action.LEGAL_HOLD_SET, Action.LEGAL_HOLD_CLEARED]
        )
    ]
    assert actions == [
        (Action.LEGAL_HOLD_SET, "case 2026-17"),
        (Action.LEGAL_HOLD_CLEARED, "case closed"),
    ]


def test_only_an_admin_holds_and_a_reason_is_required(
    registry: Registry, carl: Registry, unique_group: str
) -> None:
    registry.create_group(unique_group)
    version = register(registry, unique_group)
    with pytest.raises(errors.PermissionDenied):
        carl.set_legal_hold(version.name, reason="mine")
    with pytest.raises(errors.InvalidField, match="reason"):
        registry.set_legal_hold(version.name, reason=" ")
    registry.set_legal_hold(version.name, reason="audit")
    with pytest.raises(errors.PermissionDenied):
        carl.clear_legal_hold(version.name, reason="done")
    assert registry.get_version(version.name).legal_hold.reason == "audit"


def test_a_retention_policy_is_set_by_an_admin_and_shown_with_its_source(
    registry: Registry, carl: Registry, unique_group: str
) -> None:
    registry.create_group(unique_group)
    shown = registry.get_retention_policy(unique_group)
    assert shown.inherited
    with pytest.raises(errors.PermissionDenied):
        carl.update_retention_policy(
            RetentionPolicy(name=unique_group, keep_newest=3), update_mask=["keep_newest"]
        )
    with pytest.raises(errors.InvalidField, match="keep_newest"):
        registry.update_retention_policy(
            RetentionPolicy(name=unique_group, keep_newest=-1), update_mask=["keep_newest"]
        )
    with pytest.raises(errors.ImmutableField):
        registry.update_retention_policy(
            RetentionPolicy(name=unique_group, inherited=True), update_mask=["inherited"]
        )
    policy = registry.update_retention_policy(
        RetentionPolicy(name=unique_group, keep_newest=3, delete_archived_after_days=2557),
        update_mask=["keep_newest", "delete_archived_after_days"],
    )
    assert (policy.keep_newest, policy.delete_archived_after_days) == (3, 2557)
    assert not policy.inherited
    assert registry.get_retention_policy(unique_group) == policy
    with pytest.raises(errors.StaleEtag):
        registry.update_retention_policy(
            RetentionPolicy(name=unique_group, keep_newest=4, etag="stale"),
            update_mask=["keep_newest"],
        )


def test_plan_and_apply_leave_young_and_serving_versions_alone(
    registry: Registry, unique_group: str
) -> None:
    registry.create_group(unique_group)
    version = register(registry, unique_group)
    registry.transition(version.name, Stage.ARCHIVED)
    registry.update_retention_policy(
        RetentionPolicy(name=unique_group, delete_archived_after_days=1),
        update_mask=["delete_archived_after_days"],
    )
    plan = registry.plan_retention(unique_group)
    assert plan.policy.delete_archived_after_days == 1
    assert list(plan.actions) == []
    assert list(registry.apply_retention(unique_group).actions) == []
    assert registry.get_version(version.name).stage == Stage.ARCHIVED
    assert RetentionOutcome.DELETE.name == "DELETE"


def test_the_sweeper_runs_on_its_schedule_without_failing(
    server_factory: ServerFactory, unique_group: str
) -> None:
    with (
        server_factory("sqlite", retention_interval_seconds="0.05") as server,
        Registry(server.address, token=server.token) as registry,
    ):
        registry.create_group(unique_group)
        registry.update_retention_policy(
            RetentionPolicy(name="", archive_staging_after_days=1, keep_newest=1),
            update_mask=["archive_staging_after_days", "keep_newest"],
        )
        registry.transition(register(registry, unique_group).name, Stage.ARCHIVED)
        time.sleep(0.5)  # ten sweeps
        logged = server.log_file.read_text()
        assert "retention policies failed" not in logged
        assert "retention archived or deleted" not in logged  # nothing was due
        assert registry.get_version(unique_group, 1).stage == Stage.ARCHIVED
