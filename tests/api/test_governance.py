"""Approvals, the stage lifecycle, rollback, aliases and policies, through the SDK."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from google.protobuf import json_format
from modelyard import (
    Action,
    ApprovalPolicy,
    ApprovalStatus,
    Decision,
    ModelVersion,
    Registry,
    Stage,
    errors,
)
from modelyard.v1 import resources_pb2 as pb

from tests.support.servers import Server
from tests.support.versions import register

NONE, STAGING, PRODUCTION, ARCHIVED = Stage.NONE, Stage.STAGING, Stage.PRODUCTION, Stage.ARCHIVED
ALLOWED = {
    (NONE, STAGING),
    (NONE, ARCHIVED),
    (STAGING, PRODUCTION),
    (STAGING, ARCHIVED),
    (PRODUCTION, ARCHIVED),
    (ARCHIVED, STAGING),
}
# How to bring a fresh version to each stage.
PATHS: dict[Stage, list[Stage]] = {
    NONE: [],
    STAGING: [STAGING],
    PRODUCTION: [STAGING, PRODUCTION],
    ARCHIVED: [ARCHIVED],
}


@dataclass
class Team:
    """The people of a registry: admin registers, Ann and Bob approve, Dee deploys, Carl contributes."""

    admin: Registry
    ann: Registry
    bob: Registry
    dee: Registry
    carl: Registry


@pytest.fixture(scope="session")
def tokens(server: Server) -> dict[str, str]:
    return {
        "ann": server.mint_token("ann", "approver"),
        "bob": server.mint_token("bob", "approver"),
        "dee": server.mint_token("dee", "deployer"),
        "carl": server.mint_token("carl", "contributor", "approver"),
    }


@pytest.fixture
def team(server: Server, tokens: dict[str, str]) -> Iterator[Team]:
    clients = [Registry(server.address, token=t) for t in [server.token, *tokens.values()]]
    yield Team(*clients)
    for client in clients:
        client.close()


def approved(team: Team, group: str) -> ModelVersion:
    """Registers a version (as admin) and has Ann approve it."""
    version = register(team.admin, group)
    return team.ann.approve(version.name, reason="evaluation passed")


@pytest.mark.parametrize(
    ("start", "target"), list(itertools.product(PATHS, [STAGING, PRODUCTION, ARCHIVED, NONE]))
)
def test_every_transition_is_allowed_or_refused_as_the_lifecycle_says(
    team: Team, unique_group: str, start: Stage, target: Stage
) -> None:
    team.admin.create_group(unique_group)
    version = approved(team, unique_group)
    for stage in PATHS[start]:
        version = team.dee.transition(version.name, stage).model_version
    assert version.stage == start
    if (start, target) in ALLOWED:
        moved = team.dee.transition(version.name, target, reason="as planned").model_version
        assert moved.stage == target
        assert moved.stage_time is not None and version.stage_time is not None
        assert moved.stage_time >= version.stage_time
        entry = next(
            iter(
                team.admin.list_audit_events(
                    resource=version.name, newest_first=True, page_size=1
                ).pages
            )
        )
        assert entry.audit_events[0].action == pb.ACTION_STAGE_CHANGED
        assert entry.audit_events[0].reason == "as planned"
    else:
        with pytest.raises(errors.InvalidTransition) as caught:
            team.dee.transition(version.name, target)
        assert caught.value.reason == "INVALID_TRANSITION"
        assert team.admin.get_version(version.name).stage == start


def test_production_needs_an_approved_version(team: Team, unique_group: str) -> None:
    team.admin.create_group(unique_group)
    version = register(team.admin, unique_group)
    team.dee.transition(version.name, STAGING)
    with pytest.raises(errors.VersionNotApproved) as caught:
        team.dee.promote(version.name)
    assert "PENDING_MANUAL_APPROVAL" in caught.value.message
    assert team.admin.get_version(version.name).stage == STAGING


def test_promotion_archives_the_version_it_replaces_in_the_same_change(
    team: Team, unique_group: str
) -> None:
    team.admin.create_group(unique_group)
    first, second = approved(team, unique_group), approved(team, unique_group)
    for version in (first, second):
        team.dee.transition(version.name, STAGING)
    team.dee.promote(first.name)
    response = team.dee.transition(second.name, PRODUCTION)
    assert [v.name for v in response.archived_versions] == [first.name]
    assert team.admin.get_version(first.name).stage == ARCHIVED
    assert production_name(team, unique_group) == second.name
    entry = next(iter(team.admin.list_audit_events(resource=second.name, newest_first=True)))
    assert [r.resource for r in entry.related] == [first.name]
    before, after = entry.related[0].before, entry.related[0].after
    assert before is not None and before["stage"] == "STAGE_PRODUCTION"
    assert after is not None and after["stage"] == "STAGE_ARCHIVED"


def production_name(team: Team, group: str) -> str | None:
    """Returns the name of the group's production version, as a service would ask."""
    version = team.admin.production(group)
    return None if version is None else version.name


