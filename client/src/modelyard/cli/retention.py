"""``modelyard impact``, ``modelyard retention show|set|plan|apply`` and ``modelyard hold
set|clear``: what depends on a version, how long versions are kept, and legal holds."""

from __future__ import annotations

from modelyard import _requests as build
from modelyard.cli.options import (
    Commands,
    Invocation,
    add_command,
    add_family,
    add_request_id,
    add_version_arguments,
    named_version,
)
from modelyard.cli.output import enum_label, format_time, proto
from modelyard.v1.registry_service_pb2 import Dependent
from modelyard.v1.resources_pb2 import Stage
from modelyard.v1.retention_service_pb2 import RetentionAction, RetentionOutcome, RetentionPolicy

__all__ = ["add_commands", "impact_tree", "retention_fields"]

RULES = (
    ("keep_newest", "keep newest"),
    ("archive_staging_after_days", "archive staging after days"),
    ("delete_archived_after_days", "delete archived after days"),
    ("artifact_hold_days", "artifact hold days"),
)


def _stage(value: int) -> str:
    return enum_label(Stage.Name(value), "STAGE_")  # type: ignore[arg-type]


def impact_tree(root: str, dependents: list[Dependent]) -> list[str]:
    """Returns the lines of the dependency tree under ``root``: each dependent indented
    under the version it depends on, with its stage."""
    children: dict[str, list[Dependent]] = {}
    for dependent in dependents:
        children.setdefault(dependent.depends_on, []).append(dependent)
    lines = [root]

    def walk(name: str, depth: int) -> None:
        for child in children.get(name, []):
            lines.append(f"{'  ' * depth}└─ {child.version}  {_stage(child.stage)}")
            walk(child.version, depth + 1)

    walk(root, 1)
    return lines


def impact(run: Invocation) -> None:
    name = named_version(run.args)
    found = [proto(d) for d in run.registry.list_dependents(name)]
    if run.output.format in ("json", "csv"):
        run.output.listing(
            ["version", "stage", "depends_on", "depth"],
            ((d, [d.version, _stage(d.stage), d.depends_on, str(d.depth)]) for d in found),
            empty=f"nothing depends on {name}",
        )
        return
    version = proto(run.registry.get_version(name))
    lines = impact_tree(f"{version.name}  {_stage(version.stage)}", [])
    lines += impact_tree(version.name, found)[1:]
    run.output.text("\n".join(lines))
    serving = [d.version for d in found if d.stage == Stage.STAGE_PRODUCTION]
    if serving:
        run.output.note(
            f"{len(serving)} production version(s) depend on it: archiving, rejecting or "
            "deleting it needs --force and a reason"
        )


def retention_fields(policy: RetentionPolicy) -> list[tuple[str, str]]:
    """Returns the ``label: value`` lines of ``retention show``."""
    fields = [("name", policy.name)]
    fields += [(label, str(getattr(policy, field) or "off")) for field, label in RULES]
    fields += [
        ("inherited", "yes (the tenant default)" if policy.inherited else "no"),
        ("updated", format_time(policy.update_time)),
        ("etag", policy.etag),
    ]
    return fields


def _group(args_group: str) -> str | None:
    return None if args_group in ("-", "default") else args_group


def show(run: Invocation) -> None:
    policy = proto(run.registry.get_retention_policy(_group(run.args.group)))
    run.output.message(policy, retention_fields(policy))


def set_policy(run: Invocation) -> None:
    args = run.args
    changed = RetentionPolicy(name=build.retention_policy_name(_group(args.group)), etag=args.etag)
    mask = []
    for field, _ in RULES:
        value: int | None = getattr(args, field)
        if value is not None:
            setattr(changed, field, value)
            mask.append(field)
    if not mask:
        raise ValueError(
            "nothing to set: give --keep-newest, --archive-staging-after-days, "
            "--delete-archived-after-days or --artifact-hold-days (0 turns a rule off)"
        )
    policy = proto(
        run.registry.update_retention_policy(changed, update_mask=mask, request_id=args.request_id)
    )
    run.output.message(policy, retention_fields(policy))


def _actions(run: Invocation, actions: list[RetentionAction], empty: str) -> None:
    run.output.listing(
        ["version", "stage", "outcome", "reason"],
        (
            (
                a,
                [
                    a.version,
                    _stage(a.stage),
                    enum_label(RetentionOutcome.Name(a.outcome), "RETENTION_OUTCOME_"),
                    a.reason,
                ],
            )
            for a in actions
        ),
        empty=empty,
        cut=["reason"],
    )


def plan(run: Invocation) -> None:
    response = proto(run.registry.plan_retention(run.args.group))
    _actions(run, list(response.actions), "no version the policy applies to now")


def apply(run: Invocation) -> None:
    response = proto(run.registry.apply_retention(run.args.group))
    _actions(run, list(response.actions), "no version was due to be archived or deleted")


def hold_set(run: Invocation) -> None:
    version = proto(
        run.registry.set_legal_hold(
            named_version(run.args), reason=run.args.reason, request_id=run.args.request_id
        )
    )
    hold = version.legal_hold
    run.output.text(f"{version.name} is held: {hold.reason} (by {hold.set_by})", version)


def hold_clear(run: Invocation) -> None:
    version = proto(
        run.registry.clear_legal_hold(
            named_version(run.args), reason=run.args.reason, request_id=run.args.request_id
        )
    )
    run.output.text(f"{version.name} is no longer held", version)


def add_commands(commands: Commands) -> None:
    """Adds the ``impact``, ``retention`` and ``hold`` commands."""
    p = add_command(commands, "impact", help="print what depends on a version, with stages")
    add_version_arguments(p)
    p.set_defaults(handler=impact)

    sub = add_family(
        commands,
        "retention",
        help="how long a group's versions are kept",
        description=(
            "Show, set, plan and apply a group's retention policy ('-' names the tenant's "
            "default). Retention never touches a production version, the rollback target, "
            "an aliased or held version, or one a production version depends on."
        ),
    )
    p = add_command(sub, "show", help="show a group's retention policy")
    p.add_argument("group", help="group id or name, or '-' for the tenant default")
    p.set_defaults(handler=show)

    p = add_command(sub, "set", help="change a retention policy (admins only)")
    p.add_argument("group", help="group id or name, or '-' for the tenant default")
    for field, label in RULES:
        p.add_argument(
            "--" + field.replace("_", "-"),
            type=int,
            default=None,
            metavar="N",
            help=f"{label} (0: off)",
        )
    p.add_argument("--etag", default="", help="fail if the policy changed since this etag")
    add_request_id(p)
    p.set_defaults(handler=set_policy)

    p = add_command(sub, "plan", help="list what applying the policy now would do")
    p.add_argument("group", help="group id or name, e.g. fraud")
    p.set_defaults(handler=plan)

    p = add_command(sub, "apply", help="apply the policy now (admins only)")
    p.add_argument("group", help="group id or name, e.g. fraud")
    p.set_defaults(handler=apply)

    sub = add_family(
        commands,
        "hold",
        help="legal holds on versions",
        description="Set or clear a legal hold: a held version cannot be deleted by anyone.",
    )
    for name, handler, purpose in (
        ("set", hold_set, "why it is held, e.g. a case reference"),
        ("clear", hold_clear, "why the hold ends"),
    ):
        p = add_command(sub, name, help=f"{name} a version's legal hold (admins only)")
        add_version_arguments(p)
        p.add_argument("--reason", required=True, help=f"{purpose}; recorded in the audit log")
        add_request_id(p)
        p.set_defaults(handler=handler)
