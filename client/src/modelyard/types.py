"""The SDK's enums and the read-only views of the messages it returns.

Generated from protos/modelyard/v1 by scripts/gen_types.py (`make proto`); do not edit.
See modelyard/_views.py for what a view is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from modelyard import _views
from modelyard.v1 import (
    artifact_service_pb2,
    audit_service_pb2,
    registry_service_pb2,
    resources_pb2,
    retention_service_pb2,
    token_service_pb2,
    webhook_service_pb2,
)

__all__ = [
    "Action",
    "Alias",
    "ApplyRetentionResponse",
    "ApprovalDecision",
    "ApprovalPolicy",
    "ApprovalStatus",
    "Artifact",
    "ArtifactFile",
    "ArtifactFormat",
    "ArtifactManifest",
    "AuditCheckpoint",
    "AuditEvent",
    "ColumnSpec",
    "ColumnType",
    "CompareSchemasResponse",
    "CreateTokenResponse",
    "Decision",
    "DeliveryState",
    "Dependent",
    "ErrorReason",
    "FairnessEvaluation",
    "LegalHold",
    "Lineage",
    "ListDependentsResponse",
    "ModelCard",
    "ModelGroup",
    "ModelSchema",
    "ModelVersion",
    "PlanRetentionResponse",
    "RelatedChange",
    "RetentionAction",
    "RetentionOutcome",
    "RetentionPolicy",
    "RollbackProductionResponse",
    "SchemaChange",
    "SchemaChangeKind",
    "SchemaCompatibility",
    "SchemaSide",
    "Stage",
    "Token",
    "TransitionModelVersionStageResponse",
    "VerifyAuditLogResponse",
    "Webhook",
    "WebhookDelivery",
]


class ApprovalStatus(_views.Enum):
    """The state of the approval workflow of a model version (SageMaker's approval
    states).
    """

    UNSPECIFIED = 0
    """Never returned by the server."""
    PENDING_MANUAL_APPROVAL = 1
    """Registered and awaiting a reviewer's decision. Every version starts here."""
    APPROVED = 2
    """Cleared for production."""
    REJECTED = 3
    """Not fit for production. A rejected version is never in PRODUCTION."""
    if TYPE_CHECKING:
        APPROVAL_STATUS_UNSPECIFIED: ClassVar[Literal[ApprovalStatus.UNSPECIFIED]]
        APPROVAL_STATUS_PENDING_MANUAL_APPROVAL: ClassVar[
            Literal[ApprovalStatus.PENDING_MANUAL_APPROVAL]
        ]
        APPROVAL_STATUS_APPROVED: ClassVar[Literal[ApprovalStatus.APPROVED]]
        APPROVAL_STATUS_REJECTED: ClassVar[Literal[ApprovalStatus.REJECTED]]
    else:
        APPROVAL_STATUS_UNSPECIFIED = 0
        APPROVAL_STATUS_PENDING_MANUAL_APPROVAL = 1
        APPROVAL_STATUS_APPROVED = 2
        APPROVAL_STATUS_REJECTED = 3


class Stage(_views.Enum):
    """The lifecycle stage of a model version. Allowed moves: NONE -> STAGING ->
    PRODUCTION -> ARCHIVED; NONE|STAGING -> ARCHIVED; ARCHIVED -> STAGING (restore).
    """

    UNSPECIFIED = 0
    """Never returned by the server."""
    NONE = 1
    """Registered, not deployed anywhere. Every version starts here."""
    STAGING = 2
    """Deployed for testing."""
    PRODUCTION = 3
    """Serving production traffic. Requires APPROVAL_STATUS_APPROVED."""
    ARCHIVED = 4
    """Retired."""
    if TYPE_CHECKING:
        STAGE_UNSPECIFIED: ClassVar[Literal[Stage.UNSPECIFIED]]
        STAGE_NONE: ClassVar[Literal[Stage.NONE]]
        STAGE_STAGING: ClassVar[Literal[Stage.STAGING]]
        STAGE_PRODUCTION: ClassVar[Literal[Stage.PRODUCTION]]
        STAGE_ARCHIVED: ClassVar[Literal[Stage.ARCHIVED]]
    else:
        STAGE_UNSPECIFIED = 0
        STAGE_NONE = 1
        STAGE_STAGING = 2
        STAGE_PRODUCTION = 3
        STAGE_ARCHIVED = 4


class ArtifactFormat(_views.Enum):
    """The serialization format of a model artifact."""

    UNSPECIFIED = 0
    """Not given: the server records ARTIFACT_FORMAT_OTHER."""
    ONNX = 1
    """Open Neural Network Exchange."""
    PMML = 2
    """Predictive Model Markup Language."""
    SAVED_MODEL = 3
    """A TensorFlow SavedModel directory."""
    TORCHSCRIPT = 4
    """A TorchScript archive."""
    PICKLE = 5
    """A Python pickle. Loading one runs code: only load artifacts you trust."""
    SAFETENSORS = 6
    """A safetensors file."""
    JOBLIB = 7
    """A joblib dump (a pickle with numpy arrays stored apart)."""
    OTHER = 15
    """Any other format; say which in the framework fields or tags."""
    if TYPE_CHECKING:
        ARTIFACT_FORMAT_UNSPECIFIED: ClassVar[Literal[ArtifactFormat.UNSPECIFIED]]
        ARTIFACT_FORMAT_ONNX: ClassVar[Literal[ArtifactFormat.ONNX]]
        ARTIFACT_FORMAT_PMML: ClassVar[Literal[ArtifactFormat.PMML]]
        ARTIFACT_FORMAT_SAVED_MODEL: ClassVar[Literal[ArtifactFormat.SAVED_MODEL]]
        ARTIFACT_FORMAT_TORCHSCRIPT: ClassVar[Literal[ArtifactFormat.TORCHSCRIPT]]
        ARTIFACT_FORMAT_PICKLE: ClassVar[Literal[ArtifactFormat.PICKLE]]
        ARTIFACT_FORMAT_SAFETENSORS: ClassVar[Literal[ArtifactFormat.SAFETENSORS]]
        ARTIFACT_FORMAT_JOBLIB: ClassVar[Literal[ArtifactFormat.JOBLIB]]
        ARTIFACT_FORMAT_OTHER: ClassVar[Literal[ArtifactFormat.OTHER]]
    else:
        ARTIFACT_FORMAT_UNSPECIFIED = 0
        ARTIFACT_FORMAT_ONNX = 1
        ARTIFACT_FORMAT_PMML = 2
        ARTIFACT_FORMAT_SAVED_MODEL = 3
        ARTIFACT_FORMAT_TORCHSCRIPT = 4
        ARTIFACT_FORMAT_PICKLE = 5
        ARTIFACT_FORMAT_SAFETENSORS = 6
        ARTIFACT_FORMAT_JOBLIB = 7
        ARTIFACT_FORMAT_OTHER = 15


class ColumnType(_views.Enum):
    """The data type of one column of a model's input or output schema."""

    UNSPECIFIED = 0
    """Not allowed in a schema."""
    BOOLEAN = 1
    """true or false."""
    INTEGER = 2
    """A 32-bit signed integer."""
    LONG = 3
    """A 64-bit signed integer."""
    FLOAT = 4
    """A 32-bit floating-point number."""
    DOUBLE = 5
    """A 64-bit floating-point number."""
    STRING = 6
    """Text."""
    BINARY = 7
    """Bytes."""
    DATETIME = 8
    """A point in time."""
    TENSOR = 9
    """An n-dimensional array; its dimensions are in `shape`."""
    if TYPE_CHECKING:
        COLUMN_TYPE_UNSPECIFIED: ClassVar[Literal[ColumnType.UNSPECIFIED]]
        COLUMN_TYPE_BOOLEAN: ClassVar[Literal[ColumnType.BOOLEAN]]
        COLUMN_TYPE_INTEGER: ClassVar[Literal[ColumnType.INTEGER]]
        COLUMN_TYPE_LONG: ClassVar[Literal[ColumnType.LONG]]
        COLUMN_TYPE_FLOAT: ClassVar[Literal[ColumnType.FLOAT]]
        COLUMN_TYPE_DOUBLE: ClassVar[Literal[ColumnType.DOUBLE]]
        COLUMN_TYPE_STRING: ClassVar[Literal[ColumnType.STRING]]
        COLUMN_TYPE_BINARY: ClassVar[Literal[ColumnType.BINARY]]
        COLUMN_TYPE_DATETIME: ClassVar[Literal[ColumnType.DATETIME]]
        COLUMN_TYPE_TENSOR: ClassVar[Literal[ColumnType.TENSOR]]
    else:
        COLUMN_TYPE_UNSPECIFIED = 0
        COLUMN_TYPE_BOOLEAN = 1
        COLUMN_TYPE_INTEGER = 2
        COLUMN_TYPE_LONG = 3
        COLUMN_TYPE_FLOAT = 4
        COLUMN_TYPE_DOUBLE = 5
        COLUMN_TYPE_STRING = 6
        COLUMN_TYPE_BINARY = 7
        COLUMN_TYPE_DATETIME = 8
        COLUMN_TYPE_TENSOR = 9


