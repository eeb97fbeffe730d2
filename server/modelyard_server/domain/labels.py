"""Aliases as labels on versions, and the rule that protected aliases only point at APPROVED
versions.

A version lists the aliases that point at it (output only); moving an alias relabels the
versions on both ends in the same change. A protected alias is one the group's policy names:
it may only point at an APPROVED version, and every change that could break that keeps it.
"""

from __future__ import annotations

from modelyard.v1 import resources_pb2 as pb

from modelyard_server.domain import names
from modelyard_server.domain.repositories import UnitOfWork
from modelyard_server.log.drafts import Related


def labelled(version: pb.ModelVersion, *, add: str = "", remove: str = "") -> pb.ModelVersion:
    """Returns a copy of the version with its alias list (alias names) changed; its etag
    stays, since aliases are not part of the version's own state."""
    after = pb.ModelVersion()
    after.CopyFrom(version)
    labels = [a for a in after.aliases if a != remove]
    if add and add not in labels:
        labels.append(add)
    del after.aliases[:]
    after.aliases.extend(sorted(labels))
    return after


async def relabel(
    unit: UnitOfWork, group: str, version: pb.ModelVersion, *, add: str = "", remove: str = ""
) -> tuple[str, pb.ModelVersion, pb.ModelVersion]:
    """Stores the version with its alias list changed; returns it as a related change."""
    after = labelled(version, add=add, remove=remove)
    await unit.versions.update(group, after)
    return version.name, version, after


async def drop_protected(
    unit: UnitOfWork, group: str, version: pb.ModelVersion, policy: pb.ApprovalPolicy
) -> tuple[pb.ModelVersion, Related]:
    """Deletes the protected aliases that point at a version about to lose its approval.

    Returns the version without them (not yet stored: the caller stores its own change) and
    the aliases' deletions as related changes of the same log entry. A deployer that follows
    a protected alias then finds it gone rather than pointing at a rejected model.
    """
    related: list[tuple[str, pb.Alias | None, pb.Alias | None]] = []
    for name in list(version.aliases):
        alias_id = names.parse_alias_name(name).alias
        if alias_id not in policy.protected_aliases:
            continue
        alias = await unit.aliases.get(group, alias_id)
        if alias is not None:
            await unit.aliases.delete(group, alias_id)
            related.append((alias.name, alias, None))
        version = labelled(version, remove=name)
    return version, tuple(related)


async def unapproved_targets(
    unit: UnitOfWork, group: str, aliases: list[str]
) -> list[tuple[str, pb.ModelVersion]]:
    """Returns those of the aliases that point at a version that is not APPROVED, with it."""
    found = []
    for alias_id in aliases:
        version = await unit.versions.by_alias(group, alias_id)
        if version is not None and version.approval_status != pb.APPROVAL_STATUS_APPROVED:
            found.append((names.AliasRef(group, alias_id).name, version))
    return found