def replay_stages(team: Team, group: str) -> dict[str, Stage]:
    """Rebuilds every version's stage from the group's log alone."""
    stages: dict[str, Stage] = {}
    for entry in team.admin.list_audit_events(resource=f"groups/{group}"):
        snapshots = [(entry.resource, entry.after), *((r.resource, r.after) for r in entry.related)]
        for resource, after in snapshots:
            if "/versions/" in resource and after:
                version = ModelVersion(json_format.ParseDict(after, pb.ModelVersion()))
                stages[resource] = version.stage
    return stages


def test_twenty_concurrent_promotions_leave_one_production_version_and_a_log_that_agrees(
    team: Team, unique_group: str
) -> None:
    team.admin.create_group(unique_group)
    versions = [approved(team, unique_group) for _ in range(20)]
    for version in versions:
        team.dee.transition(version.name, STAGING)

    def promote(version: ModelVersion) -> str:
        try:
            team.dee.promote(version.name)
        except errors.InvalidTransition:
            return "refused"  # archived by a concurrent promotion before its own turn
        return "promoted"

    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = list(pool.map(promote, versions))
    final = {v.name: v.stage for v in team.admin.list_versions(unique_group, page_size=100)}
    assert sorted(final.values()).count(PRODUCTION) == 1
    assert all(stage in {PRODUCTION, ARCHIVED} for stage in final.values())
    assert outcomes.count("promoted") + outcomes.count("refused") == 20
    assert replay_stages(team, unique_group) == final
    assert team.admin.verify_audit_log().ok


def test_a_two_approver_policy_needs_two_distinct_reviewers(team: Team, unique_group: str) -> None:
    team.admin.create_group(unique_group)
    policy = team.admin.get_approval_policy(unique_group)
    assert policy.required_approvals == 1 and not policy.allow_self_approval
    team.admin.update_approval_policy(
        ApprovalPolicy(name=policy.name, required_approvals=2, etag=policy.etag),
        update_mask=["required_approvals"],
    )
    version = register(team.admin, unique_group)
    once = team.ann.approve(version.name, reason="looks good")
    assert once.approval_status == ApprovalStatus.PENDING_MANUAL_APPROVAL
    assert list(once.approvers) == ["ann"]
    twice = team.ann.approve(version.name, reason="still good")
    assert twice.approval_status == ApprovalStatus.PENDING_MANUAL_APPROVAL
    assert list(twice.approvers) == ["ann"]  # an approval counts once per reviewer
    done = team.bob.approve(version.name, reason="agreed")
    assert done.approval_status == ApprovalStatus.APPROVED
    assert list(done.approvers) == ["ann", "bob"]
    history = list(team.admin.list_approvals(version.name))
    assert [(d.reviewer, d.decision, d.resulting_status) for d in history] == [
        ("ann", Decision.APPROVE, ApprovalStatus.PENDING_MANUAL_APPROVAL),
        ("bob", Decision.APPROVE, ApprovalStatus.APPROVED),
    ]
    assert history[1].reason == "agreed"


def test_the_registrant_may_not_approve_their_own_version_by_default(
    team: Team, unique_group: str
) -> None:
    team.admin.create_group(unique_group)
    own = register(team.carl, unique_group)
    with pytest.raises(errors.SelfApprovalForbidden):
        team.carl.approve(own.name)
    assert (
        team.admin.get_version(own.name).approval_status == ApprovalStatus.PENDING_MANUAL_APPROVAL
    )
    policy = team.admin.get_approval_policy(unique_group)
    team.admin.update_approval_policy(
        ApprovalPolicy(name=policy.name, allow_self_approval=True, etag=policy.etag),
        update_mask=["allow_self_approval"],
    )
    assert team.carl.approve(own.name).approval_status == ApprovalStatus.APPROVED


