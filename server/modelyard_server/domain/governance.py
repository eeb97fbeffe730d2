"""Approvals, the stage lifecycle, production rollback, aliases and group policies."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from google.protobuf import json_format
from modelyard.v1 import resources_pb2 as pb

from modelyard_server.domain import names
from modelyard_server.domain.changes import Mutation, Related, must, write
from modelyard_server.domain.clock import new_etag, now_us, timestamp
from modelyard_server.domain.errors import (
    FailedPrecondition,
    FieldViolation,
    PermissionDenied,
    invalid_fields,
)
from modelyard_server.domain.pages import decode_token, encode_token, fingerprint, page_size
from modelyard_server.domain.principal import ROLES, Permission, Principal
from modelyard_server.domain.registry import (
    alias_not_found,
    apply_mask,
    check_etag,
    group_not_found,
    mask_paths,
    version_not_found,
)
from modelyard_server.domain.store import AuditQuery, LogDraft, Store, Writer

MAX_REASON = 4096
MAX_APPROVALS = 10
MAX_PRODUCTION = 10

STAGE_NAMES: dict[int, str] = {
    int(v): pb.Stage.Name(v).removeprefix("STAGE_") for v in pb.Stage.values()
}

# The lifecycle (DESIGN.md section 4): where each stage may go next.
TRANSITIONS: dict[int, frozenset[int]] = {  # keyed by pb.Stage values
    pb.STAGE_NONE: frozenset({pb.STAGE_STAGING, pb.STAGE_ARCHIVED}),
    pb.STAGE_STAGING: frozenset({pb.STAGE_PRODUCTION, pb.STAGE_ARCHIVED}),
    pb.STAGE_PRODUCTION: frozenset({pb.STAGE_ARCHIVED}),
    pb.STAGE_ARCHIVED: frozenset({pb.STAGE_STAGING}),
}

POLICY_FIELDS = {
    "required_approvals",
    "allow_self_approval",
    "approver_roles",
    "promoter_roles",
    "max_production_versions",
    "protected_aliases",
}


def default_policy(group: str) -> pb.ApprovalPolicy:
    """Returns the policy a group has until an admin changes it."""
    return pb.ApprovalPolicy(
        name=names.policy_name(group),
        required_approvals=1,
        allow_self_approval=False,
        approver_roles=["approver", "admin"],
        promoter_roles=["deployer", "admin"],
        max_production_versions=1,
    )


def check_transition(version: pb.ModelVersion, stage: int) -> None:
    """Raises INVALID_TRANSITION unless the lifecycle allows moving the version to `stage`."""
    if stage not in TRANSITIONS.get(version.stage, frozenset()):
        allowed = ", ".join(sorted(STAGE_NAMES[s] for s in TRANSITIONS[version.stage]))
        raise FailedPrecondition(
            "INVALID_TRANSITION",
            f"'{version.name}' cannot move from {STAGE_NAMES[version.stage]} to {STAGE_NAMES.get(stage, stage)}; "
            f"from {STAGE_NAMES[version.stage]} it may move to {allowed}",
            metadata={"from": STAGE_NAMES[version.stage], "to": STAGE_NAMES.get(stage, str(stage))},
        )


def check_reason(reason: str, *, required: bool = False) -> None:
    if required and not reason.strip():
        raise invalid_fields(
            [FieldViolation("reason", "is required: say why the version is rejected")]
        )
    if len(reason) > MAX_REASON:
        raise invalid_fields(
            [
                FieldViolation(
                    "reason", f"is {len(reason)} characters long; the limit is {MAX_REASON}"
                )
            ]
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
        for role in roles:
            if role not in ROLES:
                violations.append(
                    FieldViolation(
                        f"approval_policy.{field}",
                        f"'{role}' is not a role ({', '.join(sorted(ROLES))})",
                    )
                )
    for alias in policy.protected_aliases:
        if not names.ALIAS_ID.fullmatch(alias):
            violations.append(
                FieldViolation("approval_policy.protected_aliases", f"'{alias}' is not an alias id")
            )
    if violations:
        raise invalid_fields(violations)


def _moved(version: pb.ModelVersion, stage: int, now: int) -> pb.ModelVersion:
    """Returns a copy of the version in the new stage, stamped."""
    moved = pb.ModelVersion()
    moved.CopyFrom(version)
    if version.stage == pb.STAGE_PRODUCTION and stage != pb.STAGE_PRODUCTION:
        moved.production_end_time.CopyFrom(timestamp(now))
    moved.stage = pb.Stage.ValueType(stage)
    moved.stage_time.CopyFrom(timestamp(now))
    moved.update_time.CopyFrom(timestamp(now))
    moved.etag = new_etag()
    return moved


class Governance:
    """The decisions and moves that decide which version serves production."""

    def __init__(self, store: Store, clock: Callable[[], int] = now_us) -> None:
        self.store = store
        self.clock = clock

    # Policy

    async def policy_of(self, writer: Writer, group: str) -> pb.ApprovalPolicy:
        return await writer.policy(group) or default_policy(group)

    async def get_policy(self, principal: Principal, name: str) -> pb.ApprovalPolicy:
        group = names.parse_policy_name(name)
        principal.authorize(Permission.READ, group)
        async with self.store.reader(principal.tenant) as reader:
            if await reader.group(group) is None:
                raise group_not_found(group)
            return await reader.policy(group) or default_policy(group)

    async def update_policy(
        self, mutation: Mutation, patch: pb.ApprovalPolicy, paths: Sequence[str]
    ) -> pb.ApprovalPolicy:
        group = names.parse_policy_name(patch.name, "approval_policy.name")
        mask_paths(paths, POLICY_FIELDS, set(), {"name", "update_time", "etag"}, set(), set())
        mutation.principal.authorize(Permission.ADMIN, group)

        async def change(writer: Writer, now: int) -> tuple[LogDraft, pb.ApprovalPolicy]:
            if await writer.group(group) is None:
                raise group_not_found(group)
            before = await self.policy_of(writer, group)
            check_etag(patch.etag, before.etag, before.name)
            after = pb.ApprovalPolicy()
            after.CopyFrom(before)
            apply_mask(after, patch, paths, set())
            check_policy(after)
            after.update_time.CopyFrom(timestamp(now))
            after.etag = new_etag()
            await writer.save_policy(group, after)
            return mutation.draft(
                "APPROVAL_POLICY_UPDATED", after.name, group, 0, before, after, now
            ), after

        return await must(write(self.store, self.clock, mutation, pb.ApprovalPolicy, change))

    # Approvals

    async def approve(self, mutation: Mutation, name: str, etag: str) -> pb.ModelVersion:
        """Returns the version with the approval counted; APPROVED once enough reviewers agree."""
        ref = names.parse_version_name(name)
        check_reason(mutation.reason)
        mutation.principal.authorize(Permission.READ, ref.group)
        reviewer = mutation.principal.subject

        async def change(writer: Writer, now: int) -> tuple[LogDraft | None, pb.ModelVersion]:
            before = await _version(writer, ref)
            policy = await self.policy_of(writer, ref.group)
            mutation.principal.require_role(policy.approver_roles, "approve versions", ref.group)
            check_etag(etag, before.etag, before.name)
            if before.created_by == reviewer and not policy.allow_self_approval:
                raise PermissionDenied(
                    "SELF_APPROVAL_FORBIDDEN",
                    f"'{reviewer}' registered '{before.name}' and may not approve it; "
                    "another reviewer must, or an admin may allow self-approval in the group's policy",
                    metadata={"resource": before.name},
                )
            if reviewer in before.approvers:
                return None, before  # an approval counts once per reviewer: nothing changes
            after = pb.ModelVersion()
            after.CopyFrom(before)
            if before.approval_status == pb.APPROVAL_STATUS_REJECTED:
                del after.approvers[:]
            after.approvers.append(reviewer)
            if len(after.approvers) >= policy.required_approvals:
                after.approval_status = pb.APPROVAL_STATUS_APPROVED
            else:
                after.approval_status = pb.APPROVAL_STATUS_PENDING_MANUAL_APPROVAL
            self._decide(after, pb.DECISION_APPROVE, reviewer, mutation.reason, now)
            await writer.update_version(ref.group, after)
            draft = mutation.draft(
                "APPROVAL_CHANGED", after.name, ref.group, after.version, before, after, now
            )
            return draft, after

        return await must(write(self.store, self.clock, mutation, pb.ModelVersion, change))

    async def reject(self, mutation: Mutation, name: str, etag: str) -> pb.ModelVersion:
        """Returns the rejected version; a production version leaves production in the same change."""
        ref = names.parse_version_name(name)
        check_reason(mutation.reason, required=True)
        mutation.principal.authorize(Permission.READ, ref.group)

        async def change(writer: Writer, now: int) -> tuple[LogDraft, pb.ModelVersion]:
            before = await _version(writer, ref)
            policy = await self.policy_of(writer, ref.group)
            mutation.principal.require_role(policy.approver_roles, "reject versions", ref.group)
            check_etag(etag, before.etag, before.name)
            after = pb.ModelVersion()
            after.CopyFrom(before)
            after.approval_status = pb.APPROVAL_STATUS_REJECTED
            del after.approvers[:]
            self._decide(
                after, pb.DECISION_REJECT, mutation.principal.subject, mutation.reason, now
            )
            related: Related = ()
            if before.stage == pb.STAGE_PRODUCTION:
                # Never a rejected version in production: put back the newest approved former one.
                after = _moved(after, pb.STAGE_ARCHIVED, now)
                for candidate in await writer.former_production(ref.group, limit=50):
                    if (
                        candidate.approval_status == pb.APPROVAL_STATUS_APPROVED
                        and candidate.version != after.version
                    ):
                        restored = _moved(candidate, pb.STAGE_PRODUCTION, now)
                        await writer.update_version(ref.group, restored)
                        related = ((restored.name, candidate, restored),)
                        break
            await writer.update_version(ref.group, after)
            draft = mutation.draft(
                "APPROVAL_CHANGED",
                after.name,
                ref.group,
                after.version,
                before,
                after,
                now,
                related,
            )
            return draft, after

        return await must(write(self.store, self.clock, mutation, pb.ModelVersion, change))

    @staticmethod
    def _decide(
        version: pb.ModelVersion, decision: int, reviewer: str, reason: str, now: int
    ) -> None:
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

    async def list_approvals(
        self, principal: Principal, parent: str, size: int, token: str
    ) -> tuple[list[pb.ApprovalDecision], str]:
        """Returns one page of decisions on a version or a group, oldest first."""
        if names.is_alias_name(parent):
            raise invalid_fields(
                [FieldViolation("parent", "name a version or a group, not an alias")]
            )
        if parent.count("/") == 1:
            group = names.parse_group_name(parent, "parent")
            query = AuditQuery(group=group, actions=("APPROVAL_CHANGED",))
        else:
            ref = names.parse_version_name(parent, "parent")
            group = ref.group
            query = AuditQuery(resource=ref.name, actions=("APPROVAL_CHANGED",))
        principal.authorize(Permission.READ, group)
        key = fingerprint("approvals", parent)
        limit = page_size(size, 100)
        after = decode_token(token, key)
        after_seq = int(after[0]) if after and isinstance(after[0], int) else None
        async with self.store.reader(principal.tenant) as reader:
            entries = await reader.list_log(query, limit + 1, after_seq)
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
        return decisions, encode_token(resume, key)

    # Stages

    async def transition(
        self, mutation: Mutation, name: str, stage: int, keep_production: bool, etag: str
    ) -> tuple[pb.ModelVersion, list[pb.ModelVersion]]:
        """Returns the moved version and the versions a promotion archived."""
        ref = names.parse_version_name(name)
        check_reason(mutation.reason)
        if stage not in TRANSITIONS:
            raise invalid_fields(
                [FieldViolation("stage", "is required: STAGING, PRODUCTION or ARCHIVED")]
            )
        mutation.principal.authorize(Permission.READ, ref.group)
        archived: list[pb.ModelVersion] = []

        async def change(writer: Writer, now: int) -> tuple[LogDraft, pb.ModelVersion]:
            before = await _version(writer, ref)
            policy = await self.policy_of(writer, ref.group)
            mutation.principal.require_role(policy.promoter_roles, "change stages", ref.group)
            check_etag(etag, before.etag, before.name)
            check_transition(before, stage)
            related: list[tuple[str, pb.ModelVersion, pb.ModelVersion]] = []
            if stage == pb.STAGE_PRODUCTION:
                _require_approved(before, "promoted to PRODUCTION")
                current = await writer.versions_in_stage(ref.group, pb.STAGE_PRODUCTION)
                if keep_production:
                    if len(current) + 1 > policy.max_production_versions:
                        raise FailedPrecondition(
                            "PRODUCTION_LIMIT_REACHED",
                            f"group '{ref.group}' allows {policy.max_production_versions} production version(s) "
                            f"and has {len(current)}; promote without keeping them, or raise "
                            "max_production_versions in the policy",
                        )
                else:
                    for old in current:
                        retired = _moved(old, pb.STAGE_ARCHIVED, now)
                        await writer.update_version(ref.group, retired)
                        related.append((retired.name, old, retired))
                        archived.append(retired)
            after = _moved(before, stage, now)
            await writer.update_version(ref.group, after)
            draft = mutation.draft(
                "STAGE_CHANGED",
                after.name,
                ref.group,
                after.version,
                before,
                after,
                now,
                tuple(related),
            )
            return draft, after

        moved = await must(write(self.store, self.clock, mutation, pb.ModelVersion, change))
        return moved, archived

    async def rollback(
        self, mutation: Mutation, group_name: str, target: str
    ) -> tuple[pb.ModelVersion, list[pb.ModelVersion]]:
        """Returns the version put back in production and the versions it replaced."""
        group = names.parse_group_name(group_name, "group")
        target_ref = names.parse_version_name(target, "target_version") if target else None
        if target_ref is not None and target_ref.group != group:
            raise invalid_fields(
                [FieldViolation("target_version", f"must be a version of group '{group}'")]
            )
        check_reason(mutation.reason)
        mutation.principal.authorize(Permission.READ, group)
        archived: list[pb.ModelVersion] = []

        async def change(writer: Writer, now: int) -> tuple[LogDraft, pb.ModelVersion]:
            if await writer.group(group) is None:
                raise group_not_found(group)
            policy = await self.policy_of(writer, group)
            mutation.principal.require_role(policy.promoter_roles, "roll back production", group)
            current = await writer.versions_in_stage(group, pb.STAGE_PRODUCTION)
            if target_ref is not None:
                chosen = await _version(writer, target_ref)
                if chosen.stage == pb.STAGE_PRODUCTION:
                    raise FailedPrecondition(
                        "INVALID_TRANSITION",
                        f"'{chosen.name}' is already in production; nothing to roll back to",
                    )
            else:
                former = await writer.former_production(group, limit=1)
                if not former:
                    raise FailedPrecondition(
                        "NO_ROLLBACK_TARGET",
                        f"no version of group '{group}' has been in production before; "
                        "promote one, or name a target_version",
                    )
                chosen = former[0]
            _require_approved(chosen, "restored to PRODUCTION")
            related: list[tuple[str, pb.ModelVersion, pb.ModelVersion]] = []
            for old in current:
                retired = _moved(old, pb.STAGE_ARCHIVED, now)
                await writer.update_version(group, retired)
                related.append((retired.name, old, retired))
                archived.append(retired)
            restored = _moved(chosen, pb.STAGE_PRODUCTION, now)
            await writer.update_version(group, restored)
            draft = mutation.draft(
                "ROLLED_BACK",
                restored.name,
                group,
                restored.version,
                chosen,
                restored,
                now,
                tuple(related),
            )
            return draft, restored

        restored = await must(write(self.store, self.clock, mutation, pb.ModelVersion, change))
        return restored, archived

    # Aliases

    async def set_alias(self, mutation: Mutation, alias: pb.Alias) -> pb.Alias:
        ref = names.parse_alias_name(alias.name, "alias.name", for_write=True)
        target = names.parse_version_name(alias.version, "alias.version")
        if target.group != ref.group:
            raise invalid_fields(
                [FieldViolation("alias.version", f"must be a version of group '{ref.group}'")]
            )
        mutation.principal.authorize(Permission.READ, ref.group)

        async def change(writer: Writer, now: int) -> tuple[LogDraft | None, pb.Alias]:
            policy = await self.policy_of(writer, ref.group)
            mutation.principal.require_role(policy.promoter_roles, "move aliases", ref.group)
            version = await _version(writer, target)
            if ref.alias in policy.protected_aliases:
                _require_approved(version, f"pointed at by protected alias '{ref.alias}'")
            before = await writer.alias(ref.group, ref.alias)
            if before is not None:
                check_etag(alias.etag, before.etag, before.name)
                if before.version == version.name:
                    return None, before  # already there: nothing changes
            after = pb.Alias(
                name=ref.name,
                version=version.name,
                updated_by=mutation.principal.subject,
                update_time=timestamp(now),
                etag=new_etag(),
            )
            related: list[tuple[str, pb.ModelVersion, pb.ModelVersion]] = []
            if before is not None:
                old_ref = names.parse_version_name(before.version)
                old = await writer.version(ref.group, old_ref.number)
                if old is not None:
                    related.append(await _relabel(writer, ref.group, old, remove=ref.alias))
            version_before, version_after = (
                await _relabel(writer, ref.group, version, add=ref.alias)
            )[1:]
            related.append((version.name, version_before, version_after))
            await writer.save_alias(ref.group, after, version.version)
            draft = mutation.draft(
                "ALIAS_SET",
                after.name,
                ref.group,
                version.version,
                before,
                after,
                now,
                tuple(related),
            )
            return draft, after

        return await must(write(self.store, self.clock, mutation, pb.Alias, change))

    async def get_alias(self, principal: Principal, name: str) -> pb.Alias:
        ref = names.parse_alias_name(name)
        principal.authorize(Permission.READ, ref.group)
        async with self.store.reader(principal.tenant) as reader:
            alias = await reader.alias(ref.group, ref.alias)
            if alias is None and await reader.group(ref.group) is None:
                raise group_not_found(ref.group)
        if alias is None:
            raise alias_not_found(ref)
        return alias

    async def list_aliases(
        self, principal: Principal, parent: str, size: int, token: str
    ) -> tuple[list[pb.Alias], str]:
        group = names.parse_group_name(parent, "parent")
        principal.authorize(Permission.READ, group)
        key = fingerprint("aliases", parent)
        limit = page_size(size, 50)
        after = decode_token(token, key)
        after_alias = str(after[0]) if after else None
        async with self.store.reader(principal.tenant) as reader:
            if await reader.group(group) is None:
                raise group_not_found(group)
            aliases = await reader.list_aliases(group, limit + 1, after_alias)
        resume = (aliases[limit - 1].name.rsplit("/", 1)[1],) if len(aliases) > limit else None
        return aliases[:limit], encode_token(resume, key)

    async def delete_alias(self, mutation: Mutation, name: str, etag: str) -> None:
        ref = names.parse_alias_name(name)
        mutation.principal.authorize(Permission.READ, ref.group)

        async def change(writer: Writer, now: int) -> tuple[LogDraft, None]:
            policy = await self.policy_of(writer, ref.group)
            mutation.principal.require_role(policy.promoter_roles, "delete aliases", ref.group)
            before = await writer.alias(ref.group, ref.alias)
            if before is None:
                if await writer.group(ref.group) is None:
                    raise group_not_found(ref.group)
                raise alias_not_found(ref)
            check_etag(etag, before.etag, before.name)
            target = names.parse_version_name(before.version)
            related: Related = ()
            version = await writer.version(ref.group, target.number)
            if version is not None:
                related = (await _relabel(writer, ref.group, version, remove=ref.alias),)
            await writer.delete_alias(ref.group, ref.alias)
            number = target.number or 0
            return mutation.draft(
                "ALIAS_DELETED", before.name, ref.group, number, before, None, now, related
            ), None

        await write(self.store, self.clock, mutation, None, change)


def _require_approved(version: pb.ModelVersion, purpose: str) -> None:
    if version.approval_status != pb.APPROVAL_STATUS_APPROVED:
        status = pb.ApprovalStatus.Name(version.approval_status).removeprefix("APPROVAL_STATUS_")
        raise FailedPrecondition(
            "VERSION_NOT_APPROVED",
            f"'{version.name}' is {status}; only an APPROVED version may be {purpose}",
            metadata={"resource": version.name, "approval_status": status},
        )


async def _version(writer: Writer, ref: names.VersionRef) -> pb.ModelVersion:
    version = await writer.version(ref.group, ref.number)
    if version is None:
        if await writer.group(ref.group) is None:
            raise group_not_found(ref.group)
        raise version_not_found(ref)
    return version


async def _relabel(
    writer: Writer, group: str, version: pb.ModelVersion, *, add: str = "", remove: str = ""
) -> tuple[str, pb.ModelVersion, pb.ModelVersion]:
    """Updates the version's output-only alias list; its etag stays (aliases are not its state)."""
    after = pb.ModelVersion()
    after.CopyFrom(version)
    labels = [a for a in after.aliases if a != remove]
    if add and add not in labels:
        labels.append(add)
    del after.aliases[:]
    after.aliases.extend(sorted(labels))
    await writer.update_version(group, after)
    return version.name, version, after
