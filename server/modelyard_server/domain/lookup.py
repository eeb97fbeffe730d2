"""Loading what a request names, or the NOT_FOUND that says what is missing."""

from __future__ import annotations

from modelyard.v1 import errors_pb2 as reasons
from modelyard.v1 import resources_pb2 as pb

from modelyard_server.domain import names
from modelyard_server.domain.errors import NotFound
from modelyard_server.domain.repositories import UnitOfWork


def group_not_found(group: str) -> NotFound:
    return NotFound(
        reasons.MODEL_GROUP_NOT_FOUND,
        f"model group 'groups/{group}' does not exist",
        metadata={"resource": names.group_name(group)},
    )


def version_not_found(ref: names.VersionRef) -> NotFound:
    return NotFound(
        reasons.MODEL_VERSION_NOT_FOUND,
        f"model version '{ref.name}' does not exist",
        metadata={"resource": ref.name},
    )


def alias_not_found(ref: names.AliasRef) -> NotFound:
    return NotFound(
        reasons.ALIAS_NOT_FOUND,
        f"alias '{ref.name}' does not exist",
        metadata={"resource": ref.name},
    )


async def group(unit: UnitOfWork, group_id: str) -> pb.ModelGroup:
    """Returns the group, or raises MODEL_GROUP_NOT_FOUND."""
    found = await unit.groups.get(group_id)
    if found is None:
        raise group_not_found(group_id)
    return found


async def require_group(unit: UnitOfWork, group_id: str) -> None:
    """Raises MODEL_GROUP_NOT_FOUND unless the group exists."""
    await group(unit, group_id)


async def version(unit: UnitOfWork, ref: names.VersionRef) -> pb.ModelVersion:
    """Returns the version, or the NOT_FOUND of its group or of the version itself."""
    found = await unit.versions.get(ref.group, ref.number)
    if found is None:
        await require_group(unit, ref.group)
        raise version_not_found(ref)
    return found


async def alias(unit: UnitOfWork, ref: names.AliasRef) -> pb.Alias:
    """Returns the alias, or the NOT_FOUND of its group or of the alias itself."""
    found = await unit.aliases.get(ref.group, ref.alias)
    if found is None:
        await require_group(unit, ref.group)
        raise alias_not_found(ref)
    return found


async def version_by_alias(unit: UnitOfWork, ref: names.AliasRef) -> pb.ModelVersion:
    """Returns the version the alias points at, or the NOT_FOUND of its group or alias."""
    found = await unit.versions.by_alias(ref.group, ref.alias)
    if found is None:
        await require_group(unit, ref.group)
        raise alias_not_found(ref)
    return found


def default_policy(group_id: str) -> pb.ApprovalPolicy:
    """Returns the policy a group has until an admin changes it."""
    return pb.ApprovalPolicy(
        name=names.policy_name(group_id),
        required_approvals=1,
        allow_self_approval=False,
        approver_roles=["approver", "admin"],
        promoter_roles=["deployer", "admin"],
        max_production_versions=1,
    )


async def policy(unit: UnitOfWork, group_id: str) -> pb.ApprovalPolicy:
    """Returns the group's policy: the stored one, or the default."""
    return await unit.policies.get(group_id) or default_policy(group_id)