def test_roles_separate_approving_from_deploying(team: Team, unique_group: str) -> None:
    team.admin.create_group(unique_group)
    version = register(team.admin, unique_group)
    with pytest.raises(errors.MissingPermission):
        team.dee.approve(version.name)
    team.ann.approve(version.name)
    with pytest.raises(errors.MissingPermission):
        team.ann.transition(version.name, STAGING)
    with pytest.raises(errors.MissingPermission):
        team.ann.update_approval_policy(
            ApprovalPolicy(name=f"groups/{unique_group}/approvalPolicy", required_approvals=5),
            update_mask=["required_approvals"],
        )


def test_a_rejection_needs_a_reason(team: Team, unique_group: str) -> None:
    team.admin.create_group(unique_group)
    version = register(team.admin, unique_group)
    with pytest.raises(errors.InvalidField) as caught:
        team.ann.reject(version.name, reason=" ")
    assert caught.value.field_violations[0][0] == "reason"


def test_rejecting_the_production_version_rolls_production_back(
    team: Team, unique_group: str
) -> None:
    team.admin.create_group(unique_group)
    first, second = approved(team, unique_group), approved(team, unique_group)
    for version in (first, second):
        team.dee.transition(version.name, STAGING)
        team.dee.promote(version.name)
    revoked = team.bob.reject(second.name, reason="drift in production")
    assert revoked.approval_status == ApprovalStatus.REJECTED
    assert revoked.stage == ARCHIVED
    assert production_name(team, unique_group) == first.name
    entry = next(iter(team.admin.list_audit_events(resource=second.name, newest_first=True)))
    assert entry.action == Action.APPROVAL_CHANGED
    assert [r.resource for r in entry.related] == [first.name]
    # With nothing to fall back on, the rejected version simply leaves production.
    team.bob.reject(first.name, reason="also drifting")
    assert team.admin.production(unique_group) is None
    states = [(v.approval_status, v.stage) for v in team.admin.list_versions(unique_group)]
    assert (ApprovalStatus.REJECTED, PRODUCTION) not in states


def test_rollback_restores_the_previous_production_version(team: Team, unique_group: str) -> None:
    team.admin.create_group(unique_group)
    with pytest.raises(errors.NoRollbackTarget):
        team.dee.rollback(unique_group)
    first, second = approved(team, unique_group), approved(team, unique_group)
    for version in (first, second):
        team.dee.transition(version.name, STAGING)
        team.dee.promote(version.name)
    back = team.dee.rollback(unique_group, reason="latency regression")
    assert back.restored_version.name == first.name
    assert [v.name for v in back.archived_versions] == [second.name]
    assert production_name(team, unique_group) == first.name
    entry = next(iter(team.admin.list_audit_events(resource=first.name, newest_first=True)))
    assert entry.action == Action.ROLLED_BACK and entry.reason == "latency regression"
    # Rolling back again swaps them back: the previous production version is now the second.
    assert team.dee.rollback(unique_group).restored_version.name == second.name


def test_rollback_refuses_a_version_that_is_no_longer_approved(
    team: Team, unique_group: str
) -> None:
    team.admin.create_group(unique_group)
    first, second = approved(team, unique_group), approved(team, unique_group)
    for version in (first, second):
        team.dee.transition(version.name, STAGING)
        team.dee.promote(version.name)
    team.ann.reject(first.name, reason="license problem found")
    with pytest.raises(errors.VersionNotApproved):
        team.dee.rollback(unique_group)
    assert production_name(team, unique_group) == second.name


def test_rollback_to_a_named_version(team: Team, unique_group: str) -> None:
    team.admin.create_group(unique_group)
    versions = [approved(team, unique_group) for _ in range(3)]
    for version in versions:
        team.dee.transition(version.name, STAGING)
        team.dee.promote(version.name)
    restored = team.dee.rollback(unique_group, to=versions[0].name).restored_version
    assert restored.name == versions[0].name
    assert production_name(team, unique_group) == versions[0].name


