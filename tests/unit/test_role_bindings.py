"""Role bindings: `role` for the tenant, `role@group` for one group, and nothing else."""

from __future__ import annotations

import pytest
from modelyard_server.domain.principal import Permission, Principal, parse_role_binding


@pytest.mark.parametrize("binding", ["admin@", "viewer@", "deployer@Not_A_Group", "admin@a/b"])
def test_a_binding_to_no_valid_group_is_refused(binding: str) -> None:
    with pytest.raises(ValueError, match="binds the role to no valid group"):
        parse_role_binding(binding)


def test_a_stored_binding_to_no_group_grants_nothing_anywhere() -> None:
    """Tokens made before bindings were checked may hold `admin@`: it must not read as the
    tenant-wide admin it looks like once the empty group is ignored."""
    stale = Principal("old", "t", frozenset({"admin@"}))
    assert stale.permissions(None) == frozenset()
    assert stale.permissions("fraud") == frozenset()
    assert not stale.has_role(["admin"], "fraud")
    bound = Principal("ann", "t", frozenset({"approver@fraud", "viewer"}))
    assert Permission.APPROVE in bound.permissions("fraud")
    assert Permission.APPROVE not in bound.permissions("churn")
    assert bound.permissions("churn") == frozenset({Permission.READ})
    assert parse_role_binding("approver@fraud") == "approver@fraud"
