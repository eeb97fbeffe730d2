"""``modelyard approve`` and ``modelyard reject``: the reviewers' decisions."""

from __future__ import annotations

from modelyard.cli.options import (
    Commands,
    Invocation,
    add_command,
    add_request_id,
    add_version_arguments,
    named_version,
)
from modelyard.cli.output import proto
from modelyard.cli.versions import version_fields

__all__ = ["add_commands"]


def approve(run: Invocation) -> None:
    args = run.args
    version = proto(
        run.registry.approve(
            named_version(args), reason=args.reason, etag=args.etag, request_id=args.request_id
        )
    )
    run.output.message(version, version_fields(version))


def reject(run: Invocation) -> None:
    args = run.args
    version = proto(
        run.registry.reject(
            named_version(args), reason=args.reason, etag=args.etag, request_id=args.request_id
        )
    )
    run.output.message(version, version_fields(version))


def add_commands(commands: Commands) -> None:
    """Adds the ``approve`` and ``reject`` commands."""
    p = add_command(
        commands,
        "approve",
        help="approve a version (APPROVED once enough reviewers agree)",
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
    add_request_id(p)
    p.set_defaults(handler=reject)