class SchemaCompatibility(_views.Enum):
    """How the schema of a version promoted to PRODUCTION must relate to the schemas of
    the production versions it joins or replaces
    (ApprovalPolicy.schema_compatibility). Modelled on Confluent Schema Registry's
    compatibility types, for a model's callers: those who send it inputs and those who
    read its outputs.
    """

    UNSPECIFIED = 0
    """Same as NONE."""
    NONE = 1
    """Schemas are not compared."""
    BACKWARD = 2
    """The new version's inputs accept every request the production version's inputs
    accept: no required input added, no type narrowed, no input made non-nullable, no
    range or tensor shape narrowed. Inputs it no longer reads are fine (callers' extra
    columns are ignored).
    """
    FULL = 3
    """BACKWARD, and whoever reads the production version's outputs can read the new
    version's: no output removed, no type widened, no output made nullable, no range
    or shape widened.
    """
    if TYPE_CHECKING:
        SCHEMA_COMPATIBILITY_UNSPECIFIED: ClassVar[Literal[SchemaCompatibility.UNSPECIFIED]]
        SCHEMA_COMPATIBILITY_NONE: ClassVar[Literal[SchemaCompatibility.NONE]]
        SCHEMA_COMPATIBILITY_BACKWARD: ClassVar[Literal[SchemaCompatibility.BACKWARD]]
        SCHEMA_COMPATIBILITY_FULL: ClassVar[Literal[SchemaCompatibility.FULL]]
    else:
        SCHEMA_COMPATIBILITY_UNSPECIFIED = 0
        SCHEMA_COMPATIBILITY_NONE = 1
        SCHEMA_COMPATIBILITY_BACKWARD = 2
        SCHEMA_COMPATIBILITY_FULL = 3


class SchemaSide(_views.Enum):
    """Which side of a model's schema a change is on."""

    UNSPECIFIED = 0
    """Not used."""
    INPUTS = 1
    """The columns the model reads."""
    OUTPUTS = 2
    """The columns the model writes."""
    if TYPE_CHECKING:
        SCHEMA_SIDE_UNSPECIFIED: ClassVar[Literal[SchemaSide.UNSPECIFIED]]
        SCHEMA_SIDE_INPUTS: ClassVar[Literal[SchemaSide.INPUTS]]
        SCHEMA_SIDE_OUTPUTS: ClassVar[Literal[SchemaSide.OUTPUTS]]
    else:
        SCHEMA_SIDE_UNSPECIFIED = 0
        SCHEMA_SIDE_INPUTS = 1
        SCHEMA_SIDE_OUTPUTS = 2


class SchemaChangeKind(_views.Enum):
    """What changed about one column between two schemas."""

    UNSPECIFIED = 0
    """Not used."""
    COLUMN_ADDED = 1
    """The candidate has a column the base does not."""
    COLUMN_REMOVED = 2
    """The base has a column the candidate does not."""
    TYPE_CHANGED = 3
    """The column's type differs."""
    NULLABILITY_CHANGED = 4
    """The column became nullable, or stopped being nullable."""
    RANGE_CHANGED = 5
    """The column's min or max differs."""
    SHAPE_CHANGED = 6
    """The tensor column's shape differs."""
    if TYPE_CHECKING:
        SCHEMA_CHANGE_KIND_UNSPECIFIED: ClassVar[Literal[SchemaChangeKind.UNSPECIFIED]]
        SCHEMA_CHANGE_KIND_COLUMN_ADDED: ClassVar[Literal[SchemaChangeKind.COLUMN_ADDED]]
        SCHEMA_CHANGE_KIND_COLUMN_REMOVED: ClassVar[Literal[SchemaChangeKind.COLUMN_REMOVED]]
        SCHEMA_CHANGE_KIND_TYPE_CHANGED: ClassVar[Literal[SchemaChangeKind.TYPE_CHANGED]]
        SCHEMA_CHANGE_KIND_NULLABILITY_CHANGED: ClassVar[
            Literal[SchemaChangeKind.NULLABILITY_CHANGED]
        ]
        SCHEMA_CHANGE_KIND_RANGE_CHANGED: ClassVar[Literal[SchemaChangeKind.RANGE_CHANGED]]
        SCHEMA_CHANGE_KIND_SHAPE_CHANGED: ClassVar[Literal[SchemaChangeKind.SHAPE_CHANGED]]
    else:
        SCHEMA_CHANGE_KIND_UNSPECIFIED = 0
        SCHEMA_CHANGE_KIND_COLUMN_ADDED = 1
        SCHEMA_CHANGE_KIND_COLUMN_REMOVED = 2
        SCHEMA_CHANGE_KIND_TYPE_CHANGED = 3
        SCHEMA_CHANGE_KIND_NULLABILITY_CHANGED = 4
        SCHEMA_CHANGE_KIND_RANGE_CHANGED = 5
        SCHEMA_CHANGE_KIND_SHAPE_CHANGED = 6


class Decision(_views.Enum):
    """A reviewer's decision on a model version."""

    UNSPECIFIED = 0
    """Never returned by the server."""
    APPROVE = 1
    """The reviewer approved the version."""
    REJECT = 2
    """The reviewer rejected the version (or revoked an approval)."""
    if TYPE_CHECKING:
        DECISION_UNSPECIFIED: ClassVar[Literal[Decision.UNSPECIFIED]]
        DECISION_APPROVE: ClassVar[Literal[Decision.APPROVE]]
        DECISION_REJECT: ClassVar[Literal[Decision.REJECT]]
    else:
        DECISION_UNSPECIFIED = 0
        DECISION_APPROVE = 1
        DECISION_REJECT = 2


class Action(_views.Enum):
    """What an audit entry records. Each mutating request writes exactly one."""

    UNSPECIFIED = 0
    """Never returned by the server."""
    MODEL_GROUP_CREATED = 1
    """A model group was created."""
    MODEL_GROUP_UPDATED = 2
    """A model group's description or tags changed."""
    MODEL_GROUP_DELETED = 3
    """A model group was deleted."""
    MODEL_VERSION_CREATED = 4
    """A version was registered."""
    MODEL_VERSION_UPDATED = 5
    """A version's description, tags or model card changed."""
    MODEL_VERSION_DELETED = 6
    """A version was deleted."""
    APPROVAL_CHANGED = 7
    """A reviewer approved or rejected a version; `after.approval_status` is the result."""
    STAGE_CHANGED = 8
    """A version moved between stages; `related` lists versions archived or restored with
    it.
    """
    ALIAS_SET = 9
    """An alias was created or moved."""
    ALIAS_DELETED = 10
    """An alias was deleted."""
    ROLLED_BACK = 11
    """Production was rolled back; `resource` is the version restored, `related` the one
    archived.
    """
    APPROVAL_POLICY_UPDATED = 12
    """A group's approval policy changed."""
    WEBHOOK_CREATED = 13
    """A webhook was registered."""
    WEBHOOK_UPDATED = 14
    """A webhook was changed."""
    WEBHOOK_DELETED = 15
    """A webhook was deleted."""
    LEGAL_HOLD_SET = 40
    """An admin put a version under legal hold; `after.legal_hold` says why."""
    LEGAL_HOLD_CLEARED = 41
    """An admin cleared a version's legal hold; the entry's reason says why."""
    RETENTION_POLICY_UPDATED = 42
    """A retention policy (a group's, or the tenant's default) changed."""
    TOKEN_CREATED = 16
    """A bearer token was issued; `after` is the token, never its secret."""
    TOKEN_REVOKED = 17
    """A bearer token was revoked."""
    if TYPE_CHECKING:
        ACTION_UNSPECIFIED: ClassVar[Literal[Action.UNSPECIFIED]]
        ACTION_MODEL_GROUP_CREATED: ClassVar[Literal[Action.MODEL_GROUP_CREATED]]
        ACTION_MODEL_GROUP_UPDATED: ClassVar[Literal[Action.MODEL_GROUP_UPDATED]]
        ACTION_MODEL_GROUP_DELETED: ClassVar[Literal[Action.MODEL_GROUP_DELETED]]
        ACTION_MODEL_VERSION_CREATED: ClassVar[Literal[Action.MODEL_VERSION_CREATED]]
        ACTION_MODEL_VERSION_UPDATED: ClassVar[Literal[Action.MODEL_VERSION_UPDATED]]
        ACTION_MODEL_VERSION_DELETED: ClassVar[Literal[Action.MODEL_VERSION_DELETED]]
        ACTION_APPROVAL_CHANGED: ClassVar[Literal[Action.APPROVAL_CHANGED]]
        ACTION_STAGE_CHANGED: ClassVar[Literal[Action.STAGE_CHANGED]]
        ACTION_ALIAS_SET: ClassVar[Literal[Action.ALIAS_SET]]
        ACTION_ALIAS_DELETED: ClassVar[Literal[Action.ALIAS_DELETED]]
        ACTION_ROLLED_BACK: ClassVar[Literal[Action.ROLLED_BACK]]
        ACTION_APPROVAL_POLICY_UPDATED: ClassVar[Literal[Action.APPROVAL_POLICY_UPDATED]]
        ACTION_WEBHOOK_CREATED: ClassVar[Literal[Action.WEBHOOK_CREATED]]
        ACTION_WEBHOOK_UPDATED: ClassVar[Literal[Action.WEBHOOK_UPDATED]]
        ACTION_WEBHOOK_DELETED: ClassVar[Literal[Action.WEBHOOK_DELETED]]
        ACTION_LEGAL_HOLD_SET: ClassVar[Literal[Action.LEGAL_HOLD_SET]]
        ACTION_LEGAL_HOLD_CLEARED: ClassVar[Literal[Action.LEGAL_HOLD_CLEARED]]
        ACTION_RETENTION_POLICY_UPDATED: ClassVar[Literal[Action.RETENTION_POLICY_UPDATED]]
        ACTION_TOKEN_CREATED: ClassVar[Literal[Action.TOKEN_CREATED]]
        ACTION_TOKEN_REVOKED: ClassVar[Literal[Action.TOKEN_REVOKED]]
    else:
        ACTION_UNSPECIFIED = 0
        ACTION_MODEL_GROUP_CREATED = 1
        ACTION_MODEL_GROUP_UPDATED = 2
        ACTION_MODEL_GROUP_DELETED = 3
        ACTION_MODEL_VERSION_CREATED = 4
        ACTION_MODEL_VERSION_UPDATED = 5
        ACTION_MODEL_VERSION_DELETED = 6
        ACTION_APPROVAL_CHANGED = 7
        ACTION_STAGE_CHANGED = 8
        ACTION_ALIAS_SET = 9
        ACTION_ALIAS_DELETED = 10
        ACTION_ROLLED_BACK = 11
        ACTION_APPROVAL_POLICY_UPDATED = 12
        ACTION_WEBHOOK_CREATED = 13
        ACTION_WEBHOOK_UPDATED = 14
        ACTION_WEBHOOK_DELETED = 15
        ACTION_LEGAL_HOLD_SET = 40
        ACTION_LEGAL_HOLD_CLEARED = 41
        ACTION_RETENTION_POLICY_UPDATED = 42
        ACTION_TOKEN_CREATED = 16
        ACTION_TOKEN_REVOKED = 17


