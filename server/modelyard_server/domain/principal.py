"""Who is calling, and what their roles allow them to do."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum

from modelyard.v1 import errors_pb2 as reasons

from modelyard_server.domain.errors import PermissionDenied, quote
from modelyard_server.domain.names import GROUP_ID, GROUP_ID_RULE


class Permission(Enum):
    """An action the registry authorizes."""

    READ = "read"
    REGISTER = "register"  # create groups and versions, edit their metadata
    APPROVE = "approve"  # approve or reject versions
    DEPLOY = "deploy"  # stage transitions, aliases, rollback
    ADMIN = "admin"  # policies, deletes, tokens


ROLES: dict[str, frozenset[Permission]] = {
    "viewer": frozenset({Permission.READ}),
    "contributor": frozenset({Permission.READ, Permission.REGISTER}),
    "approver": frozenset({Permission.READ, Permission.APPROVE}),
    "deployer": frozenset({Permission.READ, Permission.DEPLOY}),
    "admin": frozenset(Permission),
}


@dataclass(frozen=True)
class Principal:
    """An authenticated caller. Roles are bound tenant-wide, or per group as `role@group`."""

    subject: str
    tenant: str
    roles: frozenset[str] = field(default_factory=frozenset)

    def permissions(self, group: str | None) -> frozenset[Permission]:
        """Returns what the principal may do, tenant-wide or on the given group."""
        granted: set[Permission] = set()
        for binding in self.roles:
            role, at, scope = binding.partition("@")
            if at and (not scope or scope != group):  # `role@` binds to no group: nothing
                continue
            granted |= ROLES.get(role, frozenset())
        return frozenset(granted)

    def has_role(self, roles: Iterable[str], group: str | None) -> bool:
        """Returns whether one of the roles is bound to the principal tenant-wide or on the group."""
        wanted = set(roles)
        for binding in self.roles:
            role, at, scope = binding.partition("@")
            if role in wanted and (not at or (scope and scope == group)):
                return True
        return False

    def require_role(self, roles: Iterable[str], action: str, group: str) -> None:
        """Raises PermissionDenied unless the principal holds one of the roles on the group."""
        roles = sorted(roles)
        if not self.has_role(roles, group):
            raise PermissionDenied(
                reasons.MISSING_PERMISSION,
                f"{quote(self.subject)} may not {action} in group {quote(group)}: the group's policy asks for "
                f"one of the roles {', '.join(roles)}",
                metadata={"roles": ",".join(roles)},
            )

    def authorize(self, permission: Permission, group: str | None = None) -> None:
        """Raises PermissionDenied unless the principal holds `permission` on `group`."""
        if permission not in self.permissions(group):
            where = f" on group {quote(group)}" if group else ""
            raise PermissionDenied(
                reasons.MISSING_PERMISSION,
                f"{quote(self.subject)} lacks the {quote(permission.value)} permission{where}; "
                f"ask an admin for a role that grants it",
                metadata={"permission": permission.value},
            )


def parse_role_binding(binding: str) -> str:
    """Returns the binding unchanged if it names a known role (`role` or `role@group`)."""
    role, at, scope = binding.partition("@")
    if role not in ROLES:
        raise ValueError(f"unknown role {quote(role)}; known roles: {', '.join(sorted(ROLES))}")
    if at and not GROUP_ID.fullmatch(scope):
        # `admin@` would otherwise read as tenant-wide admin.
        raise ValueError(
            f"{quote(binding)} binds the role to no valid group; write {role}@GROUP with a group "
            f"id ({GROUP_ID_RULE}), or {role} alone for the whole tenant"
        )
    return binding
