"""Dependencies between versions (`lineage.depends_on`): who depends on a version, what
production needs, and the guard that keeps a production version's dependencies in place."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from modelyard.v1 import errors_pb2 as reasons
from modelyard.v1 import resources_pb2 as pb

from modelyard_server.domain import lookup, names
from modelyard_server.domain.changes import Mutation
from modelyard_server.domain.errors import FailedPrecondition, FieldViolation, invalid_fields
from modelyard_server.domain.principal import Permission, Principal
from modelyard_server.domain.repositories import DependencyEdge, Store, UnitOfWork, VersionKey

# A chain of dependencies longer than this is not followed further: registration would have
# needed as many versions, one on top of the other.
MAX_DEPTH = 64
# At most this many dependents are named in an error's message.
NAMED_IN_MESSAGE = 10


@dataclass(frozen=True)
class Dependent:
    """A version that depends on another, `depth` steps away, through `depends_on`."""

    version: VersionKey
    stage: int
    depends_on: VersionKey
    depth: int

    @property
    def name(self) -> str:
        return version_name(self.version)


def version_name(key: VersionKey) -> str:
    return f"groups/{key[0]}/versions/{key[1]}"


async def dependents(unit: UnitOfWork, key: VersionKey) -> list[Dependent]:
    """Returns every version that depends on `key`, directly or not, nearest first, each once."""
    return await _closure(unit, [key], await unit.dependencies.dependents_of([key]))


async def group_dependents(unit: UnitOfWork, group: str) -> list[Dependent]:
    """Returns every version of other groups that depends on one of the group's, directly or
    not, nearest first, each once."""
    edges = [e for e in await unit.dependencies.of_group(group) if e.dependent[0] != group]
    return await _closure(unit, [], edges)


async def _closure(
    unit: UnitOfWork, start: list[VersionKey], first: list[DependencyEdge]
) -> list[Dependent]:
    seen = set(start)
    found: list[Dependent] = []
    frontier: list[VersionKey] = []
    edges = first
    for depth in range(1, MAX_DEPTH + 1):
        if depth > 1:
            if not frontier:
                break
            edges = await unit.dependencies.dependents_of(frontier)
        frontier = []
        for edge in sorted(edges, key=lambda e: (e.dependent, e.target)):
            if edge.dependent in seen:
                continue
            seen.add(edge.dependent)
            found.append(Dependent(edge.dependent, edge.stage, edge.target, depth))
            frontier.append(edge.dependent)
    return found


async def needed_by_production(unit: UnitOfWork) -> set[VersionKey]:
    """Returns the versions that a PRODUCTION version of the tenant depends on, directly or
    not: retention keeps every one of them."""
    needed = {edge.target for edge in await unit.dependencies.of_stage(pb.STAGE_PRODUCTION)}
    frontier = sorted(needed)
    for _ in range(MAX_DEPTH):
        if not frontier:
            break
        edges = await unit.dependencies.dependencies_of(frontier)
        frontier = sorted({e.target for e in edges} - needed)
        needed.update(frontier)
    return needed


async def guard(
    unit: UnitOfWork, version: pb.ModelVersion, mutation: Mutation, force: bool, doing: str
) -> Mutation:
    """Raises HAS_DEPENDENTS when PRODUCTION versions depend on `version`, unless `force`;
    returns the mutation to log the change with: forced past dependents, its reason names them.
    `doing` says what the change does (`archive`, `reject`, `delete`)."""
    group = version.name.split("/")[1]
    serving = [
        d.name
        for d in await dependents(unit, (group, version.version))
        if d.stage == pb.STAGE_PRODUCTION
    ]
    if not serving:
        return mutation
    if not force:
        shown = ", ".join(serving[:NAMED_IN_MESSAGE])
        more = (
            f" and {len(serving) - NAMED_IN_MESSAGE} more"
            if len(serving) > NAMED_IN_MESSAGE
            else ""
        )
        raise FailedPrecondition(
            reasons.HAS_DEPENDENTS,
            f"production versions depend on '{version.name}': {shown}{more}; retire them "
            f"first, or {doing} with force and a reason",
            metadata={"resource": version.name, "dependents": ",".join(serving)},
        )
    if not mutation.reason.strip():
        raise invalid_fields(
            [FieldViolation("reason", f"is required with force: say why you {doing} it anyway")]
        )
    note = f" [forced past production dependents: {', '.join(serving)}]"
    return dataclasses.replace(mutation, reason=mutation.reason + note)


class Dependencies:
    """Impact analysis: what depends on a version."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def dependents(self, principal: Principal, name: str) -> list[Dependent]:
        """Returns the versions that depend on the named one, nearest first. Dependents in
        groups the caller may not read are left out."""
        ref = names.parse_version_name(name)
        principal.authorize(Permission.READ, ref.group)
        async with self.store.reader(principal.tenant) as unit:
            version = await lookup.version(unit, ref)
            found = await dependents(unit, (ref.group, version.version))
        return [d for d in found if Permission.READ in principal.permissions(d.version[0])]
