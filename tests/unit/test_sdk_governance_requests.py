"""The SDK's governance methods without a server: how names and stages given in Python
become requests. The async client's calls against the real server are in
tests/api/test_sdk_governance.py."""

from __future__ import annotations

from datetime import UTC, datetime

import modelyard
import pytest
from modelyard import _requests as build
from modelyard.v1 import resources_pb2 as pb

# Names


@pytest.mark.parametrize(
    ("group", "alias"),
    [("fraud", "champion"), ("groups/fraud", "champion"), ("groups/fraud/aliases/champion", None)],
)
def test_an_alias_may_be_named_by_group_and_alias_or_by_name(group: str, alias: str | None) -> None:
    assert modelyard.alias_name(group, alias) == "groups/fraud/aliases/champion"


def test_a_group_without_an_alias_is_not_an_alias_name() -> None:
    with pytest.raises(ValueError, match="pass the alias too"):
        modelyard.alias_name("fraud")
    with pytest.raises(ValueError, match="name the group"):
        modelyard.alias_name("groups/fraud/versions/3", "champion")


@pytest.mark.parametrize("group", ["fraud", "groups/fraud", "groups/fraud/approvalPolicy"])
def test_a_policy_is_named_by_its_group(group: str) -> None:
    assert modelyard.policy_name(group) == "groups/fraud/approvalPolicy"


# Requests


@pytest.mark.parametrize(
    ("given", "stage"),
    [
        ("staging", pb.STAGE_STAGING),
        ("PRODUCTION", pb.STAGE_PRODUCTION),
        ("stage_archived", pb.STAGE_ARCHIVED),
        (pb.STAGE_PRODUCTION, pb.STAGE_PRODUCTION),
        (modelyard.Stage.PRODUCTION, pb.STAGE_PRODUCTION),
        (modelyard.Stage.STAGE_ARCHIVED, pb.STAGE_ARCHIVED),
    ],
)
def test_a_stage_may_be_given_by_value_or_by_name(given: build.StageLike, stage: int) -> None:
    request = build.transition(
        "groups/fraud/versions/3",
        given,
        reason="",
        keep_existing_production=False,
        etag="",
        request_id_=None,
    )
    assert request.stage == stage
    assert request.request_id


def test_an_unknown_stage_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="use one of: none, staging, production, archived"):
        build.stage("live")


def test_a_transition_names_one_version() -> None:
    with pytest.raises(ValueError, match="not a version name"):
        build.transition(
            "fraud", "staging", reason="", keep_existing_production=False, etag="", request_id_=None
        )


@pytest.mark.parametrize(
    ("group", "version", "parent"),
    [
        ("fraud", None, "groups/fraud"),
        ("groups/fraud", None, "groups/fraud"),
        ("fraud", 3, "groups/fraud/versions/3"),
        ("groups/fraud/versions/3", None, "groups/fraud/versions/3"),
    ],
)
def test_approvals_are_listed_for_a_group_or_a_version(
    group: str, version: int | None, parent: str
) -> None:
    assert build.list_approvals(group, version, page_size=0).parent == parent


@pytest.mark.parametrize(
    ("to", "target"),
    [
        (None, ""),
        (2, "groups/fraud/versions/2"),
        ("2", "groups/fraud/versions/2"),
        ("groups/fraud/versions/2", "groups/fraud/versions/2"),
    ],
)
def test_a_rollback_target_is_a_number_or_a_version_name(to: int | str | None, target: str) -> None:
    request = build.rollback("fraud", to=to, reason="", request_id_=None)
    assert request.group == "groups/fraud"
    assert request.target_version == target


def test_an_alias_points_at_a_version_given_by_number_or_name() -> None:
    by_number = build.set_alias("fraud", "champion", 3, etag="e", request_id_="r")
    by_name = build.set_alias(
        "fraud", "champion", "groups/fraud/versions/3", etag="e", request_id_="r"
    )
    assert by_number == by_name
    assert by_number.alias.name == "groups/fraud/aliases/champion"
    assert by_number.alias.version == "groups/fraud/versions/3"


@pytest.mark.parametrize(
    "kind", [modelyard.ApprovalPolicy, pb.ApprovalPolicy], ids=["view", "message"]
)
def test_a_policy_update_does_not_change_the_callers_message(
    kind: type[modelyard.ApprovalPolicy | pb.ApprovalPolicy],
) -> None:
    policy = kind(name="fraud", required_approvals=2)
    request = build.update_approval_policy(
        policy, update_mask=["required_approvals"], request_id_=None
    )
    assert request.approval_policy.name == "groups/fraud/approvalPolicy"
    assert request.approval_policy.required_approvals == 2
    assert policy.name == "fraud"


def _at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def test_the_most_recently_promoted_version_comes_first_whatever_its_number() -> None:
    old = modelyard.ModelVersion(version=5, stage_time=_at(100))
    new = modelyard.ModelVersion(version=2, stage_time=_at(200))
    assert [v.version for v in build.most_recently_promoted([old, new])] == [2, 5]
