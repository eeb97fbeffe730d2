"""``modelyard history``: one version's decisions, stage moves and aliases, in log order.

Read from the audit log, so it shows what happened, who did it and why, including the
changes other versions' entries made to this one (a promotion that archived it, a
rollback that restored it, an alias moved away from it).
"""

from __future__ import annotations

from google.protobuf import json_format, struct_pb2

from modelyard.cli.options import (
    Commands,
    Invocation,
    add_command,
    add_version_arguments,
    named_version,
)
from modelyard.cli.output import enum_label, format_time, proto
from modelyard.names import group_name, split_alias_name, split_version_name
from modelyard.v1.resources_pb2 import (
    ACTION_ALIAS_DELETED,
    ACTION_ALIAS_SET,
    ACTION_APPROVAL_CHANGED,
    ACTION_LEGAL_HOLD_CLEARED,
    ACTION_LEGAL_HOLD_SET,
    ACTION_ROLLED_BACK,
    ACTION_STAGE_CHANGED,
    DECISION_REJECT,
    Action,
    ApprovalStatus,
    AuditEvent,
    ModelVersion,
    Stage,
)

__all__ = ["ACTIONS", "add_commands", "describe", "touches"]

HEADERS = ("SEQ", "TIME", "ACTOR", "ACTION", "CHANGE", "REASON")
#: The actions that change a version's approval, stage, aliases or legal hold.
ACTIONS = (
    ACTION_APPROVAL_CHANGED,
    ACTION_STAGE_CHANGED,
    ACTION_ROLLED_BACK,
    ACTION_ALIAS_SET,
    ACTION_ALIAS_DELETED,
    ACTION_LEGAL_HOLD_SET,
    ACTION_LEGAL_HOLD_CLEARED,
)


def touches(entry: AuditEvent, name: str) -> bool:
    """Returns whether the entry changed the version ``name``, directly or as a related
    change."""
    return entry.resource == name or any(r.resource == name for r in entry.related)


def _version(snapshot: struct_pb2.Struct) -> ModelVersion:
    version = ModelVersion()
    json_format.ParseDict(json_format.MessageToDict(snapshot), version, ignore_unknown_fields=True)
    return version


def _snapshots(entry: AuditEvent, name: str) -> tuple[ModelVersion, ModelVersion]:
    if entry.resource == name:
        return _version(entry.before), _version(entry.after)
    related = next(r for r in entry.related if r.resource == name)
    return _version(related.before), _version(related.after)


def _stage(value: Stage.ValueType) -> str:
    return enum_label(Stage.Name(value), "STAGE_")


def _status(value: ApprovalStatus.ValueType) -> str:
    return enum_label(ApprovalStatus.Name(value), "APPROVAL_STATUS_")


def describe(entry: AuditEvent, name: str) -> str:
    """Returns what the entry changed about the version ``name``, e.g.
    ``STAGING -> PRODUCTION`` or ``approved: PENDING_MANUAL_APPROVAL -> APPROVED``."""
    before, after = _snapshots(entry, name)
    direct = entry.resource == name
    parts: list[str] = []
    if direct and entry.action == ACTION_APPROVAL_CHANGED:
        verb = "rejected" if after.last_decision.decision == DECISION_REJECT else "approved"
        if before.approval_status != after.approval_status:
            parts.append(
                f"{verb}: {_status(before.approval_status)} -> {_status(after.approval_status)}"
            )
        else:
            count = len(after.approvers)
            parts.append(
                f"{verb}: still {_status(after.approval_status)} "
                f"({count} approver{'s' if count != 1 else ''})"
            )
    elif before.approval_status != after.approval_status:
        parts.append(f"{_status(before.approval_status)} -> {_status(after.approval_status)}")
    if before.stage != after.stage:
        parts.append(f"{_stage(before.stage)} -> {_stage(after.stage)}")
    added = [a for a in after.aliases if a not in before.aliases]
    removed = [a for a in before.aliases if a not in after.aliases]
    parts += [f"alias {split_alias_name(a)[1]} set" for a in added]
    parts += [f"alias {split_alias_name(a)[1]} removed" for a in removed]
    change = ", ".join(parts) or enum_label(Action.Name(entry.action), "ACTION_").lower()
    return change + _context(entry, direct, after.version)


def _context(entry: AuditEvent, direct: bool, number: int) -> str:
    """Returns why an entry changed this version when the cause is not plain from the
    change itself, e.g. `` (replaced by version 4)``."""
    other = f"version {entry.version}"
    if entry.action == ACTION_ROLLED_BACK:
        return " (rollback)" if direct else f" (rolled back to {other})"
    if direct:
        return ""
    if entry.action == ACTION_STAGE_CHANGED:
        return f" (replaced by {other})"
    if entry.action == ACTION_APPROVAL_CHANGED:
        return f" ({other} rejected)"
    if entry.action == ACTION_ALIAS_SET and entry.version != number:
        return f" (moved to {other})"
    if entry.action == ACTION_ALIAS_DELETED:
        return " (deleted)"
    return ""


def _row(entry: AuditEvent, name: str) -> tuple[str, ...]:
    return (
        str(entry.seq),
        format_time(entry.time),
        entry.actor,
        enum_label(Action.Name(entry.action), "ACTION_"),
        describe(entry, name),
        entry.reason,
    )


def show_history(run: Invocation) -> None:
    name = named_version(run.args)
    group, number = split_version_name(name) if "/versions/" in name else ("", "")
    if not number.isdigit():
        # `latest` or an alias: the log names versions by number.
        name = proto(run.registry.get_version(name)).name
        group, number = split_version_name(name)
    # One pass over the group's governance entries; the server filters by resource exactly,
    # and entries of other versions (a promotion, a rollback) may have changed this one.
    entries = run.registry.list_audit_events(
        resource=group_name(group), actions=ACTIONS, page_size=1000
    )
    mine = (e for e in (proto(e) for e in entries) if touches(e, name))
    run.output.listing(
        HEADERS,
        ((e, _row(e, name)) for e in mine),
        empty=f"no decisions, stage moves or aliases yet for {name}",
        cut=("REASON",),
    )


def add_commands(commands: Commands) -> None:
    """Adds the ``history`` command."""
    p = add_command(
        commands,
        "history",
        help="a version's decisions, stage moves and aliases, oldest first",
    )
    add_version_arguments(p)
    p.set_defaults(handler=show_history)
