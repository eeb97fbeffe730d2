"""How the registry's messages read on a page: plain dicts for the templates, and the
filters that print enums, times, sizes and numbers."""

from __future__ import annotations

import datetime as dt
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message
from jinja2 import Environment
from modelyard.v1 import resources_pb2 as pb

from modelyard_server.domain.overview import COUNT_LIMIT
from modelyard_server.domain.stages import STAGE_NAMES
from modelyard_server.log.chain import LogEntry

PREFIXES = ("STAGE_", "APPROVAL_STATUS_", "ARTIFACT_FORMAT_", "DECISION_", "ACTION_",
            "COLUMN_TYPE_", "SCHEMA_CHANGE_KIND_", "SCHEMA_SIDE_")  # fmt: skip

# The stages a transition form offers, by pb.Stage value.
STAGE_CHOICES = {pb.STAGE_STAGING: "STAGING", pb.STAGE_PRODUCTION: "PRODUCTION",
                 pb.STAGE_ARCHIVED: "ARCHIVED"}  # fmt: skip


def plain(message: Message) -> dict[str, Any]:
    """Returns the message as the dict a template reads: proto field names, enums by name,
    int64 as numbers, times as RFC 3339 text."""
    return json_format.MessageToDict(
        message, preserving_proto_field_name=True, use_integers_for_enums=False
    )


def version_row(version: pb.ModelVersion) -> dict[str, Any]:
    """Returns what a row of a versions table shows; cheaper than `plain` by ten times,
    which matters on a page of 100."""
    return {
        "version": version.version,
        "stage": pb.Stage.Name(version.stage),
        "approval_status": pb.ApprovalStatus.Name(version.approval_status),
        "aliases": list(version.aliases),
        "metrics": dict(version.metrics),
        "created_by": version.created_by,
        "create_time": version.create_time.seconds * 1_000_000 + version.create_time.nanos // 1000,
    }


def entry(item: LogEntry) -> dict[str, Any]:
    """Returns a log entry as a template reads it."""
    return {
        "seq": item.seq,
        "time_us": item.time_us,
        "actor": item.actor,
        "action": item.action,
        "resource": item.resource,
        "group": item.group,
        "version": item.version,
        "reason": item.reason,
        "hash": item.hash,
    }


def label(value: object) -> str:
    """Returns an enum's name without its prefix: STAGE_PRODUCTION reads PRODUCTION."""
    text = str(value or "")
    for prefix in PREFIXES:
        if text.startswith(prefix):
            return text.removeprefix(prefix)
    return text


def when(value: object) -> str:
    """Returns a time (RFC 3339 text, or microseconds since the epoch) as UTC to the second."""
    if isinstance(value, int):
        moment = dt.datetime.fromtimestamp(value / 1e6, dt.UTC)
    elif isinstance(value, str) and value:
        try:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    else:
        return ""
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def size(value: object) -> str:
    """Returns a byte count as people read it (1.5 MiB), exact below a KiB."""
    number = float(str(value or 0))
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if number < 1024 or unit == "TiB":
            return f"{int(number)} bytes" if unit == "bytes" else f"{number:.1f} {unit}"
        number /= 1024
    return ""


def number(value: object) -> str:
    """Returns a metric as people read it: up to 6 significant digits."""
    if isinstance(value, int | float):
        return f"{value:.6g}"
    return str(value)


def tally(value: int) -> str:
    """Returns a count as a page shows it: "1,000+" where counting stopped."""
    return f"{value:,}+" if value >= COUNT_LIMIT else f"{value:,}"


def stage_name(value: int) -> str:
    return STAGE_NAMES.get(value, str(value))


def install(env: Environment) -> None:
    """Gives the templates these filters."""
    env.filters.update(
        label=label, when=when, size=size, number=number, stage_name=stage_name, tally=tally
    )
    env.globals["STAGE_CHOICES"] = STAGE_CHOICES