class DeliveryState(_views.Enum):
    """Where a delivery stands."""

    UNSPECIFIED = 0
    """Never returned by the server."""
    PENDING = 1
    """Waiting for its first attempt or for a retry."""
    SUCCEEDED = 2
    """The endpoint answered 2xx."""
    FAILED = 3
    """Every attempt failed; RedeliverWebhookDelivery tries again."""
    if TYPE_CHECKING:
        DELIVERY_STATE_UNSPECIFIED: ClassVar[Literal[DeliveryState.UNSPECIFIED]]
        DELIVERY_STATE_PENDING: ClassVar[Literal[DeliveryState.PENDING]]
        DELIVERY_STATE_SUCCEEDED: ClassVar[Literal[DeliveryState.SUCCEEDED]]
        DELIVERY_STATE_FAILED: ClassVar[Literal[DeliveryState.FAILED]]
    else:
        DELIVERY_STATE_UNSPECIFIED = 0
        DELIVERY_STATE_PENDING = 1
        DELIVERY_STATE_SUCCEEDED = 2
        DELIVERY_STATE_FAILED = 3


class ErrorReason(_views.Enum):
    """The `reason` of the google.rpc.ErrorInfo (domain `modelyard.dev`) that every error
    from modelyard carries, in the `grpc-status-details-bin` trailer. The value's name
    is the reason string. Like google.api.ErrorReason, the values carry no prefix
    because they are the reason strings themselves.
    """

    UNSPECIFIED = 0
    """Never sent."""
    INVALID_FIELD = 1
    """INVALID_ARGUMENT: one or more fields are invalid; a google.rpc.BadRequest lists
    them.
    """
    INVALID_FILTER = 2
    """INVALID_ARGUMENT: the list filter does not parse or names an unknown field."""
    INVALID_ORDER_BY = 3
    """INVALID_ARGUMENT: order_by does not parse or names a field that cannot be ordered
    by.
    """
    INVALID_PAGE_TOKEN = 4
    """INVALID_ARGUMENT: the page token is malformed or belongs to another query."""
    REQUEST_ID_REUSED = 5
    """INVALID_ARGUMENT: the request_id was already used for a different request."""
    IMMUTABLE_FIELD = 6
    """INVALID_ARGUMENT: the update mask names a field that is immutable or output only."""
    MALFORMED_REQUEST = 7
    """INVALID_ARGUMENT: the request's bytes are not the method's request message: the
    wire format is corrupt, a string is not UTF-8, or messages nest too deep.
    """
    DIGEST_MISMATCH = 8
    """INVALID_ARGUMENT: the bytes uploaded do not have the SHA-256 or the size
    announced; nothing of them was kept.
    """
    WRITE_OFFSET_MISMATCH = 9
    """INVALID_ARGUMENT: a write's offset is not the upload's committed size; ask
    QueryWriteStatus and continue from there.
    """
    UNAUTHENTICATED = 10
    """UNAUTHENTICATED: no bearer token, or one the server does not know."""
    TOKEN_EXPIRED = 13
    """UNAUTHENTICATED: the bearer token expired; ask an admin for a new one."""
    TOKEN_REVOKED = 14
    """UNAUTHENTICATED: the bearer token was revoked; ask an admin for a new one."""
    TOO_MANY_FAILED_ATTEMPTS = 15
    """RESOURCE_EXHAUSTED: too many failed authentications from the caller's address;
    retry after the `retry_after_seconds` of the ErrorInfo's metadata.
    """
    MISSING_PERMISSION = 11
    """PERMISSION_DENIED: the caller's roles do not allow the action."""
    SELF_APPROVAL_FORBIDDEN = 12
    """PERMISSION_DENIED: the group's policy forbids approving a version one registered."""
    MODEL_GROUP_NOT_FOUND = 20
    """NOT_FOUND: no such model group."""
    MODEL_VERSION_NOT_FOUND = 21
    """NOT_FOUND: no such model version."""
    ALIAS_NOT_FOUND = 22
    """NOT_FOUND: no such alias."""
    WEBHOOK_NOT_FOUND = 23
    """NOT_FOUND: no such webhook."""
    WEBHOOK_DELIVERY_NOT_FOUND = 24
    """NOT_FOUND: no such webhook delivery."""
    ARTIFACT_FILE_NOT_FOUND = 25
    """NOT_FOUND: the artifact has no file at that path."""
    TOKEN_NOT_FOUND = 26
    """NOT_FOUND: the token does not exist."""
    MODEL_GROUP_ALREADY_EXISTS = 30
    """ALREADY_EXISTS: a model group with this id exists."""
    DUPLICATE_ARTIFACT = 31
    """ALREADY_EXISTS: a version with the same artifact sha256 exists in the group;
    ErrorInfo metadata `existing_version` names it.
    """
    STALE_ETAG = 40
    """ABORTED: the etag sent is not the resource's current etag; read it again and
    retry.
    """
    UPLOAD_BUSY = 41
    """ABORTED: another stream is writing this upload; wait for it to end, then continue
    where QueryWriteStatus says.
    """
    MODEL_GROUP_NOT_EMPTY = 50
    """FAILED_PRECONDITION: the group still has versions; delete them or pass force."""
    VERSION_IN_PRODUCTION = 51
    """FAILED_PRECONDITION: the version is in production; roll back or archive it first."""
    REFERENCED_VERSION_NOT_FOUND = 52
    """FAILED_PRECONDITION: a version named in the lineage does not exist."""
    INVALID_TRANSITION = 53
    """FAILED_PRECONDITION: the stage transition is not in the lifecycle table."""
    VERSION_NOT_APPROVED = 54
    """FAILED_PRECONDITION: the action needs an APPROVED version."""
    NO_ROLLBACK_TARGET = 55
    """FAILED_PRECONDITION: there is no earlier production version to roll back to."""
    VERSION_REFERENCED = 56
    """FAILED_PRECONDITION: the version is used by another (depends_on or
    parent_versions).
    """
    PRODUCTION_LIMIT_REACHED = 57
    """FAILED_PRECONDITION: the group's policy allows no more versions in production at
    once.
    """
    ARTIFACT_NOT_HELD = 58
    """FAILED_PRECONDITION: the registry holds only the artifact's URI, not its bytes."""
    BLOBS_MISSING = 59
    """FAILED_PRECONDITION: a version's artifact files name blobs the group does not
    hold; ErrorInfo metadata `missing` lists their digests. Upload them, then
    register.
    """
    HAS_DEPENDENTS = 150
    """FAILED_PRECONDITION: a PRODUCTION version depends on this one (directly or through
    others); ErrorInfo metadata `dependents` names them. Retire them first, or pass
    `force` with a reason.
    """
    VERSION_ON_LEGAL_HOLD = 151
    """FAILED_PRECONDITION: the version is under legal hold; an admin must clear the hold
    before it can be deleted.
    """
    SCHEMA_INCOMPATIBLE = 152
    """FAILED_PRECONDITION: the group's schema_compatibility policy refuses the
    promotion: the version's schema breaks callers of a production version. ErrorInfo
    metadata `production` names that version and `columns` the breaking columns.
    """
    SUBSCRIBER_TOO_SLOW = 60
    """RESOURCE_EXHAUSTED: the subscriber fell too far behind; resume from its cursor."""
    CURSOR_AHEAD_OF_LOG = 61
    """OUT_OF_RANGE: the stream's start_after is beyond the head of the log, so the
    cursor comes from another log (another database, or one restored from an older
    backup).
    """
    TOO_MANY_STREAMS = 62
    """RESOURCE_EXHAUSTED: the caller has as many event streams open on this server as a
    principal may; ErrorInfo metadata `limit` says how many. Close one, or share one.
    """
    AUDIT_CHECKPOINT_INVALID = 90
    """INVALID_ARGUMENT: the audit checkpoint's signature does not hold under this
    server's key (it was edited, or another registry signed it), or it is another
    tenant's.
    """
    AUDIT_LOG_BROKEN = 91
    """FAILED_PRECONDITION: the audit log fails verification, so the server signs no
    checkpoint of it; VerifyAuditLog names the first broken entry or resource.
    """
    DATABASE_UNAVAILABLE = 70
    """UNAVAILABLE: the database cannot be reached or is busy; retry with the same
    request_id.
    """
    SERVER_SHUTTING_DOWN = 71
    """UNAVAILABLE: the server is shutting down; retry (a stream resumes from its
    cursor).
    """
    INTERNAL_ERROR = 80
    """INTERNAL: a fault in the server; the message names no detail. Report it with the
    time.
    """
    BLOB_LOST = 81
    """DATA_LOSS: a blob the registry held is missing from its blob store; the operator
    must restore the store from a backup.
    """
    if TYPE_CHECKING:
        ERROR_REASON_UNSPECIFIED: ClassVar[Literal[ErrorReason.UNSPECIFIED]]
    else:
        ERROR_REASON_UNSPECIFIED = 0


