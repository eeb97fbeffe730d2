"""``modelyard transition``, ``promote`` and ``rollback``: which version serves production."""

from __future__ import annotations

import argparse

from modelyard.cli.options import (
    Commands,
    Invocation,
    add_command,
    add_force,
    add_request_id,
    add_version_arguments,
    choice,
    named_version,
)
from modelyard.cli.output import enum_label, proto
from modelyard.cli.versions import version_fields
from modelyard.v1.registry_service_pb2 import TransitionModelVersionStageResponse
from modelyard.v1.resources_pb2 import STAGE_PRODUCTION, Stage

__all__ = ["STAGES", "add_commands"]

STAGES = [
    enum_label(n, "STAGE_").lower()
    for n in Stage.keys()  # noqa: SIM118 - an EnumTypeWrapper is not a dict
    if not n.endswith("_UNSPECIFIED")
]


def _moved(run: Invocation, moved: TransitionModelVersionStageResponse) -> None:
    response = proto(moved)
    fields = version_fields(response.model_version)
    if response.archived_versions:
        fields.append(("archived", ",".join(v.name for v in response.archived_versions)))
    run.output.message(response, fields)


def transition(run: Invocation) -> None:
    args = run.args
    response = run.registry.transition(
        named_version(args),
        args.stage,
        reason=args.reason,
        keep_existing_production=args.keep_existing_production,
        etag=args.etag,
        force=args.force,
        request_id=args.request_id,
    )
    _moved(run, proto(response))


def promote(run: Invocation) -> None:
    # The response, not Registry.promote's version: the caller wants to see what it archived.
    args = run.args
    response = run.registry.transition(
        named_version(args),
        STAGE_PRODUCTION,
        reason=args.reason,
        keep_existing_production=args.keep_existing_production,
        etag=args.etag,
        force=args.force,
        request_id=args.request_id,
    )
    _moved(run, proto(response))


def rollback(run: Invocation) -> None:
    args = run.args
    response = proto(
        run.registry.rollback(
            args.group, to=args.to, reason=args.reason, request_id=args.request_id
        )
    )
    restored = response.restored_version
    run.output.message(
        response,
        [
            ("restored", restored.name),
            ("stage", enum_label(Stage.Name(restored.stage), "STAGE_")),
            ("archived", ",".join(v.name for v in response.archived_versions) or "-"),
        ],
    )


def _add_move_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--reason", default="", help="why, recorded in the audit log")
    parser.add_argument(
        "--keep-existing-production",
        action="store_true",
        help="for PRODUCTION: keep the versions already there (A/B, if the policy allows it)",
    )
    parser.add_argument("--etag", default="", help="fail if the version changed since this etag")
    add_request_id(parser)


def add_commands(commands: Commands) -> None:
    """Adds the ``transition``, ``promote`` and ``rollback`` commands."""
    p = add_command(
        commands,
        "transition",
        help="move a version to another stage",
    )
    add_version_arguments(p)
    p.add_argument(
        "stage",
        type=choice(STAGES, "STAGE_", "a stage"),
        help=f"{', '.join(STAGES)} (any case)",
    )
    _add_move_options(p)
    add_force(p, "archive", reason=False)
    p.set_defaults(handler=transition)

    p = add_command(
        commands,
        "promote",
        help="move an approved version from staging to production",
    )
    add_version_arguments(p)
    _add_move_options(p)
    add_force(p, "archive the version it replaces", reason=False)
    p.set_defaults(handler=promote)

    p = add_command(
        commands,
        "rollback",
        help="put the previous production version back",
    )
    p.add_argument("group", help="group id or name, e.g. fraud")
    p.add_argument(
        "--to",
        default=None,
        metavar="VERSION",
        help="restore this version instead (a number or groups/fraud/versions/2)",
    )
    p.add_argument("--reason", default="", help="why, recorded in the audit log")
    add_request_id(p)
    p.set_defaults(handler=rollback)
