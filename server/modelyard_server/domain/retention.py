"""Retention: per-group policies (and a tenant default) that archive stale STAGING versions
and delete old ARCHIVED ones, planned as a dry run or applied, never touching what serves
or what must be kept.

Each archive or delete is its own change with its own log entry, written by the system
principal `retention`. It is decided again inside its unit of work, under the tenant's write
lock, from the state at that moment: a promotion or registration that commits between the
plan and the change can only make retention keep more, never act on stale facts.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from modelyard.v1 import resources_pb2 as pb
from modelyard.v1 import retention_service_pb2 as rets

from modelyard_server.domain import dependents, lookup, names, stages
from modelyard_server.domain.changes import Change, Changes, Mutation, Unchanged, resource
from modelyard_server.domain.clock import new_etag, timestamp
from modelyard_server.domain.errors import FieldViolation, invalid_fields
from modelyard_server.domain.fields import FieldRules, check_etag
from modelyard_server.domain.principal import Permission, Principal
from modelyard_server.domain.repositories import Store, UnitOfWork, VersionKey
from modelyard_server.domain.schemas import GROUPS
from modelyard_server.log.drafts import LogDraft

log = logging.getLogger("modelyard.retention")

#: The principal whose name the log gives retention's own changes.
SYSTEM_SUBJECT = "retention"
DAY_US = 86_400 * 1_000_000
MAX_DAYS = 36_500
MAX_KEEP_NEWEST = 10_000
DEFAULT_POLICY = "groups/-/retentionPolicy"
FIELDS = FieldRules(
    mutable=frozenset(
        {
            "keep_newest",
            "archive_staging_after_days",
            "delete_archived_after_days",
            "artifact_hold_days",
        }
    ),
    output_only=frozenset({"name", "inherited", "update_time", "etag"}),
)
ARCHIVE = rets.RETENTION_OUTCOME_ARCHIVE
DELETE = rets.RETENTION_OUTCOME_DELETE
KEEP = rets.RETENTION_OUTCOME_KEEP


def policy_name(group: str | None) -> str:
    return DEFAULT_POLICY if group is None else f"groups/{group}/retentionPolicy"


def parse_policy_name(name: str, field: str = "name") -> str | None:
    """Returns the group of `groups/{group}/retentionPolicy`; None for the tenant default."""
    parts = name.split("/")
    if len(parts) != 3 or parts[0] != "groups" or parts[2] != "retentionPolicy":
        raise invalid_fields(
            [
                FieldViolation(
                    field,
                    f"'{name[:200]}' is not a retention policy name: expected "
                    "groups/{group}/retentionPolicy, or groups/-/retentionPolicy for the default",
                )
            ]
        )
    if parts[1] == "-":
        return None
    return names.check_group_id(parts[1], field)


def check_policy(policy: rets.RetentionPolicy, prefix: str = "retention_policy") -> None:
    violations = []
    for field, limit in (
        ("keep_newest", MAX_KEEP_NEWEST),
        ("archive_staging_after_days", MAX_DAYS),
        ("delete_archived_after_days", MAX_DAYS),
        ("artifact_hold_days", MAX_DAYS),
    ):
        value = getattr(policy, field)
        if not 0 <= value <= limit:
            violations.append(
                FieldViolation(f"{prefix}.{field}", f"is {value}; it must be 0 (off) to {limit}")
            )
    if violations:
        raise invalid_fields(violations)


async def effective_policy(unit: UnitOfWork, group: str) -> rets.RetentionPolicy:
    """Returns the group's policy, or the tenant's default marked inherited (all rules off
    when there is none)."""
    own = await unit.retention.get(group)
    if own is not None:
        return own
    policy = rets.RetentionPolicy()
    default = await unit.retention.get(None)
    if default is not None:
        policy.CopyFrom(default)
    policy.name = policy_name(group)
    policy.inherited = True
    return policy


def _active(policy: rets.RetentionPolicy) -> bool:
    return bool(policy.archive_staging_after_days or policy.delete_archived_after_days)


@dataclass(frozen=True)
class Facts:
    """What protects a group's versions at one moment."""

    group: str
    keep_from: int  # the group's versions numbered this or above are among its newest
    rollback_target: int | None
    needed: set[VersionKey]  # what PRODUCTION versions depend on, tenant-wide