class RetentionOutcome(_views.Enum):
    """What retention does, or would do, to one version."""

    UNSPECIFIED = 0
    """Never returned by the server."""
    ARCHIVE = 1
    """The version is (or would be) moved to ARCHIVED."""
    DELETE = 2
    """The version is (or would be) deleted."""
    KEEP = 3
    """A rule applies to the version, but it is protected and kept."""
    if TYPE_CHECKING:
        RETENTION_OUTCOME_UNSPECIFIED: ClassVar[Literal[RetentionOutcome.UNSPECIFIED]]
        RETENTION_OUTCOME_ARCHIVE: ClassVar[Literal[RetentionOutcome.ARCHIVE]]
        RETENTION_OUTCOME_DELETE: ClassVar[Literal[RetentionOutcome.DELETE]]
        RETENTION_OUTCOME_KEEP: ClassVar[Literal[RetentionOutcome.KEEP]]
    else:
        RETENTION_OUTCOME_UNSPECIFIED = 0
        RETENTION_OUTCOME_ARCHIVE = 1
        RETENTION_OUTCOME_DELETE = 2
        RETENTION_OUTCOME_KEEP = 3


class Alias(_views.View[resources_pb2.Alias]):
    """A movable, named pointer to one version of a group (`champion`, `challenger`)."""

    __slots__ = ()
    _message = resources_pb2.Alias

    @property
    def name(self) -> str:
        """Identifier. Resource name, `groups/{group}/aliases/{alias}`. {alias}:
        lowercase letters, digits, `-` and `_`, 1-63 characters, starting with a
        letter; `latest` and `v<N>` are reserved.
        """
        return self._pb.name

    @property
    def version(self) -> str:
        """Required. The version it points at, `groups/{group}/versions/{version}`, in
        the alias's group.
        """
        return self._pb.version

    @property
    def updated_by(self) -> str:
        """Output only. Who last moved it."""
        return self._pb.updated_by

    @property
    def update_time(self) -> datetime | None:
        """Output only. When it was last moved."""
        return _views.timestamp(self._pb, "update_time")

    @property
    def etag(self) -> str:
        """Set by the server, changed on every move. Send it back on set or delete to
        detect concurrent moves (ABORTED, STALE_ETAG).
        """
        return self._pb.etag


class ApplyRetentionResponse(_views.View[retention_service_pb2.ApplyRetentionResponse]):
    """Response for RetentionService.ApplyRetention."""

    __slots__ = ()
    _message = retention_service_pb2.ApplyRetentionResponse

    @property
    def actions(self) -> tuple[RetentionAction, ...]:
        """The archives and deletes made, each with its reason (one log entry each)."""
        return tuple(RetentionAction(m) for m in self._pb.actions)


class ApprovalDecision(_views.View[resources_pb2.ApprovalDecision]):
    """One approval decision, as recorded in the log. Made by ApproveModelVersion and
    RejectModelVersion; every field is output only.
    """

    __slots__ = ()
    _message = resources_pb2.ApprovalDecision

    @property
    def version(self) -> str:
        """Output only. The version decided on, `groups/{group}/versions/{version}`."""
        return self._pb.version

    @property
    def decision(self) -> Decision:
        """Output only. What the reviewer decided."""
        return Decision(self._pb.decision)

    @property
    def reviewer(self) -> str:
        """Output only. The reviewer (the authenticated principal)."""
        return self._pb.reviewer

    @property
    def reason(self) -> str:
        """Output only. Why, as the reviewer said; always given for rejections."""
        return self._pb.reason

    @property
    def decide_time(self) -> datetime | None:
        """Output only. When the decision committed."""
        return _views.timestamp(self._pb, "decide_time")

    @property
    def resulting_status(self) -> ApprovalStatus:
        """Output only. The version's approval status after the decision."""
        return ApprovalStatus(self._pb.resulting_status)

    @property
    def seq(self) -> int:
        """Output only. The seq of the log entry that records the decision."""
        return self._pb.seq


class ApprovalPolicy(_views.View[resources_pb2.ApprovalPolicy]):
    """The governance rules of one model group."""

    __slots__ = ()
    _message = resources_pb2.ApprovalPolicy

    @property
    def name(self) -> str:
        """Identifier. Resource name, `groups/{group}/approvalPolicy`: one per group."""
        return self._pb.name

    @property
    def required_approvals(self) -> int:
        """How many distinct reviewers must approve before a version is APPROVED. 1-10;
        default 1.
        """
        return self._pb.required_approvals

    @property
    def allow_self_approval(self) -> bool:
        """Whether the principal that registered a version may approve it. Default false
        (PERMISSION_DENIED, reason SELF_APPROVAL_FORBIDDEN).
        """
        return self._pb.allow_self_approval

    @property
    def approver_roles(self) -> Sequence[str]:
        """Roles that may approve or reject; a caller needs one, tenant-wide or bound to
        the group. Default: approver, admin.
        """
        return _views.ReadOnlyList(self._pb.approver_roles)

    @property
    def promoter_roles(self) -> Sequence[str]:
        """Roles that may change stages, move aliases and roll back. Default: deployer,
        admin.
        """
        return _views.ReadOnlyList(self._pb.promoter_roles)

    @property
    def max_production_versions(self) -> int:
        """How many versions may be in PRODUCTION at once (A/B). 1-10; default 1. Above
        1, a promotion keeps the current production versions only when it asks to.
        """
        return self._pb.max_production_versions

    @property
    def protected_aliases(self) -> Sequence[str]:
        """Alias ids (`champion`) that may only point at APPROVED versions and only be
        moved by a promoter role. The registry keeps this true in every change:
        protecting an alias that points at a version that is not APPROVED fails with
        FAILED_PRECONDITION (VERSION_NOT_APPROVED), and rejecting a version deletes
        the protected aliases that point at it, in the same transaction and log entry
        (as `related` changes).
        """
        return _views.ReadOnlyList(self._pb.protected_aliases)

    @property
    def update_time(self) -> datetime | None:
        """Output only. When the policy was last changed; unset while it has the
        defaults.
        """
        return _views.timestamp(self._pb, "update_time")

    @property
    def etag(self) -> str:
        """Set by the server, changed on every write. Send it back on update to detect
        concurrent changes (ABORTED, STALE_ETAG).
        """
        return self._pb.etag

    @property
    def schema_compatibility(self) -> SchemaCompatibility:
        """How a version's schema must relate to the production versions' for it to be
        promoted to PRODUCTION; FAILED_PRECONDITION (SCHEMA_INCOMPATIBLE) naming each
        breaking column otherwise. Default NONE. Rollbacks are not checked: they
        restore a version that served.
        """
        return SchemaCompatibility(self._pb.schema_compatibility)


