"""Loading what a request names, or the NOT_FOUND that says what is missing."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from modelyard.v1 import errors_pb2 as reasons
from modelyard.v1 import resources_pb2 as pb

from modelyard_server.domain import names
from modelyard_server.domain.errors import NotFound, quote
from modelyard_server.domain.fields import check_etag
from modelyard_server.domain.principal import Principal
from modelyard_server.domain.repositories import UnitOfWork

T = TypeVar("T")


def group_not_found(group: str) -> NotFound:
    return NotFound(
        reasons.MODEL_GROUP_NOT_FOUND,
        f"model group 'groups/{group}' does not exist",
        metadata={"resource": names.group_name(group)},
    )


def version_not_found(ref: names.VersionRef) -> NotFound:
    return NotFound(
        reasons.MODEL_VERSION_NOT_FOUND,
        f"model version {quote(ref.name)} does not exist",
        metadata={"resource": ref.name},
    )


def alias_not_found(ref: names.AliasRef) -> NotFound:
    return NotFound(
        reasons.ALIAS_NOT_FOUND,
        f"alias {quote(ref.name)} does not exist",
        metadata={"resource": ref.name},
    )


async def _found(
    unit: UnitOfWork, found: T | None, group: str, missing: Callable[[], NotFound]
) -> T:
    """Returns what was found; else the group's NOT_FOUND if the group is missing too, or
    `missing()` (made only then: a read that finds what it looks for builds no error)."""
    if found is None:
        await require_group(unit, group)
        raise missing()
    return found


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
    return await _found(unit, found, ref.group, lambda: version_not_found(ref))


async def alias(unit: UnitOfWork, ref: names.AliasRef) -> pb.Alias:
    """Returns the alias, or the NOT_FOUND of its group or of the alias itself."""
    found = await unit.aliases.get(ref.group, ref.alias)
    return await _found(unit, found, ref.group, lambda: alias_not_found(ref))


async def version_by_alias(unit: UnitOfWork, ref: names.AliasRef) -> pb.ModelVersion:
    """Returns the version the alias points at, or the NOT_FOUND of its group or alias."""
    found = await unit.versions.by_alias(ref.group, ref.alias)
    return await _found(unit, found, ref.group, lambda: alias_not_found(ref))


async def readable_version(
    unit: UnitOfWork, ref: names.VersionRef | names.AliasRef
) -> pb.ModelVersion:
    """Returns the version that names.parse_readable_version gave, or its NOT_FOUND."""
    if isinstance(ref, names.AliasRef):
        return await version_by_alias(unit, ref)
    return await version(unit, ref)


async def governed_version(
    unit: UnitOfWork,
    principal: Principal,
    ref: names.VersionRef,
    etag: str,
    roles: Callable[[pb.ApprovalPolicy], Iterable[str]],
    doing: str,
) -> tuple[pb.ModelVersion, pb.ApprovalPolicy]:
    """Returns a version and its group's policy, once the caller holds one of the policy's
    `roles` for `doing` it and, if they sent an etag, read its latest state."""
    found = await version(unit, ref)
    rules = await policy(unit, ref.group)
    principal.require_role(roles(rules), doing, ref.group)
    check_etag(etag, found.etag, found.name)
    return found, rules


def default_policy(group_id: str) -> pb.ApprovalPolicy:
    """Returns the policy a group has until an admin changes it."""
    return pb.ApprovalPolicy(
        name=names.policy_name(group_id),
        required_approvals=1,
        allow_self_approval=False,
        approver_roles=["approver", "admin"],
        promoter_roles=["deployer", "admin"],
        max_production_versions=1,
        schema_compatibility=pb.SCHEMA_COMPATIBILITY_NONE,
    )


async def policy(unit: UnitOfWork, group_id: str) -> pb.ApprovalPolicy:
    """Returns the group's policy: the stored one, or the default."""
    stored = await unit.policies.get(group_id)
    if stored is None:
        return default_policy(group_id)
    if stored.schema_compatibility == pb.SCHEMA_COMPATIBILITY_UNSPECIFIED:
        # stored before the field existed, or left unset by the caller: the default
        stored.schema_compatibility = pb.SCHEMA_COMPATIBILITY_NONE
    return stored
