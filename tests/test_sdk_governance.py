"""The SDK's governance methods: the requests they build, and the async client end to end.

`tests/test_governance.py` specifies the behaviour through the sync client; here the async
client makes the same calls against the real server, and the pure tests pin down how
names and stages given in Python become requests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import modelyard
import pytest
from google.protobuf import timestamp_pb2
from modelyard import AsyncRegistry
from modelyard import _requests as build
from modelyard.v1 import resources_pb2 as pb

from tests.helpers import sha
from tests.servers import ServerProcess

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


def test_a_policy_update_does_not_change_the_callers_message() -> None:
    policy = pb.ApprovalPolicy(name="fraud", required_approvals=2)
    request = build.update_approval_policy(
        policy, update_mask=["required_approvals"], request_id_=None
    )
    assert request.approval_policy.name == "groups/fraud/approvalPolicy"
    assert policy.name == "fraud"


def _at(seconds: int) -> timestamp_pb2.Timestamp:
    return timestamp_pb2.Timestamp(seconds=seconds)


def test_the_most_recently_promoted_version_comes_first_whatever_its_number() -> None:
    old = pb.ModelVersion(version=5, stage_time=_at(100))
    new = pb.ModelVersion(version=2, stage_time=_at(200))
    assert [v.version for v in build.most_recently_promoted([old, new])] == [2, 5]


# The async client against the real server


def name_of(version: pb.ModelVersion | None) -> str | None:
    return None if version is None else version.name


@pytest.fixture
async def admin(server: ServerProcess) -> AsyncIterator[AsyncRegistry]:
    async with AsyncRegistry(server.address, token=server.token) as registry:
        yield registry


@pytest.fixture(scope="session")
def reviewer_token(server: ServerProcess) -> str:
    return server.mint_token("rita", "approver")


@pytest.fixture
async def reviewer(server: ServerProcess, reviewer_token: str) -> AsyncIterator[AsyncRegistry]:
    async with AsyncRegistry(server.address, token=reviewer_token) as registry:
        yield registry


async def test_the_async_registry_approves_promotes_and_rolls_back(
    admin: AsyncRegistry, reviewer: AsyncRegistry, unique_group: str
) -> None:
    await admin.create_group(unique_group)
    assert await admin.production(unique_group) is None
    assert await admin.latest_approved(unique_group) is None
    first = await admin.register(unique_group, uri="s3://m/1", sha256=sha())
    second = await admin.register(unique_group, uri="s3://m/2", sha256=sha())
    approved = await reviewer.approve(unique_group, 1, reason="evaluated")
    assert approved.approval_status == pb.APPROVAL_STATUS_APPROVED
    await reviewer.approve(second.name, reason="evaluated too")
    decisions = await admin.list_approvals(unique_group)
    assert [(d.version, d.reviewer) async for d in decisions] == [
        (first.name, "rita"),
        (second.name, "rita"),
    ]
    staged = await admin.transition(first.name, "staging", reason="to staging")
    assert staged.model_version.stage == pb.STAGE_STAGING
    promoted = await admin.promote(first.name, reason="first release")
    assert promoted.stage == pb.STAGE_PRODUCTION
    await admin.transition(second.name, pb.STAGE_STAGING)
    await admin.promote(unique_group, 2)
    assert [v.name for v in await admin.production_versions(unique_group)] == [second.name]
    back = await admin.rollback(unique_group, reason="latency")
    assert back.restored_version.name == first.name
    assert [v.name for v in back.archived_versions] == [second.name]
    assert name_of(await admin.production(unique_group)) == first.name
    assert name_of(await admin.latest_approved(unique_group)) == second.name
    rejected = await reviewer.reject(unique_group, 1, reason="bias found")
    assert rejected.approval_status == pb.APPROVAL_STATUS_REJECTED
    assert name_of(await admin.production(unique_group)) == second.name
    history = await admin.list_approvals(first.name)
    assert [d.decision async for d in history] == [pb.DECISION_APPROVE, pb.DECISION_REJECT]


async def test_with_ab_production_the_most_recently_promoted_version_is_the_production_one(
    admin: AsyncRegistry, reviewer: AsyncRegistry, unique_group: str
) -> None:
    await admin.create_group(unique_group)
    policy = await admin.get_approval_policy(unique_group)
    policy.max_production_versions = 2
    updated = await admin.update_approval_policy(policy, update_mask=["max_production_versions"])
    assert updated.max_production_versions == 2
    versions = []
    for n in range(2):
        version = await admin.register(unique_group, uri=f"s3://m/{n}", sha256=sha())
        await reviewer.approve(version.name)
        await admin.transition(version.name, "staging")
        versions.append(version)
    older, newer = versions
    # The higher number goes first, so the production version is not simply the newest one.
    await admin.promote(newer.name)
    await admin.promote(older.name, keep_existing_production=True)
    assert [v.name for v in await admin.production_versions(unique_group)] == [
        older.name,
        newer.name,
    ]
    assert name_of(await admin.production(unique_group)) == older.name


async def test_the_async_registry_sets_resolves_lists_and_deletes_aliases(
    admin: AsyncRegistry, unique_group: str
) -> None:
    await admin.create_group(unique_group)
    one = await admin.register(unique_group, uri="s3://m/1", sha256=sha())
    two = await admin.register(unique_group, uri="s3://m/2", sha256=sha())
    champion = await admin.set_alias(unique_group, "champion", one.version)
    assert champion.version == one.name
    await admin.set_alias(unique_group, "challenger", two.name)
    assert (await admin.by_alias(unique_group, "challenger")).name == two.name
    assert (await admin.get_alias(champion.name)).version == one.name
    moved = await admin.set_alias(unique_group, "champion", 2, etag=champion.etag)
    with pytest.raises(modelyard.StaleEtag):
        await admin.set_alias(unique_group, "champion", 1, etag=champion.etag)
    pager = await admin.list_aliases(unique_group, page_size=1)
    assert [(a.name.rsplit("/", 1)[1], a.version) async for a in pager] == [
        ("challenger", two.name),
        ("champion", two.name),
    ]
    await admin.delete_alias(unique_group, "champion", etag=moved.etag)
    with pytest.raises(modelyard.AliasNotFound):
        await admin.get_alias(unique_group, "champion")
    with pytest.raises(modelyard.AliasNotFound):
        await admin.by_alias(moved.name)