class Artifact(_views.View[resources_pb2.Artifact]):
    """Where the model's bytes are and what they are."""

    __slots__ = ()
    _message = resources_pb2.Artifact

    @property
    def uri(self) -> str:
        """Where the artifact lives, e.g. `s3://bucket/key`, `file:///abs/path`,
        `https://host/path`, `gs://bucket/key`. At most 2048 characters; must have a
        scheme. Required for an external artifact; for one the registry holds
        (registered with `artifact_files`), the server sets
        `modelyard:groups/{group}/versions/{version}`.
        """
        return self._pb.uri

    @property
    def sha256(self) -> str:
        """SHA-256 of the artifact, 64 lowercase hex digits. Unique within a group:
        registering the same artifact twice fails with ALREADY_EXISTS (reason
        DUPLICATE_ARTIFACT). Required, as the caller's claim, for an external
        artifact. For one the registry holds, the server computes it: the SHA-256 of
        the canonical manifest, the UTF-8 lines `{sha256} {size_bytes} {path}\\n` of
        its files sorted by path, so that a directory has one identity.
        """
        return self._pb.sha256

    @property
    def size_bytes(self) -> int:
        """Size of the artifact in bytes, >= 0 (for a held artifact, its files' total,
        set by the server).
        """
        return self._pb.size_bytes

    @property
    def format(self) -> ArtifactFormat:
        """Serialization format. UNSPECIFIED is recorded as ARTIFACT_FORMAT_OTHER."""
        return ArtifactFormat(self._pb.format)

    @property
    def framework(self) -> str:
        """The training framework, e.g. `sklearn`, `pytorch`. At most 128 characters."""
        return self._pb.framework

    @property
    def framework_version(self) -> str:
        """The framework's version, e.g. `1.5.2`. At most 128 characters."""
        return self._pb.framework_version

    @property
    def held(self) -> bool:
        """Output only. Whether the registry holds the artifact's bytes, verified against
        their digests (ArtifactService reads them); false when it holds only the URI
        and the sha256 the caller declared.
        """
        return self._pb.held

    @property
    def directory(self) -> bool:
        """Whether a held artifact is a directory; false for a single file. Set it when
        registering with `artifact_files`.
        """
        return self._pb.directory

    @property
    def file_count(self) -> int:
        """Output only. The number of files of a held artifact."""
        return self._pb.file_count


class ArtifactFile(_views.View[artifact_service_pb2.ArtifactFile]):
    """One file of an artifact held by the registry."""

    __slots__ = ()
    _message = artifact_service_pb2.ArtifactFile

    @property
    def path(self) -> str:
        """Required. The file's path in the artifact, relative, `/`-separated,
        normalised: no empty, `.` or `..` segment, no leading `/`, no backslash or
        control character; at most 1024 characters. A single-file artifact has one
        file, named after it (`model.onnx`).
        """
        return self._pb.path

    @property
    def sha256(self) -> str:
        """Required. SHA-256 of the file's bytes, 64 lowercase hex digits."""
        return self._pb.sha256

    @property
    def size_bytes(self) -> int:
        """Required. Size of the file in bytes, >= 0."""
        return self._pb.size_bytes

    @property
    def download_url(self) -> str:
        """Output only. A short-lived URL to GET the file's bytes straight from the blob
        store, when GetArtifactManifest was asked for one and the store can give it
        (S3); the bytes are the same, and the caller checks them against sha256 as for
        ReadArtifact.
        """
        return self._pb.download_url


class ArtifactManifest(_views.View[artifact_service_pb2.ArtifactManifest]):
    """The files of an artifact the registry holds."""

    __slots__ = ()
    _message = artifact_service_pb2.ArtifactManifest

    @property
    def version(self) -> str:
        """The version: `groups/{group}/versions/{version}`."""
        return self._pb.version

    @property
    def sha256(self) -> str:
        """The artifact's digest: SHA-256 of the canonical manifest, the version's
        artifact.sha256.
        """
        return self._pb.sha256

    @property
    def directory(self) -> bool:
        """Whether the artifact is a directory (else one file)."""
        return self._pb.directory

    @property
    def files(self) -> tuple[ArtifactFile, ...]:
        """The files, by path."""
        return tuple(ArtifactFile(m) for m in self._pb.files)


class AuditCheckpoint(_views.View[audit_service_pb2.AuditCheckpoint]):
    """The head of a tenant's log as the server signed it. The signature is Ed25519 over
    five lines of UTF-8 text, each ending in a newline: `modelyard audit checkpoint
    v1`, `tenant <tenant>`, `seq <seq>`, `hash <hash>`, `time_us <time in microseconds
    since the epoch>`. Any Ed25519 library checks it with the public key alone; pin
    that key (a checkpoint carries its own only for convenience).
    """

    __slots__ = ()
    _message = audit_service_pb2.AuditCheckpoint

    @property
    def tenant(self) -> str:
        """The tenant whose log this is."""
        return self._pb.tenant

    @property
    def seq(self) -> int:
        """The seq of the newest entry the checkpoint covers."""
        return self._pb.seq

    @property
    def hash(self) -> str:
        """The hash of that entry (64 hex digits)."""
        return self._pb.hash

    @property
    def time(self) -> datetime | None:
        """When the server signed it (microsecond precision)."""
        return _views.timestamp(self._pb, "time")

    @property
    def signature(self) -> bytes:
        """The Ed25519 signature (64 bytes)."""
        return self._pb.signature

    @property
    def public_key(self) -> bytes:
        """The server's Ed25519 public key (32 raw bytes); the same for every checkpoint
        of a registry as long as its key file stays the same. The server checks a
        checkpoint it is sent against its own key, whatever this field says.
        """
        return self._pb.public_key


class AuditEvent(_views.View[resources_pb2.AuditEvent]):
    """One entry of the append-only, hash-chained log: the audit record of one change.
    Entries are written by the server only, so every field is output only. An entry is
    not a resource of its own: it is found by its seq.
    """

    __slots__ = ()
    _message = resources_pb2.AuditEvent

    @property
    def seq(self) -> int:
        """Output only. Position in the tenant's log: starts at 1, gapless, in commit
        order.
        """
        return self._pb.seq

    @property
    def time(self) -> datetime | None:
        """Output only. When the change committed."""
        return _views.timestamp(self._pb, "time")

    @property
    def actor(self) -> str:
        """Output only. The authenticated principal that made the change."""
        return self._pb.actor

    @property
    def action(self) -> Action:
        """Output only. What happened."""
        return Action(self._pb.action)

    @property
    def resource(self) -> str:
        """Output only. The name of the resource changed, e.g. `groups/fraud/versions/3`."""
        return self._pb.resource

    @property
    def group(self) -> str:
        """Output only. The name of the group the resource belongs to, e.g.
        `groups/fraud`; empty for resources outside any group (a webhook for the whole
        tenant).
        """
        return self._pb.group

    @property
    def version(self) -> int:
        """Output only. The version number, for version resources; 0 otherwise."""
        return self._pb.version

    @property
    def before(self) -> dict[str, Any] | None:
        """Output only. The resource before the change, as its JSON form; empty for
        creations.
        """
        return _views.struct(self._pb, "before")

    @property
    def after(self) -> dict[str, Any] | None:
        """Output only. The resource after the change, as its JSON form; empty for
        deletions.
        """
        return _views.struct(self._pb, "after")

    @property
    def reason(self) -> str:
        """Output only. The reason the caller gave, if any."""
        return self._pb.reason

    @property
    def request_id(self) -> str:
        """Output only. The request_id of the request that made the change, if it had
        one.
        """
        return self._pb.request_id

    @property
    def prev_hash(self) -> str:
        """Output only. The hash of the previous entry (64 hex digits; zeros for seq 1)."""
        return self._pb.prev_hash

    @property
    def hash(self) -> str:
        """Output only. sha256(prev_hash || canonical form of this entry), 64 hex digits."""
        return self._pb.hash

    @property
    def related(self) -> tuple[RelatedChange, ...]:
        """Output only. Other resources the same change altered (e.g. the version a
        promotion archived).
        """
        return tuple(RelatedChange(m) for m in self._pb.related)


class ColumnSpec(_views.View[resources_pb2.ColumnSpec]):
    """One column of a model's input or output."""

    __slots__ = ()
    _message = resources_pb2.ColumnSpec

    @property
    def name(self) -> str:
        """Required. Unique within its side of the schema; at most 256 characters."""
        return self._pb.name

    @property
    def type(self) -> ColumnType:
        """Required. The column's data type."""
        return ColumnType(self._pb.type)

    @property
    def nullable(self) -> bool:
        """Whether the column may be missing or null."""
        return self._pb.nullable

    @property
    def min(self) -> float | None:
        """Smallest expected value, for numeric columns."""
        return self._pb.min if self._pb.HasField("min") else None

    @property
    def max(self) -> float | None:
        """Largest expected value, for numeric columns; >= min."""
        return self._pb.max if self._pb.HasField("max") else None

    @property
    def shape(self) -> Sequence[int]:
        """Dimensions of a COLUMN_TYPE_TENSOR; -1 for a variable dimension. At most 32."""
        return _views.ReadOnlyList(self._pb.shape)


