"""What a principal may do to a version now, and why not: the checks the governance use
cases make, asked before the attempt so that a page can explain a control instead of
failing after the click.

Each answer comes from the very checks the use cases run (the same functions, raising the
same errors), so a control and the call behind it cannot disagree.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from modelyard.v1 import errors_pb2 as reasons
from modelyard.v1 import resources_pb2 as pb

from modelyard_server.domain import stages
from modelyard_server.domain.errors import DomainError, PermissionDenied
from modelyard_server.domain.principal import Principal

# Where a version may be moved by a transition, in the order a page offers them.
TARGETS = (pb.STAGE_STAGING, pb.STAGE_PRODUCTION, pb.STAGE_ARCHIVED)


def why_not(check: Callable[[], None]) -> str:
    """Returns "" when the check passes, else the message of the error it raises."""
    try:
        check()
    except DomainError as error:
        return error.message
    return ""


def _not_self(principal: Principal, version: pb.ModelVersion, policy: pb.ApprovalPolicy) -> None:
    if version.created_by == principal.subject and not policy.allow_self_approval:
        raise PermissionDenied(
            reasons.SELF_APPROVAL_FORBIDDEN,
            f"you registered {version.name} and the group's policy forbids self-approval; "
            "another reviewer must approve it",
        )


def _not_yet(principal: Principal, version: pb.ModelVersion) -> None:
    if principal.subject in version.approvers:
        raise PermissionDenied(reasons.SELF_APPROVAL_FORBIDDEN, "your approval is already counted")


@dataclass(frozen=True)
class VersionPermits:
    """Why each action on one version would be refused ("" where it would be allowed)."""

    approve: str
    reject: str
    # Keyed by pb.Stage value: why a transition to that stage would be refused.
    transitions: dict[int, str]
    aliases: str
    # Whether the principal holds any role that acts on versions of the group at all.
    acts: bool

    @property
    def promote(self) -> str:
        return self.transitions[pb.STAGE_PRODUCTION]


def version_permits(
    principal: Principal, version: pb.ModelVersion, policy: pb.ApprovalPolicy
) -> VersionPermits:
    """Returns what the principal may do to the version under the group's policy."""
    group = version.name.split("/")[1]

    def approver() -> None:
        principal.require_role(policy.approver_roles, "approve versions", group)

    def promoter() -> None:
        principal.require_role(policy.promoter_roles, "change stages", group)

    approve = (
        why_not(approver)
        or why_not(lambda: _not_self(principal, version, policy))
        or why_not(lambda: _not_yet(principal, version))
    )
    reject = why_not(approver)
    if not reject and version.approval_status == pb.APPROVAL_STATUS_REJECTED:
        reject = f"{version.name} is already rejected"
    transitions: dict[int, str] = {}
    for stage in TARGETS:
        reason = why_not(promoter)
        if not reason and version.stage == stage:
            reason = f"{version.name} is in {stages.STAGE_NAMES[stage]} already"
        if not reason:
            reason = why_not(functools.partial(stages.check_transition, version, stage))
        if not reason and stage == pb.STAGE_PRODUCTION:
            reason = why_not(lambda: stages.require_approved(version, "promoted to PRODUCTION"))
        transitions[stage] = reason
    aliases = why_not(lambda: principal.require_role(policy.promoter_roles, "move aliases", group))
    acts = principal.has_role([*policy.approver_roles, *policy.promoter_roles], group)
    return VersionPermits(approve, reject, transitions, aliases, acts)


@dataclass(frozen=True)
class GroupPermits:
    """Why the group-wide actions would be refused ("" where they would be allowed)."""

    rollback: str
    aliases: str
    # Whether the principal holds any role that acts on the group at all.
    acts: bool


def group_permits(principal: Principal, group: str, policy: pb.ApprovalPolicy) -> GroupPermits:
    """Returns what the principal may do to the group as a whole under its policy."""
    roles = policy.promoter_roles
    return GroupPermits(
        rollback=why_not(lambda: principal.require_role(roles, "roll back production", group)),
        aliases=why_not(lambda: principal.require_role(roles, "move aliases", group)),
        acts=principal.has_role([*policy.approver_roles, *roles], group),
    )
