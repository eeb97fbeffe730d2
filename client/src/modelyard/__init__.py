"""modelyard: the typed Python SDK of the modelyard model registry.

::

    import modelyard

    with modelyard.Registry() as registry:
        version = registry.get_version("fraud", "latest")
        if version.stage == modelyard.Stage.STAGE_PRODUCTION:
            ...

:class:`Registry` (sync) and :class:`AsyncRegistry` (asyncio) are the clients; the
resources they return are the generated protobuf messages re-exported here; failures
raise subclasses of :class:`ModelyardError`.
"""

from importlib import metadata as _metadata

from modelyard.aio import AsyncRegistry
from modelyard.client import Registry
from modelyard.errors import (
    Aborted,
    AliasNotFound,
    AlreadyExists,
    Cancelled,
    CursorAheadOfLog,
    DatabaseUnavailable,
    DataLoss,
    DeadlineExceeded,
    DuplicateArtifact,
    FailedPrecondition,
    ImmutableField,
    Internal,
    InternalError,
    InvalidArgument,
    InvalidField,
    InvalidFilter,
    InvalidOrderBy,
    InvalidPageToken,
    InvalidTransition,
    MissingPermission,
    ModelGroupAlreadyExists,
    ModelGroupNotEmpty,
    ModelGroupNotFound,
    ModelVersionNotFound,
    ModelyardError,
    NoRollbackTarget,
    NotFound,
    OutOfRange,
    PermissionDenied,
    ProductionLimitReached,
    ReferencedVersionNotFound,
    RequestIdReused,
    ResourceExhausted,
    SelfApprovalForbidden,
    ServerShuttingDown,
    StaleEtag,
    SubscriberTooSlow,
    Unauthenticated,
    Unavailable,
    Unimplemented,
    Unknown,
    VersionInProduction,
    VersionNotApproved,
    VersionReferenced,
    WebhookDeliveryNotFound,
    WebhookNotFound,
)
from modelyard.names import group_name, split_version_name, version_name
from modelyard.pagers import (
    AsyncAuditEventsPager,
    AsyncModelGroupsPager,
    AsyncModelVersionsPager,
    AsyncPager,
    AuditEventsPager,
    ModelGroupsPager,
    ModelVersionsPager,
    Pager,
)
from modelyard.transport import RetryPolicy, discover_token, resolve_address
from modelyard.v1.audit_service_pb2 import VerifyAuditLogResponse
from modelyard.v1.errors_pb2 import ErrorReason
from modelyard.v1.resources_pb2 import (
    Action,
    ApprovalStatus,
    Artifact,
    ArtifactFormat,
    AuditEvent,
    ColumnSpec,
    ColumnType,
    FairnessEvaluation,
    Lineage,
    ModelCard,
    ModelGroup,
    ModelSchema,
    ModelVersion,
    Stage,
)

try:
    __version__ = _metadata.version("modelyard-client")
except _metadata.PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0+unknown"

__all__ = [
    "Aborted",
    "Action",
    "AliasNotFound",
    "AlreadyExists",
    "ApprovalStatus",
    "Artifact",
    "ArtifactFormat",
    "AsyncAuditEventsPager",
    "AsyncModelGroupsPager",
    "AsyncModelVersionsPager",
    "AsyncPager",
    "AsyncRegistry",
    "AuditEvent",
    "AuditEventsPager",
    "Cancelled",
    "ColumnSpec",
    "ColumnType",
    "CursorAheadOfLog",
    "DataLoss",
    "DatabaseUnavailable",
    "DeadlineExceeded",
    "DuplicateArtifact",
    "ErrorReason",
    "FailedPrecondition",
    "FairnessEvaluation",
    "ImmutableField",
    "Internal",
    "InternalError",
    "InvalidArgument",
    "InvalidField",
    "InvalidFilter",
    "InvalidOrderBy",
    "InvalidPageToken",
    "InvalidTransition",
    "Lineage",
    "MissingPermission",
    "ModelCard",
    "ModelGroup",
    "ModelGroupAlreadyExists",
    "ModelGroupNotEmpty",
    "ModelGroupNotFound",
    "ModelGroupsPager",
    "ModelSchema",
    "ModelVersion",
    "ModelVersionNotFound",
    "ModelVersionsPager",
    "ModelyardError",
    "NoRollbackTarget",
    "NotFound",
    "OutOfRange",
    "Pager",
    "PermissionDenied",
    "ProductionLimitReached",
    "ReferencedVersionNotFound",
    "Registry",
    "RequestIdReused",
    "ResourceExhausted",
    "RetryPolicy",
    "SelfApprovalForbidden",
    "ServerShuttingDown",
    "Stage",
    "StaleEtag",
    "SubscriberTooSlow",
    "Unauthenticated",
    "Unavailable",
    "Unimplemented",
    "Unknown",
    "VerifyAuditLogResponse",
    "VersionInProduction",
    "VersionNotApproved",
    "VersionReferenced",
    "WebhookDeliveryNotFound",
    "WebhookNotFound",
    "__version__",
    "discover_token",
    "group_name",
    "resolve_address",
    "split_version_name",
    "version_name",
]