class CompareSchemasResponse(_views.View[registry_service_pb2.CompareSchemasResponse]):
    """Response for RegistryService.CompareSchemas."""

    __slots__ = ()
    _message = registry_service_pb2.CompareSchemasResponse

    @property
    def base(self) -> str:
        """The base version's resource name (an alias resolved)."""
        return self._pb.base

    @property
    def candidate(self) -> str:
        """The candidate's resource name (an alias resolved)."""
        return self._pb.candidate

    @property
    def changes(self) -> tuple[SchemaChange, ...]:
        """Every difference, inputs first, each side in the base's column order, then
        columns the candidate added.
        """
        return tuple(SchemaChange(m) for m in self._pb.changes)

    @property
    def backward_compatible(self) -> bool:
        """Whether no change breaks the inputs: what SCHEMA_COMPATIBILITY_BACKWARD
        requires.
        """
        return self._pb.backward_compatible

    @property
    def full_compatible(self) -> bool:
        """Whether no change breaks either side: what SCHEMA_COMPATIBILITY_FULL requires."""
        return self._pb.full_compatible


class CreateTokenResponse(_views.View[token_service_pb2.CreateTokenResponse]):
    """Response for TokenService.CreateToken."""

    __slots__ = ()
    _message = token_service_pb2.CreateTokenResponse

    @property
    def token(self) -> Token:
        """The token issued."""
        return Token(self._pb.token)

    @property
    def secret(self) -> str:
        """The bearer secret: send `authorization: Bearer <secret>`. Shown only here,
        only once.
        """
        return self._pb.secret


class Dependent(_views.View[registry_service_pb2.Dependent]):
    """A version that depends on another, directly or through others."""

    __slots__ = ()
    _message = registry_service_pb2.Dependent

    @property
    def version(self) -> str:
        """The dependent version, `groups/{group}/versions/{version}`."""
        return self._pb.version

    @property
    def stage(self) -> Stage:
        """Its stage now."""
        return Stage(self._pb.stage)

    @property
    def depends_on(self) -> str:
        """The version it names in `lineage.depends_on` on the way to the one asked
        about: the asked version itself for a direct dependent.
        """
        return self._pb.depends_on

    @property
    def depth(self) -> int:
        """How many steps away it is: 1 for a direct dependent."""
        return self._pb.depth


class FairnessEvaluation(_views.View[resources_pb2.FairnessEvaluation]):
    """One fairness measurement on a slice of the evaluation data."""

    __slots__ = ()
    _message = resources_pb2.FairnessEvaluation

    @property
    def slice(self) -> str:
        """The slice, e.g. `age>=65`. At most 256 characters."""
        return self._pb.slice

    @property
    def metric(self) -> str:
        """The metric, e.g. `false_positive_rate`. At most 128 characters."""
        return self._pb.metric

    @property
    def value(self) -> float:
        """The measured value; finite."""
        return self._pb.value


class LegalHold(_views.View[resources_pb2.LegalHold]):
    """A legal hold: the version must be kept, whatever retention policies or callers
    ask.
    """

    __slots__ = ()
    _message = resources_pb2.LegalHold

    @property
    def reason(self) -> str:
        """Output only. Why the version is held (a case or matter reference)."""
        return self._pb.reason

    @property
    def set_by(self) -> str:
        """Output only. The admin who set the hold."""
        return self._pb.set_by

    @property
    def set_time(self) -> datetime | None:
        """Output only. When the hold was set."""
        return _views.timestamp(self._pb, "set_time")


class Lineage(_views.View[resources_pb2.Lineage]):
    """How a model version was made."""

    __slots__ = ()
    _message = resources_pb2.Lineage

    @property
    def code_repository(self) -> str:
        """The code repository, e.g. `https://github.com/acme/fraud`. At most 2048
        characters.
        """
        return self._pb.code_repository

    @property
    def code_commit(self) -> str:
        """The commit of the code that trained the model. At most 128 characters."""
        return self._pb.code_commit

    @property
    def dataset_uri(self) -> str:
        """The training data, e.g. `s3://data/fraud/2026-11-01/`. At most 2048
        characters.
        """
        return self._pb.dataset_uri

    @property
    def dataset_digest(self) -> str:
        """Content digest of the training data, e.g. `sha256:...`. At most 256
        characters.
        """
        return self._pb.dataset_digest

    @property
    def training_job(self) -> str:
        """The training job or pipeline run that produced the model. At most 1024
        characters.
        """
        return self._pb.training_job

    @property
    def parent_versions(self) -> Sequence[str]:
        """Versions this one was derived from (fine-tuned, distilled, retrained), as
        resource names `groups/{group}/versions/{version}`. At most 32; each must
        exist.
        """
        return _views.ReadOnlyList(self._pb.parent_versions)

    @property
    def depends_on(self) -> Sequence[str]:
        """Versions this one needs at inference time (an encoder, a tokenizer, a feature
        model), as resource names. At most 32; each must exist.
        """
        return _views.ReadOnlyList(self._pb.depends_on)


class ListDependentsResponse(_views.View[registry_service_pb2.ListDependentsResponse]):
    """Response for RegistryService.ListDependents."""

    __slots__ = ()
    _message = registry_service_pb2.ListDependentsResponse

    @property
    def dependents(self) -> tuple[Dependent, ...]:
        """Every dependent, nearest first (by depth, then name); each once."""
        return tuple(Dependent(m) for m in self._pb.dependents)


class ModelCard(_views.View[resources_pb2.ModelCard]):
    """What a reader needs to know before using the model. Each text field at most 65536
    characters.
    """

    __slots__ = ()
    _message = resources_pb2.ModelCard

    @property
    def intended_use(self) -> str:
        """What the model is for and who should use it."""
        return self._pb.intended_use

    @property
    def limitations(self) -> str:
        """Where the model must not be used, and its known weaknesses."""
        return self._pb.limitations

    @property
    def training_data(self) -> str:
        """What the model was trained on."""
        return self._pb.training_data

    @property
    def fairness_evaluations(self) -> tuple[FairnessEvaluation, ...]:
        """Fairness measurements. At most 256."""
        return tuple(FairnessEvaluation(m) for m in self._pb.fairness_evaluations)

    @property
    def extra(self) -> dict[str, Any] | None:
        """Anything else, as JSON. At most 65536 bytes serialized."""
        return _views.struct(self._pb, "extra")


class ModelGroup(_views.View[resources_pb2.ModelGroup]):
    """A model group: the named container// A model group: the named container of the
    numbered versions of one model (SageMaker: model package group; MLflow: registered
    model).
    """

    __slots__ = ()
    _message = resources_pb2.ModelGroup

    @property
    def name(self) -> str:
        """Identifier. Resource name, `groups/{group}`. {group}: lowercase letters,
        digits and `-`, 1-63 characters, starting with a letter. Set by the server
        from the create request's id; names the group to change in an update.
        """
        return self._pb.name

    @property
    def description(self) -> str:
        """What the model is for. At most 4096 characters."""
        return self._pb.description

    @property
    def tags(self) -> Mapping[str, str]:
        """Free-form labels. At most 64 entries; keys match [A-Za-z0-9_.-]{1,128} and
        start with a letter or `_`; values at most 1024 characters.
        """
        return _views.ReadOnlyMap(self._pb.tags)

    @property
    def latest_version(self) -> int:
        """Output only. The number of the newest version registered (0 when none).
        Numbers are never reused, even after a version is deleted.
        """
        return self._pb.latest_version

    @property
    def created_by(self) -> str:
        """Output only. The principal that created the group."""
        return self._pb.created_by

    @property
    def create_time(self) -> datetime | None:
        """Output only. When the group was created."""
        return _views.timestamp(self._pb, "create_time")

    @property
    def update_time(self) -> datetime | None:
        """Output only. When the group was last changed."""
        return _views.timestamp(self._pb, "update_time")

    @property
    def etag(self) -> str:
        """Set by the server, changed on every write. Send it back on update or delete to
        make the request fail with ABORTED (reason STALE_ETAG) if somebody else
        changed the group first.
        """
        return self._pb.etag


class ModelSchema(_views.View[resources_pb2.ModelSchema]):
    """The contract of a model's inputs and outputs. At most 1024 columns on each side."""

    __slots__ = ()
    _message = resources_pb2.ModelSchema

    @property
    def inputs(self) -> tuple[ColumnSpec, ...]:
        """The columns the model reads, in order."""
        return tuple(ColumnSpec(m) for m in self._pb.inputs)

    @property
    def outputs(self) -> tuple[ColumnSpec, ...]:
        """The columns the model writes, in order."""
        return tuple(ColumnSpec(m) for m in self._pb.outputs)