def test_ab_production_needs_the_policy_and_the_request_to_keep(
    team: Team, unique_group: str
) -> None:
    team.admin.create_group(unique_group)
    a, b, c = (approved(team, unique_group) for _ in range(3))
    for version in (a, b, c):
        team.dee.transition(version.name, STAGING)
    team.dee.promote(a.name)
    with pytest.raises(errors.ProductionLimitReached):
        team.dee.promote(b.name, keep_existing_production=True)
    policy = team.admin.get_approval_policy(unique_group)
    team.admin.update_approval_policy(
        ApprovalPolicy(name=policy.name, max_production_versions=2, etag=policy.etag),
        update_mask=["max_production_versions"],
    )
    team.dee.promote(b.name, keep_existing_production=True)
    assert {
        v.name for v in team.admin.list_versions(unique_group, filter="stage = PRODUCTION")
    } == {a.name, b.name}
    with pytest.raises(errors.ProductionLimitReached):
        team.dee.promote(c.name, keep_existing_production=True)
    team.dee.promote(c.name)
    assert [
        v.name for v in team.admin.list_versions(unique_group, filter="stage = PRODUCTION")
    ] == [c.name]


def test_aliases_point_move_and_resolve(team: Team, unique_group: str) -> None:
    team.admin.create_group(unique_group)
    one, two = approved(team, unique_group), register(team.admin, unique_group)
    alias = team.dee.set_alias(unique_group, "champion", one.version)
    assert alias.name == f"groups/{unique_group}/aliases/champion" and alias.version == one.name
    assert team.admin.by_alias(unique_group, "champion").name == one.name
    assert team.admin.get_version(f"groups/{unique_group}/aliases/champion").name == one.name
    assert list(team.admin.get_version(one.name).aliases) == [alias.name]
    team.dee.set_alias(unique_group, "champion", two.version)
    assert list(team.admin.get_version(one.name).aliases) == []
    assert list(team.admin.get_version(two.name).aliases) == [alias.name]
    with pytest.raises(errors.VersionReferenced):
        team.admin.delete_version(two.name)
    team.dee.set_alias(unique_group, "challenger", one.version)
    assert [a.name.rsplit("/", 1)[1] for a in team.admin.list_aliases(unique_group)] == [
        "challenger",
        "champion",
    ]
    team.dee.delete_alias(unique_group, "champion")
    with pytest.raises(errors.AliasNotFound):
        team.admin.by_alias(unique_group, "champion")
    assert list(team.admin.get_version(two.name).aliases) == []
    actions = [e.action for e in team.admin.list_audit_events(resource=f"groups/{unique_group}")]
    assert actions.count(Action.ALIAS_SET) == 3 and actions.count(Action.ALIAS_DELETED) == 1


@pytest.mark.parametrize("name", ["latest", "v2", "Champion", "-x"])
def test_reserved_and_malformed_alias_names_are_refused(
    team: Team, unique_group: str, name: str
) -> None:
    team.admin.create_group(unique_group)
    version = register(team.admin, unique_group)
    with pytest.raises(errors.InvalidField):
        team.dee.set_alias(unique_group, name, version.version)


def test_protected_aliases_only_point_at_approved_versions(team: Team, unique_group: str) -> None:
    team.admin.create_group(unique_group)
    protect(team, unique_group, "champion")
    pending = register(team.admin, unique_group)
    with pytest.raises(errors.VersionNotApproved):
        team.dee.set_alias(unique_group, "champion", pending.version)
    with pytest.raises(errors.MissingPermission):
        team.carl.set_alias(unique_group, "champion", pending.version)
    good = approved(team, unique_group)
    assert team.dee.set_alias(unique_group, "champion", good.version).version == good.name
    # An unprotected alias may point anywhere.
    assert team.dee.set_alias(unique_group, "scratch", pending.version).version == pending.name


def test_latest_approved_and_production_answer_the_usual_questions(
    team: Team, unique_group: str
) -> None:
    team.admin.create_group(unique_group)
    assert team.admin.production(unique_group) is None
    assert team.admin.latest_approved(unique_group) is None
    first = approved(team, unique_group)
    register(team.admin, unique_group)  # newer but pending
    latest = team.admin.latest_approved(unique_group)
    assert latest is not None and latest.name == first.name
    team.dee.transition(first.name, STAGING)
    team.dee.promote(first.name)
    assert production_name(team, unique_group) == first.name


