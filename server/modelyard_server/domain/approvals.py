"""Approvals and group policies: who decides whether a version may serve, and how many must."""

from __future__ import annotations

from collections.abc import Sequence

from google.protobuf import json_format
from modelyard.v1 import errors_pb2 as reasons
from modelyard.v1 import resources_pb2 as pb

from modelyard_server.domain import dependents, labels, lookup, names, stages, validation
from modelyard_server.domain.changes import Change, Changes, Mutation, Unchanged, resource
from modelyard_server.domain.clock import new_etag, timestamp
from modelyard_server.domain.errors import (
    FailedPrecondition,
    FieldViolation,
    PermissionDenied,
    invalid_fields,
    quote,
)
from modelyard_server.domain.fields import FieldRules, check_etag
from modelyard_server.domain.pages import PageTokens, page_size
from modelyard_server.domain.principal import ROLES, Permission, Principal
from modelyard_server.domain.repositories import AuditQuery, Store, UnitOfWork
from modelyard_server.log.drafts import LogDraft, action_name

MAX_APPROVALS = 10
APPROVALS = action_name(pb.ACTION_APPROVAL_CHANGED)
MAX_PRODUCTION = 10
FIELDS = FieldRules(
    mutable=frozenset(
        {
            "required_approvals",
            "allow_self_approval",
            "approver_roles",
            "promoter_roles",
            "max_production_versions",
            "protected_aliases",
            "schema_compatibility",
        }
    ),
    output_only=frozenset({"name", "update_time", "etag"}),
)


def check_policy(policy: pb.ApprovalPolicy) -> None:
    violations = []
    if not 1 <= policy.required_approvals <= MAX_APPROVALS:
        violations.append(
            FieldViolation("approval_policy.required_approvals", f"must be 1 to {MAX_APPROVALS}")
        )
    if not 1 <= policy.max_production_versions <= MAX_PRODUCTION:
        violations.append(
            FieldViolation(
                "approval_policy.max_production_versions", f"must be 1 to {MAX_PRODUCTION}"
            )
        )
    for field in ("approver_roles", "promoter_roles"):
        roles = list(getattr(policy, field))
        if not roles:
            violations.append(
                FieldViolation(f"approval_policy.{field}", "must name at least one role")
            )
        violations.extend(
            FieldViolation(
                f"approval_policy.{field}",
                f"{quote(role)} is not a role ({', '.join(sorted(ROLES))})",
            )
            for role in roles
            if role not in ROLES
        )
    if policy.schema_compatibility not in pb.SchemaCompatibility.values():
        violations.append(
            FieldViolation(
                "approval_policy.schema_compatibility",
                f"{policy.schema_compatibility} is not one of NONE, BACKWARD, FULL",
            )
        )
    violations.extend(
        FieldViolation("approval_policy.protected_aliases", f"{quote(alias)} is not an alias id")
        for alias in policy.protected_aliases
        if not names.ALIAS_ID.fullmatch(alias)
    )
    if violations:
        raise invalid_fields(violations)


def approvers(policy: pb.ApprovalPolicy) -> Sequence[str]:
    return policy.approver_roles


def decided(
    version: pb.ModelVersion, decision: int, reviewer: str, reason: str, now: int
) -> pb.ModelVersion:
    """Records a decision on the version (already in its resulting status) and stamps it."""
    version.last_decision.CopyFrom(
        pb.ApprovalDecision(
            version=version.name,
            decision=decision,  # type: ignore[arg-type]
            reviewer=reviewer,
            reason=reason,
            decide_time=timestamp(now),
            resulting_status=version.approval_status,
        )
    )
    version.update_time.CopyFrom(timestamp(now))
    version.etag = new_etag()
    return version


