"""``modelyard approve`` and ``modelyard reject``: the reviewers' decisions."""

from __future__ import annotations

from modelyard.cli.options import (
    Commands,
    Invocation,
    add_command,
    add_force,
    add_request_id,
    add_version_arguments,
    named_version,
)
from modelyard.cli.output import enum_label, proto
from modelyard.cli.versions import version_fields
from modelyard.errors import ModelyardError
from modelyard.names import split_version_name
from modelyard.v1.resources_pb2 import (
    APPROVAL_STATUS_PENDING_MANUAL_APPROVAL,
    ApprovalStatus,
    ModelVersion,
)

__all__ = ["add_commands", "progress"]


def progress(version: ModelVersion, required: int | None, counted: bool) -> str:
    """Returns the line ``approve`` prints: how many of the required distinct reviewers
    approved, who, and what the version's status is now, e.g. ``1 of 2 approvals (ann):
    groups/fraud/versions/3 is PENDING_MANUAL_APPROVAL until 1 more reviewer approves``."""
    count = len(version.approvers)
    reviewers = ", ".join(version.approvers)
    plural = "s" if (required if required is not None else count) != 1 else ""
    tally = f"{count} of {required}" if required is not None else f"{count}"
    status = enum_label(ApprovalStatus.Name(version.approval_status), "APPROVAL_STATUS_")
    line = f"{tally} approval{plural} ({reviewers}): {version.name} is {status}"
    missing = (required or 0) - count
    if version.approval_status == APPROVAL_STATUS_PENDING_MANUAL_APPROVAL and missing > 0:
        reviewer = "reviewer approves" if missing == 1 else "reviewers approve"
        line += f" until {missing} more {reviewer}"
    if not counted:
        line = f"your approval was counted before and does not count again; {line}"
    return line


def approve(run: Invocation) -> None:
    args = run.args
    registry = run.registry
    # Read first: an approval counts once per reviewer, and the server answers a repeated one
    # with the version unchanged (same etag), which is how the CLI tells the two apart.
    before = proto(registry.get_version(named_version(args)))
    version = proto(
        registry.approve(
            before.name, reason=args.reason, etag=args.etag, request_id=args.request_id
        )
    )
    if run.output.format != "table":
        run.output.message(version, version_fields(version))
        return
    group, _ = split_version_name(version.name)
    try:
        required: int | None = proto(registry.get_approval_policy(group)).required_approvals
    except ModelyardError:  # the approval is made; the tally is a courtesy
        required = None
    run.output.text(progress(version, required, counted=version.etag != before.etag))


def reject(run: Invocation) -> None:
    args = run.args
    version = proto(
        run.registry.reject(
            named_version(args),
            reason=args.reason,
            etag=args.etag,
            force=args.force,
            request_id=args.request_id,
        )
    )
    run.output.message(version, version_fields(version))


def add_commands(commands: Commands) -> None:
    """Adds the ``approve`` and ``reject`` commands."""
    p = add_command(
        commands,
        "approve",
        help="approve a version (APPROVED once enough reviewers agree); prints the tally",
    )
    add_version_arguments(p)
    p.add_argument("--reason", default="", help="why, recorded in the audit log")
    p.add_argument("--etag", default="", help="fail if the version changed since this etag")
    add_request_id(p)
    p.set_defaults(handler=approve)

    p = add_command(
        commands,
        "reject",
        help="reject a version or revoke its approval",
    )
    add_version_arguments(p)
    p.add_argument("--reason", required=True, help="why, recorded in the audit log")
    p.add_argument("--etag", default="", help="fail if the version changed since this etag")
    add_force(p, "reject", reason=False)
    add_request_id(p)
    p.set_defaults(handler=reject)
