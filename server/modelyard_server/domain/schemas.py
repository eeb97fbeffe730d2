"""What the lists of groups and versions can be filtered and ordered by."""

from __future__ import annotations

from modelyard.v1 import resources_pb2 as pb

from modelyard_server.domain.filters import FieldSpec, Kind, Ordering, Schema

_GROUP_NAME = FieldSpec("name", Kind.STRING, orderable=True)
GROUPS = Schema(
    fields={
        "name": _GROUP_NAME,
        "create_time": FieldSpec("create_time", Kind.TIME, orderable=True),
        "update_time": FieldSpec("update_time", Kind.TIME, orderable=True),
        "created_by": FieldSpec("created_by", Kind.STRING),
        "latest_version": FieldSpec("latest_version", Kind.INT),
    },
    maps={"tags": FieldSpec("tags", Kind.STRING)},
    default_order=Ordering(_GROUP_NAME, descending=False),
)

_VERSION = FieldSpec("version", Kind.INT, orderable=True)
VERSIONS = Schema(
    fields={
        "version": _VERSION,
        "stage": FieldSpec("stage", Kind.ENUM, enum=pb.Stage, enum_prefix="STAGE_"),
        "approval_status": FieldSpec(
            "approval_status", Kind.ENUM, enum=pb.ApprovalStatus, enum_prefix="APPROVAL_STATUS_"
        ),
        "created_by": FieldSpec("created_by", Kind.STRING),
        "create_time": FieldSpec("create_time", Kind.TIME, orderable=True),
        "update_time": FieldSpec("update_time", Kind.TIME, orderable=True),
        "artifact.sha256": FieldSpec("artifact.sha256", Kind.STRING),
        "artifact.format": FieldSpec(
            "artifact.format", Kind.ENUM, enum=pb.ArtifactFormat, enum_prefix="ARTIFACT_FORMAT_"
        ),
        # Whether `lineage.depends_on` names the version: `depends_on = "groups/x/versions/3"`.
        "depends_on": FieldSpec("depends_on", Kind.VERSION),
    },
    maps={
        "tags": FieldSpec("tags", Kind.STRING),
        "metrics": FieldSpec("metrics", Kind.FLOAT, orderable=True),
    },
    default_order=Ordering(_VERSION, descending=True),
)
