"""A group at a glance: how many versions it has in each stage, and which serve."""

from __future__ import annotations

from dataclasses import dataclass

from modelyard.v1 import resources_pb2 as pb

from modelyard_server.domain import lookup, names
from modelyard_server.domain.principal import Permission, Principal
from modelyard_server.domain.repositories import Store
from modelyard_server.domain.stages import STAGE_NAMES

STAGES = (pb.STAGE_NONE, pb.STAGE_STAGING, pb.STAGE_PRODUCTION, pb.STAGE_ARCHIVED)


@dataclass(frozen=True)
class GroupOverview:
    """The counts of a group's versions by stage name, and its production versions."""

    counts: dict[str, int]
    production: list[pb.ModelVersion]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


class Overview:
    """Summaries of groups, read with the caller's permissions."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def group(self, principal: Principal, name: str) -> GroupOverview:
        """Returns the group's counts by stage and its production versions; each count is
        one indexed query (group, stage), whatever the group's size."""
        group = names.parse_group_name(name)
        principal.authorize(Permission.READ, group)
        async with self.store.reader(principal.tenant) as unit:
            await lookup.require_group(unit, group)
            counts = {
                STAGE_NAMES[stage]: await unit.versions.count(group, stage=stage)
                for stage in STAGES
            }
            production = await unit.versions.in_stage(group, pb.STAGE_PRODUCTION)
        return GroupOverview(counts, production)