class ModelVersion(_views.View[resources_pb2.ModelVersion]):
    """One immutable, numbered version of a model in a group (SageMaker: model package).
    What describes how the model was made (artifact, inference image, metrics,
    hyperparameters, lineage, schema) never changes once registered; description, tags
    and the model card may be updated. Its JSON form (as `AuditEvent.before` and
    `after` carry it) is at most 512 KiB, on registration and after every update.
    """

    __slots__ = ()
    _message = resources_pb2.ModelVersion

    @property
    def name(self) -> str:
        """Identifier. Resource name, `groups/{group}/versions/{version}`. Assigned by
        the server on registration; names the version to change in an update.
        """
        return self._pb.name

    @property
    def version(self) -> int:
        """Output only. The version number: assigned by the server, starting at 1,
        gapless per group, never reused.
        """
        return self._pb.version

    @property
    def artifact(self) -> Artifact:
        """Required, immutable. The model's bytes."""
        return Artifact(self._pb.artifact)

    @property
    def inference_image(self) -> str:
        """Immutable. The container image that serves the model. At most 1024 characters."""
        return self._pb.inference_image

    @property
    def metrics(self) -> Mapping[str, float]:
        """Immutable. Evaluation metrics, name -> finite value. At most 256 entries;
        names as tag keys.
        """
        return _views.ReadOnlyMap(self._pb.metrics)

    @property
    def hyperparameters(self) -> Mapping[str, str]:
        """Immutable. Training hyperparameters. At most 256 entries; names as tag keys;
        values at most 1024 characters.
        """
        return _views.ReadOnlyMap(self._pb.hyperparameters)

    @property
    def tags(self) -> Mapping[str, str]:
        """Free-form labels. At most 64 entries; keys match [A-Za-z0-9_.-]{1,128} and
        start with a letter or `_`; values at most 1024 characters.
        """
        return _views.ReadOnlyMap(self._pb.tags)

    @property
    def lineage(self) -> Lineage:
        """Immutable. How the model was made."""
        return Lineage(self._pb.lineage)

    @property
    def model_card(self) -> ModelCard:
        """The model card."""
        return ModelCard(self._pb.model_card)

    @property
    def schema(self) -> ModelSchema:
        """Immutable. The input/output contract."""
        return ModelSchema(self._pb.schema)

    @property
    def description(self) -> str:
        """What changed in this version. At most 4096 characters."""
        return self._pb.description

    @property
    def approval_status(self) -> ApprovalStatus:
        """Output only. Changed through the approval workflow."""
        return ApprovalStatus(self._pb.approval_status)

    @property
    def stage(self) -> Stage:
        """Output only. Changed through stage transitions."""
        return Stage(self._pb.stage)

    @property
    def aliases(self) -> Sequence[str]:
        """Output only. The aliases that point at this version, by name
        (`groups/{group}/aliases/{alias}`).
        """
        return _views.ReadOnlyList(self._pb.aliases)

    @property
    def created_by(self) -> str:
        """Output only. The principal that registered the version."""
        return self._pb.created_by

    @property
    def create_time(self) -> datetime | None:
        """Output only. When the version was registered."""
        return _views.timestamp(self._pb, "create_time")

    @property
    def update_time(self) -> datetime | None:
        """Output only. When the version was last changed."""
        return _views.timestamp(self._pb, "update_time")

    @property
    def etag(self) -> str:
        """Set by the server, changed on every write. Send it back on update or delete to
        make the request fail with ABORTED (reason STALE_ETAG) if somebody else
        changed the version first.
        """
        return self._pb.etag

    @property
    def approvers(self) -> Sequence[str]:
        """Output only. The distinct reviewers whose approvals count toward the group's
        required number of approvals (since registration or the last rejection).
        """
        return _views.ReadOnlyList(self._pb.approvers)

    @property
    def last_decision(self) -> ApprovalDecision:
        """Output only. The most recent approval decision, if any."""
        return ApprovalDecision(self._pb.last_decision)

    @property
    def stage_time(self) -> datetime | None:
        """Output only. When the version entered its current stage."""
        return _views.timestamp(self._pb, "stage_time")

    @property
    def production_end_time(self) -> datetime | None:
        """Output only. When the version last left PRODUCTION; unset if it never did.
        Rollback restores the version that left production most recently.
        """
        return _views.timestamp(self._pb, "production_end_time")

    @property
    def legal_hold(self) -> LegalHold:
        """Output only. The legal hold on the version, if any: while it is set nobody can
        delete the version. Set and cleared by an admin
        (RetentionService.SetLegalHold, ClearLegalHold).
        """
        return LegalHold(self._pb.legal_hold)


class PlanRetentionResponse(_views.View[retention_service_pb2.PlanRetentionResponse]):
    """Response for RetentionService.PlanRetention."""

    __slots__ = ()
    _message = retention_service_pb2.PlanRetentionResponse

    @property
    def policy(self) -> RetentionPolicy:
        """The policy the plan follows (the group's, or the tenant's default)."""
        return RetentionPolicy(self._pb.policy)

    @property
    def actions(self) -> tuple[RetentionAction, ...]:
        """Every version a rule applies to, by version number: ARCHIVE, DELETE, or KEEP
        with what protects it.
        """
        return tuple(RetentionAction(m) for m in self._pb.actions)


class RelatedChange(_views.View[resources_pb2.RelatedChange]):
    """Another resource that the same change altered, in the same transaction."""

    __slots__ = ()
    _message = resources_pb2.RelatedChange

    @property
    def resource(self) -> str:
        """Output only. The resource's name, e.g. the production version a promotion
        archived.
        """
        return self._pb.resource

    @property
    def before(self) -> dict[str, Any] | None:
        """Output only. The resource before the change, as its JSON form."""
        return _views.struct(self._pb, "before")

    @property
    def after(self) -> dict[str, Any] | None:
        """Output only. The resource after the change, as its JSON form."""
        return _views.struct(self._pb, "after")


class RetentionAction(_views.View[retention_service_pb2.RetentionAction]):
    """One version and what retention does to it, and why."""

    __slots__ = ()
    _message = retention_service_pb2.RetentionAction

    @property
    def version(self) -> str:
        """The version, `groups/{group}/versions/{version}`."""
        return self._pb.version

    @property
    def outcome(self) -> RetentionOutcome:
        """What happens to it."""
        return RetentionOutcome(self._pb.outcome)

    @property
    def reason(self) -> str:
        """Why: the rule that applies, or what protects the version."""
        return self._pb.reason

    @property
    def stage(self) -> Stage:
        """The version's stage when the plan was made."""
        return Stage(self._pb.stage)


class RetentionPolicy(_views.View[retention_service_pb2.RetentionPolicy]):
    """How long a group's versions are kept. A zero field turns its rule off."""

    __slots__ = ()
    _message = retention_service_pb2.RetentionPolicy

    @property
    def name(self) -> str:
        """Identifier. `groups/{group}/retentionPolicy`, or `groups/-/retentionPolicy`
        for the tenant's default, which applies to every group without a policy of its
        own.
        """
        return self._pb.name

    @property
    def keep_newest(self) -> int:
        """Never archive or delete the group's newest this many versions. 0-10000."""
        return self._pb.keep_newest

    @property
    def archive_staging_after_days(self) -> int:
        """Archive a STAGING version that has not been promoted within this many days of
        entering STAGING. 0 (off) to 36500.
        """
        return self._pb.archive_staging_after_days

    @property
    def delete_archived_after_days(self) -> int:
        """Delete an ARCHIVED version once archived this many days. 0 (off) to 36500."""
        return self._pb.delete_archived_after_days

    @property
    def artifact_hold_days(self) -> int:
        """Keep archived versions (and so their artifact bytes) at least this many days
        after archiving, whatever `delete_archived_after_days` says: regulated finance
        keeps them seven years (2557 days). 0 to 36500.
        """
        return self._pb.artifact_hold_days

    @property
    def inherited(self) -> bool:
        """Output only. Whether this is the tenant's default shown for a group without
        its own.
        """
        return self._pb.inherited

    @property
    def update_time(self) -> datetime | None:
        """Output only. When the policy was last changed; unset while it was never set."""
        return _views.timestamp(self._pb, "update_time")

    @property
    def etag(self) -> str:
        """Set by the server, changed on every write. Send it back on update to detect
        concurrent changes (ABORTED, STALE_ETAG).
        """
        return self._pb.etag


class RollbackProductionResponse(_views.View[registry_service_pb2.RollbackProductionResponse]):
    """Response for RegistryService.RollbackProduction."""

    __slots__ = ()
    _message = registry_service_pb2.RollbackProductionResponse

    @property
    def restored_version(self) -> ModelVersion:
        """The version now in production."""
        return ModelVersion(self._pb.restored_version)

    @property
    def archived_versions(self) -> tuple[ModelVersion, ...]:
        """The versions that were in production and are now archived."""
        return tuple(ModelVersion(m) for m in self._pb.archived_versions)


