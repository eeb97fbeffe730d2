"""The stage lifecycle (DESIGN.md section 4): where a version may move, and what a move stamps."""

from __future__ import annotations

from modelyard.v1 import errors_pb2 as reasons
from modelyard.v1 import resources_pb2 as pb

from modelyard_server.domain.clock import new_etag, timestamp
from modelyard_server.domain.errors import FailedPrecondition, quote

STAGE_NAMES: dict[int, str] = {
    int(v): pb.Stage.Name(v).removeprefix("STAGE_") for v in pb.Stage.values()
}

# Where each stage may go next, keyed by pb.Stage values.
TRANSITIONS: dict[int, frozenset[int]] = {
    pb.STAGE_NONE: frozenset({pb.STAGE_STAGING, pb.STAGE_ARCHIVED}),
    pb.STAGE_STAGING: frozenset({pb.STAGE_PRODUCTION, pb.STAGE_ARCHIVED}),
    pb.STAGE_PRODUCTION: frozenset({pb.STAGE_ARCHIVED}),
    pb.STAGE_ARCHIVED: frozenset({pb.STAGE_STAGING}),
}


def check_transition(version: pb.ModelVersion, stage: int) -> None:
    """Raises INVALID_TRANSITION unless the lifecycle allows moving the version to `stage`."""
    if stage not in TRANSITIONS.get(version.stage, frozenset()):
        here = STAGE_NAMES[version.stage]
        allowed = ", ".join(sorted(STAGE_NAMES[s] for s in TRANSITIONS[version.stage]))
        there = STAGE_NAMES.get(stage, str(stage))
        raise FailedPrecondition(
            reasons.INVALID_TRANSITION,
            f"{quote(version.name)} cannot move from {here} to {there}; "
            f"from {here} it may move to {allowed}",
            metadata={"from": here, "to": there},
        )


def require_approved(version: pb.ModelVersion, purpose: str) -> None:
    """Raises VERSION_NOT_APPROVED unless the version is APPROVED; `purpose` says for what."""
    if version.approval_status != pb.APPROVAL_STATUS_APPROVED:
        status = pb.ApprovalStatus.Name(version.approval_status).removeprefix("APPROVAL_STATUS_")
        raise FailedPrecondition(
            reasons.VERSION_NOT_APPROVED,
            f"{quote(version.name)} is {status}; only an APPROVED version may be {purpose}",
            metadata={"resource": version.name, "approval_status": status},
        )


def moved(version: pb.ModelVersion, stage: int, now: int) -> pb.ModelVersion:
    """Returns a copy of the version in the new stage, stamped."""
    after = pb.ModelVersion()
    after.CopyFrom(version)
    if version.stage == pb.STAGE_PRODUCTION and stage != pb.STAGE_PRODUCTION:
        after.production_end_time.CopyFrom(timestamp(now))
    after.stage = pb.Stage.ValueType(stage)
    after.stage_time.CopyFrom(timestamp(now))
    after.update_time.CopyFrom(timestamp(now))
    after.etag = new_etag()
    return after
