"""A group at a glance: how many versions it has in each stage, and which serve."""

from __future__ import annotations

from dataclasses import dataclass

from modelyard.v1 import resources_pb2 as pb

from modelyard_server.domain import lookup, names
from modelyard_server.domain.principal import Permission, Principal
from modelyard_server.domain.repositories import Store
from modelyard_server.domain.stages import STAGE_NAMES

STAGES = (pb.STAGE_NONE, pb.STAGE_STAGING, pb.STAGE_PRODUCTION, pb.STAGE_ARCHIVED)
# Counts stop here ("1,000+"): a page of a group of 100,000 versions must not read them all.
COUNT_LIMIT = 1000


@dataclass(frozen=True)
class GroupOverview:
    """The counts of a group's versions by stage name (a count of COUNT_LIMIT means "at
    least"), and its production versions."""

    counts: dict[str, int]
    production: list[pb.ModelVersion]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def capped(self) -> bool:
        """Whether a count stopped at COUNT_LIMIT."""
        return any(n >= COUNT_LIMIT for n in self.counts.values())


class Overview:
    """Summaries of groups, read with the caller's permissions."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def group(self, principal: Principal, name: str) -> GroupOverview:
        """Returns the group's counts by stage and its production versions; each count reads
        at most COUNT_LIMIT entries of the (group, stage) index, whatever the group's size."""
        [overview] = await self.groups(principal, [name])
        return overview

    async def groups(self, principal: Principal, group_names: list[str]) -> list[GroupOverview]:
        """Returns the overview of each group, in order, read in one snapshot."""
        groups = [names.parse_group_name(name) for name in group_names]
        for group in groups:
            principal.authorize(Permission.READ, group)
        found = []
        async with self.store.reader(principal.tenant) as unit:
            for group in groups:
                await lookup.require_group(unit, group)
                counts = {
                    STAGE_NAMES[stage]: await unit.versions.count_upto(group, stage, COUNT_LIMIT)
                    for stage in STAGES
                }
                production = await unit.versions.in_stage(group, pb.STAGE_PRODUCTION)
                found.append(GroupOverview(counts, production))
        return found