async def facts(unit: UnitOfWork, group: str, policy: rets.RetentionPolicy) -> Facts:
    keep_from = sys.maxsize
    if policy.keep_newest:
        newest = await unit.versions.newest_numbers(group, policy.keep_newest)
        keep_from = min(newest) if len(newest) == policy.keep_newest else 0
    former = await unit.versions.former_production(group, limit=1)
    target = former[0].version if former else None
    return Facts(group, keep_from, target, await dependents.needed_by_production(unit))


def _day(us: int) -> str:
    return datetime.fromtimestamp(us / 1e6, UTC).date().isoformat()


def _protection(version: pb.ModelVersion, policy: rets.RetentionPolicy, known: Facts) -> str:
    """Returns what keeps the version from retention, or "" when nothing does."""
    if version.stage == pb.STAGE_PRODUCTION:
        return "in PRODUCTION"
    if version.HasField("legal_hold"):
        return f"under legal hold: {version.legal_hold.reason}"
    if version.aliases:
        return f"aliases point at it: {', '.join(version.aliases)}"
    if (known.group, version.version) in known.needed:
        return "a PRODUCTION version depends on it"
    if version.version == known.rollback_target:
        return "the version a rollback would restore"
    if version.version >= known.keep_from:
        return f"one of the group's newest {policy.keep_newest} versions"
    return ""


def decide(
    version: pb.ModelVersion, policy: rets.RetentionPolicy, known: Facts, now: int
) -> tuple[rets.RetentionOutcome.ValueType, str] | None:
    """Returns what retention does to the version and why, or None when no rule applies."""
    since = (
        version.stage_time.ToMicroseconds()
        if version.HasField("stage_time")
        else version.update_time.ToMicroseconds()
    )
    age = now - since
    outcome: rets.RetentionOutcome.ValueType
    if version.stage == pb.STAGE_STAGING and policy.archive_staging_after_days:
        if age < policy.archive_staging_after_days * DAY_US:
            return None
        outcome = ARCHIVE
        why = (
            f"in STAGING since {_day(since)}, not promoted within "
            f"{policy.archive_staging_after_days} days"
        )
    elif version.stage == pb.STAGE_ARCHIVED and policy.delete_archived_after_days:
        if age < policy.delete_archived_after_days * DAY_US:
            return None
        hold = policy.artifact_hold_days * DAY_US
        if age < hold:
            return KEEP, (
                f"artifact hold: archived {_day(since)}, its bytes are kept "
                f"{policy.artifact_hold_days} days, until {_day(since + hold)}"
            )
        outcome = DELETE
        why = f"ARCHIVED since {_day(since)}, over {policy.delete_archived_after_days} days"
    else:
        return None
    protected = _protection(version, policy, known)
    if protected:
        return KEEP, protected
    return outcome, why


def _action(
    version: pb.ModelVersion, outcome: rets.RetentionOutcome.ValueType, why: str
) -> rets.RetentionAction:
    return rets.RetentionAction(
        version=version.name, outcome=outcome, reason=why, stage=version.stage
    )


async def plan(
    unit: UnitOfWork, group: str, now: int
) -> tuple[rets.RetentionPolicy, list[rets.RetentionAction]]:
    """Returns the group's policy and what it would do now, by version number."""
    policy = await effective_policy(unit, group)
    if not _active(policy):
        return policy, []
    known = await facts(unit, group, policy)
    candidates = [
        *await unit.versions.in_stage(group, pb.STAGE_STAGING),
        *await unit.versions.in_stage(group, pb.STAGE_ARCHIVED),
    ]
    actions = []
    for version in sorted(candidates, key=lambda v: v.version):
        decided = decide(version, policy, known, now)
        if decided is not None:
            actions.append(_action(version, *decided))
    return policy, actions


