"""The stage lifecycle: moving versions between stages, and rolling production back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from modelyard.v1 import errors_pb2 as reasons
from modelyard.v1 import resources_pb2 as pb

from modelyard_server.domain import contracts, dependents, lookup, names, stages, validation
from modelyard_server.domain.changes import Change, Changes, Committed, Mutation
from modelyard_server.domain.errors import FailedPrecondition, FieldViolation, invalid_fields, quote
from modelyard_server.domain.principal import Permission
from modelyard_server.domain.repositories import UnitOfWork
from modelyard_server.log.drafts import LogDraft


@dataclass(frozen=True)
class Moved:
    """The version a change put in its stage, and the production versions it archived."""

    version: pb.ModelVersion
    archived: list[pb.ModelVersion]


def moved_and_archived(committed: Committed) -> Moved:
    """The `respond` step of a stage change: the moved version and those it archived."""
    archived = [
        v for v in committed.related(pb.ModelVersion, "versions") if v.stage == pb.STAGE_ARCHIVED
    ]
    return Moved(committed.after(pb.ModelVersion), archived)


def promoters(policy: pb.ApprovalPolicy) -> Sequence[str]:
    return policy.promoter_roles


async def retire(
    unit: UnitOfWork, group: str, current: list[pb.ModelVersion], now: int
) -> list[tuple[str, pb.ModelVersion, pb.ModelVersion]]:
    """Archives the versions in production; returns the moves as related changes."""
    related = []
    for old in current:
        retired = stages.moved(old, pb.STAGE_ARCHIVED, now)
        await unit.versions.update(group, retired)
        related.append((retired.name, old, retired))
    return related


class Lifecycle:
    """Which version serves: stage transitions and production rollback."""

    def __init__(self, changes: Changes) -> None:
        self.changes = changes

    async def transition(
        self,
        mutation: Mutation,
        name: str,
        stage: int,
        keep_production: bool,
        etag: str,
        *,
        force: bool = False,
    ) -> Moved:
        """Returns the moved version and the versions a promotion archived. Archiving a
        version a production version depends on needs `force`."""
        ref = names.parse_version_name(name)
        validation.check_reason(mutation.reason)
        if stage not in stages.TRANSITIONS:
            raise invalid_fields(
                [FieldViolation("stage", "is required: STAGING, PRODUCTION or ARCHIVED")]
            )
        mutation.principal.authorize(Permission.READ, ref.group)

        async def apply(unit: UnitOfWork, now: int) -> LogDraft:
            before, policy = await lookup.governed_version(
                unit, mutation.principal, ref, etag, promoters, "change stages"
            )
            stages.check_transition(before, stage)
            logged = mutation
            if stage == pb.STAGE_ARCHIVED:
                logged = await dependents.guard(unit, before, mutation, force, "archive")
            related = []
            if stage == pb.STAGE_PRODUCTION:
                stages.require_approved(before, "promoted to PRODUCTION")
                current = await unit.versions.in_stage(ref.group, pb.STAGE_PRODUCTION)
                contracts.check_promotion(policy.schema_compatibility, before, current)
                if not keep_production:
                    for old in current:  # it archives them: held to the archive rule
                        logged = await dependents.guard(unit, old, logged, force, "archive")
                    related = await retire(unit, ref.group, current, now)
                elif len(current) + 1 > policy.max_production_versions:
                    raise FailedPrecondition(
                        reasons.PRODUCTION_LIMIT_REACHED,
                        f"group {quote(ref.group)} allows {policy.max_production_versions} production "
                        f"version(s) and has {len(current)}; promote without keeping them, or "
                        "raise max_production_versions in the policy",
                    )
            after = stages.moved(before, stage, now)
            await unit.versions.update(ref.group, after)
            return logged.version_draft(pb.ACTION_STAGE_CHANGED, before, after, now, tuple(related))

        return await self.changes.run(mutation, Change(apply, moved_and_archived))

    async def rollback(self, mutation: Mutation, group_name: str, target: str) -> Moved:
        """Returns the version put back in production and the versions it replaced."""
        group = names.parse_group_name(group_name, "group")
        target_ref = names.parse_version_name(target, "target_version") if target else None
        if target_ref is not None and target_ref.group != group:
            raise invalid_fields(
                [FieldViolation("target_version", f"must be a version of group {quote(group)}")]
            )
        validation.check_reason(mutation.reason)
        mutation.principal.authorize(Permission.READ, group)

        async def apply(unit: UnitOfWork, now: int) -> LogDraft:
            await lookup.require_group(unit, group)
            policy = await lookup.policy(unit, group)
            mutation.principal.require_role(policy.promoter_roles, "roll back production", group)
            if target_ref is not None:
                chosen = await lookup.version(unit, target_ref)
                if chosen.stage == pb.STAGE_PRODUCTION:
                    raise FailedPrecondition(
                        reasons.INVALID_TRANSITION,
                        f"{quote(chosen.name)} is already in production; nothing to roll back to",
                    )
            else:
                former = await unit.versions.former_production(group, limit=1)
                if not former:
                    raise FailedPrecondition(
                        reasons.NO_ROLLBACK_TARGET,
                        f"no version of group {quote(group)} has been in production before; "
                        "promote one, or name a target_version",
                    )
                chosen = former[0]
            stages.require_approved(chosen, "restored to PRODUCTION")
            current = await unit.versions.in_stage(group, pb.STAGE_PRODUCTION)
            related = await retire(unit, group, current, now)
            restored = stages.moved(chosen, pb.STAGE_PRODUCTION, now)
            await unit.versions.update(group, restored)
            return mutation.version_draft(
                pb.ACTION_ROLLED_BACK, chosen, restored, now, tuple(related)
            )

        return await self.changes.run(mutation, Change(apply, moved_and_archived))
