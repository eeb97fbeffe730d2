"""Registering versions: numbering them, stamping what the registry records, and checking
that their artifacts are new and their lineage exists. Shared by one-at-a-time registration
and bulk import."""

from __future__ import annotations

from collections.abc import Sequence

from modelyard.v1 import errors_pb2 as reasons
from modelyard.v1 import resources_pb2 as pb

from modelyard_server.domain import lookup, names
from modelyard_server.domain.clock import new_etag, timestamp
from modelyard_server.domain.errors import AlreadyExists, FailedPrecondition, quote
from modelyard_server.domain.repositories import UnitOfWork

# What the server sets on a version; whatever a caller sends there is dropped.
OUTPUT_ONLY = frozenset(
    {
        "approvers",
        "last_decision",
        "stage_time",
        "production_end_time",
        "name",
        "version",
        "approval_status",
        "stage",
        "aliases",
        "created_by",
        "create_time",
        "update_time",
        "etag",
    }
)


def duplicate_artifact(group: str, sha256: str, existing: int) -> AlreadyExists:
    existing_name = names.version_name(group, existing)
    return AlreadyExists(
        reasons.DUPLICATE_ARTIFACT,
        f"an artifact with sha256 {sha256} is already registered as "
        f"{quote(existing_name)}; use that version instead of registering it again",
        metadata={"existing_version": existing_name},
    )


def references_missing(missing: Sequence[str]) -> FailedPrecondition:
    return FailedPrecondition(
        reasons.REFERENCED_VERSION_NOT_FOUND,
        f"the lineage names versions that do not exist: {', '.join(missing)}",
        metadata={"missing": ",".join(missing)},
    )


def registered(
    version: pb.ModelVersion, group: str, number: int, subject: str, now: int, *, held: bool
) -> pb.ModelVersion:
    """Returns the version as the registry records it: numbered, pending, in stage NONE.
    `held`: its artifact's files are in the registry, checked (see domain/artifacts.py)."""
    created = pb.ModelVersion()
    created.CopyFrom(version)
    for field in OUTPUT_ONLY:
        created.ClearField(field)  # type: ignore[arg-type]
    if created.artifact.format == pb.ARTIFACT_FORMAT_UNSPECIFIED:
        created.artifact.format = pb.ARTIFACT_FORMAT_OTHER
    # Output only: only the registry says it holds an artifact, after checking its blobs.
    created.artifact.held = held
    if not held:
        created.artifact.file_count = 0
    created.name = names.version_name(group, number)
    if held:
        created.artifact.uri = f"modelyard:{created.name}"
    created.version = number
    created.approval_status = pb.APPROVAL_STATUS_PENDING_MANUAL_APPROVAL
    created.stage = pb.STAGE_NONE
    created.created_by = subject
    created.create_time.CopyFrom(timestamp(now))
    created.update_time.CopyFrom(timestamp(now))
    created.stage_time.CopyFrom(timestamp(now))
    created.etag = new_etag()
    return created


async def register(
    unit: UnitOfWork,
    group_id: str,
    versions: Sequence[pb.ModelVersion],
    subject: str,
    now: int,
    *,
    held: bool = False,
) -> list[pb.ModelVersion]:
    """Numbers and stores new versions of a group, after checking that their artifacts are new
    and that the versions their lineage names exist (or are among them)."""
    group = await lookup.group(unit, group_id)
    existing = await unit.versions.with_artifacts(group_id, [v.artifact.sha256 for v in versions])
    created: list[pb.ModelVersion] = []
    for version in versions:
        sha = version.artifact.sha256
        if sha in existing:
            raise duplicate_artifact(group_id, sha, existing[sha])
        number = group.latest_version + len(created) + 1
        existing[sha] = number
        created.append(registered(version, group_id, number, subject, now, held=held))
    # A lineage may name versions registered before it, in this batch or earlier.
    earlier: set[str] = set()
    references: dict[str, None] = {}
    for version, numbered in zip(versions, created, strict=True):
        lineage = (*version.lineage.parent_versions, *version.lineage.depends_on)
        references.update((r, None) for r in lineage if r not in earlier)
        earlier.add(numbered.name)
    if references:
        missing = await unit.versions.missing(list(references))
        if missing:
            raise references_missing(missing)
    group.latest_version = created[-1].version
    await unit.groups.update(group)
    await unit.versions.insert(group_id, created)
    return created