class SchemaChange(_views.View[resources_pb2.SchemaChange]):
    """One difference between the schemas of two versions, and whether it breaks callers."""

    __slots__ = ()
    _message = resources_pb2.SchemaChange

    @property
    def side(self) -> SchemaSide:
        """The side of the schema."""
        return SchemaSide(self._pb.side)

    @property
    def column(self) -> str:
        """The column's name."""
        return self._pb.column

    @property
    def kind(self) -> SchemaChangeKind:
        """What changed."""
        return SchemaChangeKind(self._pb.kind)

    @property
    def before(self) -> ColumnSpec:
        """The column in the base version's schema; unset when added."""
        return ColumnSpec(self._pb.before)

    @property
    def after(self) -> ColumnSpec:
        """The column in the candidate's schema; unset when removed."""
        return ColumnSpec(self._pb.after)

    @property
    def breaking(self) -> bool:
        """Whether it breaks callers: on the inputs, a request the base accepts that the
        candidate rejects (BACKWARD); on the outputs, a value the candidate may write
        that a reader of the base's outputs does not expect (FULL).
        """
        return self._pb.breaking

    @property
    def description(self) -> str:
        """The change in words, e.g. `input 'age' changed type from INTEGER to STRING`."""
        return self._pb.description


class Token(_views.View[token_service_pb2.Token]):
    """A bearer token: who it identifies and what it may do. Never its secret."""

    __slots__ = ()
    _message = token_service_pb2.Token

    @property
    def name(self) -> str:
        """Identifier. Resource name, `tokens/{token}`; the id is assigned by the server."""
        return self._pb.name

    @property
    def subject(self) -> str:
        """Required. Who the token identifies, e.g. `alice` or `ci-deployer`: the actor
        of the log entries its calls write. 1 to 256 printable characters.
        """
        return self._pb.subject

    @property
    def roles(self) -> Sequence[str]:
        """Required. Role bindings: `viewer`, `contributor`, `approver`, `deployer` or
        `admin` for the whole tenant, or `role@group` for one group.
        """
        return _views.ReadOnlyList(self._pb.roles)

    @property
    def expire_time(self) -> datetime | None:
        """When the token stops working. On create: optional (or give `ttl` in the
        request); unset, the server's default applies. Unset on a token that never
        expires.
        """
        return _views.timestamp(self._pb, "expire_time")

    @property
    def created_by(self) -> str:
        """Output only. The principal that issued the token."""
        return self._pb.created_by

    @property
    def create_time(self) -> datetime | None:
        """Output only. When the token was issued."""
        return _views.timestamp(self._pb, "create_time")

    @property
    def last_use_time(self) -> datetime | None:
        """Output only. When a call last presented the token, to within a minute; unset
        if never.
        """
        return _views.timestamp(self._pb, "last_use_time")

    @property
    def revoke_time(self) -> datetime | None:
        """Output only. When the token was revoked; unset while it is not."""
        return _views.timestamp(self._pb, "revoke_time")

    @property
    def revoked_by(self) -> str:
        """Output only. The principal that revoked the token; empty while it is not
        revoked.
        """
        return self._pb.revoked_by


class TransitionModelVersionStageResponse(
    _views.View[registry_service_pb2.TransitionModelVersionStageResponse]
):
    """Response for RegistryService.TransitionModelVersionStage."""

    __slots__ = ()
    _message = registry_service_pb2.TransitionModelVersionStageResponse

    @property
    def model_version(self) -> ModelVersion:
        """The version after the move."""
        return ModelVersion(self._pb.model_version)

    @property
    def archived_versions(self) -> tuple[ModelVersion, ...]:
        """Versions the move archived (the production version a promotion replaced)."""
        return tuple(ModelVersion(m) for m in self._pb.archived_versions)


class VerifyAuditLogResponse(_views.View[audit_service_pb2.VerifyAuditLogResponse]):
    """Response for AuditService.VerifyAuditLog."""

    __slots__ = ()
    _message = audit_service_pb2.VerifyAuditLogResponse

    @property
    def ok(self) -> bool:
        """True when every entry's keyed hash matches its content and its predecessor,
        the log extends the checkpoint given, and replaying it gives the stored state.
        """
        return self._pb.ok

    @property
    def entries_checked(self) -> int:
        """How many entries this call checked (those after verified_after_seq)."""
        return self._pb.entries_checked

    @property
    def head_seq(self) -> int:
        """The seq of the newest entry."""
        return self._pb.head_seq

    @property
    def head_hash(self) -> str:
        """The hash of the newest entry."""
        return self._pb.head_hash

    @property
    def first_broken_seq(self) -> int:
        """The first entry whose stored hash does not match, or whose prev_hash does not
        match its predecessor's hash, or that is missing from the sequence; 0 when ok.
        """
        return self._pb.first_broken_seq

    @property
    def problem(self) -> str:
        """What is wrong with the first broken entry or resource; empty when ok."""
        return self._pb.problem

    @property
    def first_bad_resource(self) -> str:
        """The first resource (by name) whose stored state differs from what replaying
        the log gives, e.g. `groups/fraud/versions/3` approved by editing its row;
        empty when the state matches or when the chain itself is broken
        (first_broken_seq says where).
        """
        return self._pb.first_bad_resource

    @property
    def verified_after_seq(self) -> int:
        """The seq the chain check started after: 0 for a full check, else the head
        verified last.
        """
        return self._pb.verified_after_seq


class Webhook(_views.View[webhook_service_pb2.Webhook]):
    """An HTTP endpoint that receives the events of a group, or of the whole tenant."""

    __slots__ = ()
    _message = webhook_service_pb2.Webhook

    @property
    def name(self) -> str:
        """Identifier. Resource name, `webhooks/{webhook}`. The id is assigned by the
        server on create; the name says which webhook to change in an update.
        """
        return self._pb.name

    @property
    def url(self) -> str:
        """Required. Where deliveries are POSTed: an `http://` or `https://` URL, at most
        2048 characters.
        """
        return self._pb.url

    @property
    def secret(self) -> str:
        """Input only. Required on create: the key of the signatures, 16 to 256
        characters. Never returned.
        """
        return self._pb.secret

    @property
    def group(self) -> str:
        """Only events of this group, by name (`groups/{group}`, e.g. `groups/fraud`);
        empty: every event of the tenant.
        """
        return self._pb.group

    @property
    def actions(self) -> tuple[Action, ...]:
        """Only events with these actions; empty: all actions."""
        return tuple(Action(v) for v in self._pb.actions)

    @property
    def description(self) -> str:
        """What the webhook is for. At most 4096 characters."""
        return self._pb.description

    @property
    def cursor(self) -> int:
        """Output only. The seq of the last log entry turned into a delivery (or skipped
        by the filters): every later event that matches will be delivered.
        """
        return self._pb.cursor

    @property
    def created_by(self) -> str:
        """Output only. The principal that created the webhook."""
        return self._pb.created_by

    @property
    def create_time(self) -> datetime | None:
        """Output only. When the webhook was registered."""
        return _views.timestamp(self._pb, "create_time")

    @property
    def etag(self) -> str:
        """Set by the server, changed on every write. Send it back on update or delete to
        detect concurrent changes (ABORTED, STALE_ETAG).
        """
        return self._pb.etag

    @property
    def update_time(self) -> datetime | None:
        """Output only. When the webhook was last updated; unset until then."""
        return _views.timestamp(self._pb, "update_time")


class WebhookDelivery(_views.View[webhook_service_pb2.WebhookDelivery]):
    """One event on its way to one webhook."""

    __slots__ = ()
    _message = webhook_service_pb2.WebhookDelivery

    @property
    def name(self) -> str:
        """Identifier. Resource name, `webhooks/{webhook}/deliveries/{delivery}`, where
        {delivery} is the seq of the event delivered: one delivery per webhook and
        event.
        """
        return self._pb.name

    @property
    def seq(self) -> int:
        """Output only. The seq of the event delivered."""
        return self._pb.seq

    @property
    def action(self) -> Action:
        """Output only. The event's action."""
        return Action(self._pb.action)

    @property
    def resource(self) -> str:
        """Output only. The name of the resource the event is about, e.g.
        `groups/fraud/versions/3`.
        """
        return self._pb.resource

    @property
    def state(self) -> DeliveryState:
        """Output only. Where the delivery stands."""
        return DeliveryState(self._pb.state)

    @property
    def attempts(self) -> int:
        """Output only. Attempts made since the delivery was created or last redelivered."""
        return self._pb.attempts

    @property
    def last_response_code(self) -> int:
        """Output only. The HTTP status of the last attempt; 0 when none came back."""
        return self._pb.last_response_code

    @property
    def last_error(self) -> str:
        """Output only. Why the last attempt failed, e.g. `HTTP 503` or `connection
        refused`; empty on success.
        """
        return self._pb.last_error

    @property
    def create_time(self) -> datetime | None:
        """Output only. When the delivery was created (after its event committed)."""
        return _views.timestamp(self._pb, "create_time")

    @property
    def last_attempt_time(self) -> datetime | None:
        """Output only. When the last attempt was made; unset before the first."""
        return _views.timestamp(self._pb, "last_attempt_time")

    @property
    def next_attempt_time(self) -> datetime | None:
        """Output only. When the next attempt is due, for PENDING deliveries."""
        return _views.timestamp(self._pb, "next_attempt_time")