class Approvals:
    """The decisions on versions, and the group policies that govern them."""

    def __init__(self, store: Store, changes: Changes, tokens: PageTokens) -> None:
        self.store = store
        self.changes = changes
        self.tokens = tokens

    async def approve(self, mutation: Mutation, name: str, etag: str) -> pb.ModelVersion:
        """Returns the version with the approval counted; APPROVED once enough reviewers agree."""
        ref = names.parse_version_name(name)
        validation.check_reason(mutation.reason)
        mutation.principal.authorize(Permission.READ, ref.group)
        reviewer = mutation.principal.subject

        async def apply(unit: UnitOfWork, now: int) -> LogDraft | Unchanged:
            before, policy = await lookup.governed_version(
                unit, mutation.principal, ref, etag, approvers, "approve versions"
            )
            if before.created_by == reviewer and not policy.allow_self_approval:
                raise PermissionDenied(
                    reasons.SELF_APPROVAL_FORBIDDEN,
                    f"{quote(reviewer)} registered {quote(before.name)} and may not approve it; another "
                    "reviewer must, or an admin may allow self-approval in the group's policy",
                    metadata={"resource": before.name},
                )
            if reviewer in before.approvers:
                return Unchanged(before)  # an approval counts once per reviewer
            after = pb.ModelVersion()
            after.CopyFrom(before)
            if before.approval_status == pb.APPROVAL_STATUS_REJECTED:
                del after.approvers[:]
            after.approvers.append(reviewer)
            if len(after.approvers) >= policy.required_approvals:
                after.approval_status = pb.APPROVAL_STATUS_APPROVED
            else:
                after.approval_status = pb.APPROVAL_STATUS_PENDING_MANUAL_APPROVAL
            decided(after, pb.DECISION_APPROVE, reviewer, mutation.reason, now)
            await unit.versions.update(ref.group, after)
            return mutation.version_draft(pb.ACTION_APPROVAL_CHANGED, before, after, now)

        return await self.changes.run(mutation, Change(apply, resource(pb.ModelVersion)))

    async def reject(
        self, mutation: Mutation, name: str, etag: str, *, force: bool = False
    ) -> pb.ModelVersion:
        """Returns the rejected version. In the same change, a production version leaves
        production (the newest approved former one comes back, if any) and the protected
        aliases that pointed at it are deleted. Rejecting a version a production version
        depends on needs `force`."""
        ref = names.parse_version_name(name)
        validation.check_reason(mutation.reason, required=True)
        mutation.principal.authorize(Permission.READ, ref.group)

        async def apply(unit: UnitOfWork, now: int) -> LogDraft:
            before, policy = await lookup.governed_version(
                unit, mutation.principal, ref, etag, approvers, "reject versions"
            )
            logged = await dependents.guard(unit, before, mutation, force, "reject")
            after = pb.ModelVersion()
            after.CopyFrom(before)
            after.approval_status = pb.APPROVAL_STATUS_REJECTED
            del after.approvers[:]
            decided(after, pb.DECISION_REJECT, mutation.principal.subject, mutation.reason, now)
            after, related = await labels.drop_protected(unit, ref.group, after, policy)
            if before.stage == pb.STAGE_PRODUCTION:
                # Never a rejected version in production: put back the newest approved former one.
                after = stages.moved(after, pb.STAGE_ARCHIVED, now)
                for candidate in await unit.versions.former_production(ref.group, limit=50):
                    if (
                        candidate.approval_status == pb.APPROVAL_STATUS_APPROVED
                        and candidate.version != after.version
                    ):
                        restored = stages.moved(candidate, pb.STAGE_PRODUCTION, now)
                        await unit.versions.update(ref.group, restored)
                        related = (*related, (restored.name, candidate, restored))
                        break
            await unit.versions.update(ref.group, after)
            return logged.version_draft(pb.ACTION_APPROVAL_CHANGED, before, after, now, related)

        return await self.changes.run(mutation, Change(apply, resource(pb.ModelVersion)))

    async def page(
        self, principal: Principal, parent: str, size: int, token: str
    ) -> tuple[list[pb.ApprovalDecision], str]:
        """Returns one page of decisions on a version or a group, oldest first."""
        if names.is_alias_name(parent):
            raise invalid_fields(
                [FieldViolation("parent", "name a version or a group, not an alias")]
            )
        if parent.count("/") == 1:
            group = names.parse_group_name(parent, "parent")
            query = AuditQuery(group=group, actions=(APPROVALS,))
        else:
            ref = names.parse_version_name(parent, "parent")
            group = ref.group
            query = AuditQuery(resource=ref.name, actions=(APPROVALS,))
        principal.authorize(Permission.READ, group)
        tokens = self.tokens.query(principal.tenant, "approvals", parent)
        limit = page_size(size, 100)
        after = tokens.resume_after(token)
        after_seq = int(after[0]) if after and isinstance(after[0], int) else None
        async with self.store.reader(principal.tenant) as unit:
            entries = await unit.log.page(query, limit + 1, after_seq)
        decisions = []
        for entry in entries[:limit]:
            version = json_format.Parse(
                entry.after or "{}", pb.ModelVersion(), ignore_unknown_fields=True
            )
            decision = pb.ApprovalDecision()
            decision.CopyFrom(version.last_decision)
            decision.seq = entry.seq
            decisions.append(decision)
        resume = (entries[limit - 1].seq,) if len(entries) > limit else None
        return decisions, tokens.token(resume)

    async def get_policy(self, principal: Principal, name: str) -> pb.ApprovalPolicy:
        group = names.parse_policy_name(name)
        principal.authorize(Permission.READ, group)
        async with self.store.reader(principal.tenant) as unit:
            await lookup.require_group(unit, group)
            return await lookup.policy(unit, group)

    async def update_policy(
        self, mutation: Mutation, patch: pb.ApprovalPolicy, paths: Sequence[str]
    ) -> pb.ApprovalPolicy:
        """Returns the policy with the masked fields changed. An alias becomes protected only
        while it points at an APPROVED version."""
        group = names.parse_policy_name(patch.name, "approval_policy.name")
        FIELDS.check(paths)
        mutation.principal.authorize(Permission.ADMIN, group)

        async def apply(unit: UnitOfWork, now: int) -> LogDraft:
            await lookup.require_group(unit, group)
            before = await lookup.policy(unit, group)
            check_etag(patch.etag, before.etag, before.name)
            after = pb.ApprovalPolicy()
            after.CopyFrom(before)
            FIELDS.apply(after, patch, paths)
            check_policy(after)
            newly = [a for a in after.protected_aliases if a not in before.protected_aliases]
            unapproved = await labels.unapproved_targets(unit, group, newly)
            if unapproved:
                alias, version = unapproved[0]
                status = pb.ApprovalStatus.Name(version.approval_status)
                raise FailedPrecondition(
                    reasons.VERSION_NOT_APPROVED,
                    f"{quote(alias)} points at {quote(version.name)}, which is "
                    f"{status.removeprefix('APPROVAL_STATUS_')}; a protected alias may only point "
                    "at an APPROVED version: move it first, then protect it",
                    metadata={"resource": alias, "version": version.name},
                )
            after.update_time.CopyFrom(timestamp(now))
            after.etag = new_etag()
            await unit.policies.save(group, after)
            return mutation.draft(
                pb.ACTION_APPROVAL_POLICY_UPDATED, after.name, group, 0, before, after, now
            )

        return await self.changes.run(mutation, Change(apply, resource(pb.ApprovalPolicy)))
