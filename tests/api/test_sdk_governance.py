"""The SDK's governance methods through the async client, end to end against the real server.

tests/api/test_governance.py specifies the behaviour through the sync client; here the async
client makes the same calls. How names and stages become requests is in
tests/unit/test_sdk_governance_requests.py.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator

import modelyard
import pytest
from modelyard import ApprovalStatus, AsyncRegistry, Decision, Stage

from tests.support.servers import Server
from tests.support.versions import sha


def name_of(version: modelyard.ModelVersion | None) -> str | None:
    return None if version is None else version.name


@pytest.fixture
async def admin(server: Server) -> AsyncIterator[AsyncRegistry]:
    async with AsyncRegistry(server.address, token=server.token) as registry:
        yield registry


@pytest.fixture(scope="session")
def reviewer_token(server: Server) -> str:
    return server.mint_token("rita", "approver")


@pytest.fixture
async def reviewer(server: Server, reviewer_token: str) -> AsyncIterator[AsyncRegistry]:
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
    assert approved.approval_status == ApprovalStatus.APPROVED
    await reviewer.approve(second.name, reason="evaluated too")
    decisions = await admin.list_approvals(unique_group)
    assert [(d.version, d.reviewer) async for d in decisions] == [
        (first.name, "rita"),
        (second.name, "rita"),
    ]
    staged = await admin.transition(first.name, "staging", reason="to staging")
    assert staged.model_version.stage == Stage.STAGING
    promoted = await admin.promote(first.name, reason="first release")
    assert promoted.stage == Stage.PRODUCTION
    restaged = await admin.transition(unique_group, 2, Stage.STAGING)
    assert restaged.model_version.name == second.name
    assert restaged.model_version.stage == Stage.STAGING
    await admin.promote(unique_group, 2)
    assert [v.name for v in await admin.production_versions(unique_group)] == [second.name]
    back = await admin.rollback(unique_group, reason="latency")
    assert back.restored_version.name == first.name
    assert [v.name for v in back.archived_versions] == [second.name]
    assert name_of(await admin.production(unique_group)) == first.name
    assert name_of(await admin.latest_approved(unique_group)) == second.name
    rejected = await reviewer.reject(unique_group, 1, reason="bias found")
    assert rejected.approval_status == ApprovalStatus.REJECTED
    assert name_of(await admin.production(unique_group)) == second.name
    history = await admin.list_approvals(first.name)
    assert [d.decision async for d in history] == [Decision.APPROVE, Decision.REJECT]


async def test_with_ab_production_the_most_recently_promoted_version_is_the_production_one(
    admin: AsyncRegistry, reviewer: AsyncRegistry, unique_group: str
) -> None:
    await admin.create_group(unique_group)
    policy = await admin.get_approval_policy(unique_group)
    changed = copy.deepcopy(policy.proto)  # a view's message is the view's: change a copy
    changed.max_production_versions = 2
    updated = await admin.update_approval_policy(changed, update_mask=["max_production_versions"])
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