def test_a_bad_policy_is_refused_with_the_fields_to_fix(team: Team, unique_group: str) -> None:
    team.admin.create_group(unique_group)
    bad = ApprovalPolicy(
        name=f"groups/{unique_group}/approvalPolicy",
        required_approvals=0,
        approver_roles=["wizard"],
    )
    with pytest.raises(errors.InvalidField) as caught:
        team.admin.update_approval_policy(bad, update_mask=["required_approvals", "approver_roles"])
    fields = {field for field, _ in caught.value.field_violations}
    assert fields == {"approval_policy.required_approvals", "approval_policy.approver_roles"}
    assert team.admin.get_approval_policy(unique_group).required_approvals == 1


def protect(team: Team, group: str, *aliases: str) -> ApprovalPolicy:
    """Returns the group's policy after adding `aliases` to its protected aliases."""
    policy = team.admin.get_approval_policy(group)
    changed = ApprovalPolicy(
        name=policy.name, protected_aliases=[*policy.protected_aliases, *aliases], etag=policy.etag
    )
    return team.admin.update_approval_policy(changed, update_mask=["protected_aliases"])


def test_rejecting_a_version_deletes_the_protected_aliases_on_it_in_the_same_entry(
    team: Team, unique_group: str
) -> None:
    team.admin.create_group(unique_group)
    protect(team, unique_group, "champion")
    good = approved(team, unique_group)
    team.dee.set_alias(unique_group, "champion", good.version)
    team.dee.set_alias(unique_group, "scratch", good.version)
    rejected = team.bob.reject(good.name, reason="leaks labels")
    assert rejected.approval_status == ApprovalStatus.REJECTED
    # An unprotected alias may stay.
    assert list(rejected.aliases) == [f"groups/{unique_group}/aliases/scratch"]
    with pytest.raises(errors.AliasNotFound):
        team.admin.by_alias(unique_group, "champion")
    assert team.admin.by_alias(unique_group, "scratch").name == good.name
    [entry] = list(team.admin.list_audit_events(resource=good.name, newest_first=True))[:1]
    assert entry.action == Action.APPROVAL_CHANGED
    assert [r.resource for r in entry.related] == [f"groups/{unique_group}/aliases/champion"]
    assert entry.related[0].after is None


def test_rejecting_the_production_version_rolls_back_and_drops_its_protected_alias(
    team: Team, unique_group: str
) -> None:
    team.admin.create_group(unique_group)
    protect(team, unique_group, "champion")
    first = approved(team, unique_group)
    team.dee.transition(first.name, STAGING)
    team.dee.promote(first.name)
    second = approved(team, unique_group)
    team.dee.transition(second.name, STAGING)
    team.dee.promote(second.name)
    team.dee.set_alias(unique_group, "champion", second.version)
    team.ann.reject(second.name, reason="regressed")
    assert production_name(team, unique_group) == first.name
    with pytest.raises(errors.AliasNotFound):
        team.admin.by_alias(unique_group, "champion")
    for version in team.admin.list_versions(unique_group):
        if version.approval_status == ApprovalStatus.REJECTED:
            assert f"groups/{unique_group}/aliases/champion" not in version.aliases


def test_an_alias_is_protected_only_while_it_points_at_an_approved_version(
    team: Team, unique_group: str
) -> None:
    team.admin.create_group(unique_group)
    pending = register(team.admin, unique_group)
    team.dee.set_alias(unique_group, "champion", pending.version)
    with pytest.raises(errors.VersionNotApproved) as refused:
        protect(team, unique_group, "champion")
    assert "champion" in str(refused.value)
    assert list(team.admin.get_approval_policy(unique_group).protected_aliases) == []
    good = approved(team, unique_group)
    team.dee.set_alias(unique_group, "champion", good.version)
    assert list(protect(team, unique_group, "champion").protected_aliases) == ["champion"]
    # An alias that points nowhere yet may be protected; it can then only point at approved ones.
    assert "next" in protect(team, unique_group, "next").protected_aliases