class Retention:
    """Retention policies, their plans and their application, and legal holds."""

    def __init__(self, store: Store, changes: Changes, clock: Callable[[], int]) -> None:
        self.store = store
        self.changes = changes
        self.clock = clock

    async def get_policy(self, principal: Principal, name: str) -> rets.RetentionPolicy:
        group = parse_policy_name(name)
        principal.authorize(Permission.READ, group)
        async with self.store.reader(principal.tenant) as unit:
            if group is None:
                stored = await unit.retention.get(None)
                return stored or rets.RetentionPolicy(name=DEFAULT_POLICY)
            await lookup.require_group(unit, group)
            return await effective_policy(unit, group)

    async def update_policy(
        self, mutation: Mutation, patch: rets.RetentionPolicy, paths: Sequence[str]
    ) -> rets.RetentionPolicy:
        """Returns the policy with the masked fields changed. A group's first policy starts
        from the tenant default it inherited."""
        group = parse_policy_name(patch.name, "retention_policy.name")
        FIELDS.check(paths)
        check_policy(patch)
        mutation.principal.authorize(Permission.ADMIN, group)

        async def apply(unit: UnitOfWork, now: int) -> LogDraft:
            if group is None:
                before = await unit.retention.get(None)
                current = before or rets.RetentionPolicy(name=DEFAULT_POLICY)
            else:
                await lookup.require_group(unit, group)
                before = await unit.retention.get(group)
                current = await effective_policy(unit, group)
            check_etag(patch.etag, current.etag, current.name)
            after = rets.RetentionPolicy()
            after.CopyFrom(current)
            after.inherited = False
            FIELDS.apply(after, patch, paths)
            after.update_time.CopyFrom(timestamp(now))
            after.etag = new_etag()
            await unit.retention.save(group, after)
            return mutation.draft(
                pb.ACTION_RETENTION_POLICY_UPDATED, after.name, group or "", 0, before, after, now
            )

        return await self.changes.run(mutation, Change(apply, resource(rets.RetentionPolicy)))

    async def plan(
        self, principal: Principal, parent: str
    ) -> tuple[rets.RetentionPolicy, list[rets.RetentionAction]]:
        """Returns the group's policy and every action it would take now, with its reason."""
        group = names.parse_group_name(parent, "parent")
        principal.authorize(Permission.READ, group)
        async with self.store.reader(principal.tenant) as unit:
            await lookup.require_group(unit, group)
            return await plan(unit, group, self.clock())

    async def apply(self, principal: Principal, parent: str) -> list[rets.RetentionAction]:
        """Applies the group's policy now; returns the archives and deletes made."""
        group = names.parse_group_name(parent, "parent")
        principal.authorize(Permission.ADMIN, group)
        async with self.store.reader(principal.tenant) as unit:
            await lookup.require_group(unit, group)
        return await self._apply(principal.tenant, group, f"applied by {principal.subject}")

    async def _apply(self, tenant: str, group: str, by: str) -> list[rets.RetentionAction]:
        async with self.store.reader(tenant) as unit:
            _, planned = await plan(unit, group, self.clock())
        done = []
        for action in planned:
            if action.outcome in (ARCHIVE, DELETE):
                number = names.parse_version_name(action.version).number
                assert number is not None
                made = await self._act(tenant, group, number, action.outcome, by)
                if made is not None:
                    done.append(made)
        return done

    async def _act(
        self,
        tenant: str,
        group: str,
        number: int,
        outcome: rets.RetentionOutcome.ValueType,
        by: str,
    ) -> rets.RetentionAction | None:
        """Archives or deletes one version if retention still would, deciding again on the
        state inside the change; returns what it did, or None."""
        made: list[rets.RetentionAction] = []

        async def apply(unit: UnitOfWork, now: int) -> LogDraft | Unchanged:
            version = await unit.versions.get(group, number)
            if version is None:
                return Unchanged(pb.ModelVersion())
            policy = await effective_policy(unit, group)
            decided = decide(version, policy, await facts(unit, group, policy), now)
            if decided is None or decided[0] != outcome:
                return Unchanged(version)
            system = Mutation(
                Principal(SYSTEM_SUBJECT, tenant, frozenset({"admin"})),
                reason=f"{decided[1]} ({by})",
            )
            made.append(_action(version, *decided))
            if outcome == ARCHIVE:
                after = stages.moved(version, pb.STAGE_ARCHIVED, now)
                await unit.versions.update(group, after)
                return system.version_draft(pb.ACTION_STAGE_CHANGED, version, after, now)
            await unit.versions.delete(group, number)
            return system.version_draft(pb.ACTION_MODEL_VERSION_DELETED, version, None, now)

        system = Mutation(Principal(SYSTEM_SUBJECT, tenant, frozenset({"admin"})))
        await self.changes.run(system, Change(apply, lambda committed: None))
        return made[0] if made else None

    async def sweep(self, tenants: Sequence[str]) -> int:
        """Applies every group's policy in the tenants; returns how many changes it made."""
        made = 0
        for tenant in tenants:
            after = None
            while True:
                async with self.store.reader(tenant) as unit:
                    page = await unit.groups.page(None, GROUPS.default_order, 200, after)
                for group in page.items:
                    group_id = group.name.split("/")[1]
                    made += len(await self._apply(tenant, group_id, "by the sweeper"))
                if page.resume_after is None:
                    break
                after = page.resume_after
        return made
