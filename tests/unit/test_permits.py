"""What a page says of a control before the click is what the use case does after it."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable

import pytest
from modelyard.v1 import resources_pb2 as pb
from modelyard_server.domain.errors import DomainError
from modelyard_server.domain.permits import VersionPermits, group_permits, version_permits

from tests.support.inprocess import Domain

GROUP = "fraud"
NAME = f"groups/{GROUP}/versions/1"


async def refused(call: Awaitable[object]) -> str:
    """Returns the message the use case refuses with, "" when it does what was asked."""
    try:
        await call
    except DomainError as error:
        return error.message
    return ""


async def registered(domain: Domain) -> pb.ModelVersion:
    await domain.registry.groups.create(
        domain.mutation("admin", "admin"), GROUP, pb.ModelGroup(description="")
    )
    version = pb.ModelVersion(
        artifact=pb.Artifact(uri="s3://m/1", sha256=hashlib.sha256(b"1").hexdigest())
    )
    return await domain.registry.versions.create(
        domain.mutation("rita", "contributor", "approver"), f"groups/{GROUP}", version
    )


async def permits_of(
    domain: Domain, subject: str, *roles: str
) -> tuple[pb.ModelVersion, VersionPermits]:
    me = domain.principal(subject, *roles)
    version = await domain.registry.versions.get(me, NAME)
    policy = await domain.registry.approvals.get_policy(me, f"groups/{GROUP}/approvalPolicy")
    return version, version_permits(me, version, policy)


@pytest.mark.parametrize(
    ("subject", "roles"),
    [
        ("rita", ("contributor", "approver")),  # registered it: no self-approval
        ("vic", ("viewer",)),
        ("dan", ("deployer",)),
        ("ava", ("approver",)),
        ("ava", ("approver@fraud",)),  # a role bound to this group
    ],
)
async def test_the_approve_control_agrees_with_approving(
    domain: Domain, subject: str, roles: tuple[str, ...]
) -> None:
    await registered(domain)
    _, permits = await permits_of(domain, subject, *roles)
    said = permits.approve
    done = await refused(
        domain.registry.approvals.approve(domain.mutation(subject, *roles), NAME, "")
    )
    assert bool(said) == bool(done), (said, done)
    if subject == "rita":
        assert "self-approval" in said
    if not done:  # once counted, approving again is not offered
        _, after = await permits_of(domain, subject, *roles)
        assert after.approve == "your approval is already counted"


@pytest.mark.parametrize("stage", [pb.STAGE_STAGING, pb.STAGE_PRODUCTION, pb.STAGE_ARCHIVED])
@pytest.mark.parametrize("approved", [False, True])
async def test_each_stage_control_agrees_with_the_transition(
    domain: Domain, stage: pb.Stage.ValueType, approved: bool
) -> None:
    await registered(domain)
    if approved:
        await domain.registry.approvals.approve(domain.mutation("ava", "approver"), NAME, "")
        await domain.registry.lifecycle.transition(
            domain.mutation("dan", "deployer"), NAME, pb.STAGE_STAGING, False, ""
        )
    for subject, roles in (("dan", ("deployer",)), ("ava", ("approver",))):
        _, permits = await permits_of(domain, subject, *roles)
        said = permits.transitions[stage]
        done = await refused(
            domain.registry.lifecycle.transition(
                domain.mutation(subject, *roles), NAME, stage, False, ""
            )
        )
        assert bool(said) == bool(done), (subject, stage, said, done)
        if done:
            break  # it moved: the next principal would see another state


async def test_the_group_controls_agree_with_rollback_and_aliases(domain: Domain) -> None:
    await registered(domain)
    for subject, roles in (("ava", ("approver",)), ("dan", ("deployer",))):
        me = domain.principal(subject, *roles)
        policy = await domain.registry.approvals.get_policy(me, f"groups/{GROUP}/approvalPolicy")
        permits = group_permits(me, GROUP, policy)
        alias = pb.Alias(name=f"groups/{GROUP}/aliases/champion", version=NAME)
        done = await refused(domain.registry.aliases.set(domain.mutation(subject, *roles), alias))
        assert bool(permits.aliases) == bool(done), (subject, permits.aliases, done)
        assert permits.acts
        # Rollback is offered by role; with nothing to roll back to it still fails, saying why.
        assert bool(permits.rollback) == (subject == "ava")
