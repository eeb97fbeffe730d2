"""``modelyard policy show|update``: a group's approval policy."""

from __future__ import annotations

import argparse

from modelyard.cli.options import (
    Commands,
    Invocation,
    add_command,
    add_family,
    add_request_id,
    choice,
)
from modelyard.cli.output import enum_label, format_time, proto
from modelyard.names import policy_name
from modelyard.v1.resources_pb2 import ApprovalPolicy, SchemaCompatibility

COMPATIBILITY_PREFIX = "SCHEMA_COMPATIBILITY_"
COMPATIBILITIES = ("none", "backward", "full")

__all__ = ["add_commands", "policy_fields"]


def _names(values: list[str]) -> str:
    return ",".join(values)


def policy_fields(policy: ApprovalPolicy) -> list[tuple[str, str]]:
    """Returns the ``label: value`` lines of ``policy show``."""
    return [
        ("name", policy.name),
        ("required approvals", str(policy.required_approvals)),
        ("allow self approval", "yes" if policy.allow_self_approval else "no"),
        ("approver roles", _names(list(policy.approver_roles))),
        ("promoter roles", _names(list(policy.promoter_roles))),
        ("max production versions", str(policy.max_production_versions)),
        ("protected aliases", _names(list(policy.protected_aliases))),
        (
            "schema compatibility",
            enum_label(SchemaCompatibility.Name(policy.schema_compatibility), COMPATIBILITY_PREFIX),
        ),
        ("updated", format_time(policy.update_time)),
        ("etag", policy.etag),
    ]


def name_list(text: str) -> list[str]:
    """Parses ``a,b,c`` (an empty string is the empty list)."""
    return [item.strip() for item in text.split(",") if item.strip()]


def show_policy(run: Invocation) -> None:
    policy = proto(run.registry.get_approval_policy(run.args.group))
    run.output.message(policy, policy_fields(policy))


def update_policy(run: Invocation) -> None:
    args = run.args
    changed = ApprovalPolicy(name=policy_name(args.group), etag=args.etag)
    mask: list[str] = []
    if args.required_approvals is not None:
        changed.required_approvals = args.required_approvals
        mask.append("required_approvals")
    if args.allow_self_approval is not None:
        changed.allow_self_approval = args.allow_self_approval
        mask.append("allow_self_approval")
    if args.max_production_versions is not None:
        changed.max_production_versions = args.max_production_versions
        mask.append("max_production_versions")
    if args.schema_compatibility is not None:
        changed.schema_compatibility = SchemaCompatibility.Value(
            COMPATIBILITY_PREFIX + args.schema_compatibility.upper()
        )
        mask.append("schema_compatibility")
    for field in ("approver_roles", "promoter_roles", "protected_aliases"):
        values: list[str] | None = getattr(args, field)
        if values is not None:
            getattr(changed, field).extend(values)
            mask.append(field)
    if not mask:
        raise ValueError(
            "nothing to update: give --required-approvals, --allow-self-approval, "
            "--approver-roles, --promoter-roles, --max-production-versions, "
            "--protected-aliases or --schema-compatibility"
        )
    policy = proto(
        run.registry.update_approval_policy(changed, update_mask=mask, request_id=args.request_id)
    )
    run.output.message(policy, policy_fields(policy))


def add_commands(commands: Commands) -> None:
    """Adds the ``policy`` command family."""
    sub = add_family(
        commands,
        "policy",
        help="a group's approval policy",
        description="Show and update who may approve and promote a group's versions.",
    )

    p = add_command(sub, "show", help="show a group's approval policy")
    p.add_argument("group", help="group id or name, e.g. fraud")
    p.set_defaults(handler=show_policy)

    p = add_command(sub, "update", help="change a group's approval policy (admins only)")
    p.add_argument("group", help="group id or name, e.g. fraud")
    p.add_argument(
        "--required-approvals",
        type=int,
        default=None,
        metavar="N",
        help="distinct reviewers that must approve a version (1-10)",
    )
    p.add_argument(
        "--allow-self-approval",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="whether whoever registered a version may approve it",
    )
    p.add_argument(
        "--approver-roles",
        type=name_list,
        default=None,
        metavar="ROLE,...",
        help="roles that may approve and reject, e.g. approver,admin",
    )
    p.add_argument(
        "--promoter-roles",
        type=name_list,
        default=None,
        metavar="ROLE,...",
        help="roles that may change stages, move aliases and roll back, e.g. deployer,admin",
    )
    p.add_argument(
        "--max-production-versions",
        type=int,
        default=None,
        metavar="N",
        help="versions that may be in production at once (1-10; above 1 allows A/B)",
    )
    p.add_argument(
        "--protected-aliases",
        type=name_list,
        default=None,
        metavar="ALIAS,...",
        help="aliases that only point at APPROVED versions ('' for none)",
    )
    p.add_argument(
        "--schema-compatibility",
        type=choice(COMPATIBILITIES, COMPATIBILITY_PREFIX, "a compatibility"),
        default=None,
        metavar="none|backward|full",
        help="what a promotion's schema must keep of the production versions': backward "
        "(inputs accept every request they did), full (and outputs readers understand)",
    )
    p.add_argument("--etag", default="", help="fail if the policy changed since this etag")
    add_request_id(p)
    p.set_defaults(handler=update_policy)
