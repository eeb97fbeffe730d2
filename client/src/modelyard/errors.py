"""Typed exceptions for every error the registry can return.

The server sends a canonical status code and, in the ``grpc-status-details-bin`` trailer, a
``google.rpc.Status`` whose details carry an ``ErrorInfo`` (domain ``modelyard.dev``, reason
a name of ``modelyard.v1.ErrorReason``) and, for bad fields, a ``BadRequest``.
:func:`from_rpc_error` turns that into one exception class per status code and, beneath it,
one class per reason, so callers can catch as broadly or as narrowly as they need::

    try:
        registry.register("fraud", uri=..., sha256=...)
    except modelyard.DuplicateArtifact as err:
        print("already registered as", err.existing_version)
    except modelyard.NotFound:
        ...
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

import grpc
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2

if TYPE_CHECKING:
    from modelyard.transport import TlsFiles

__all__ = [
    "ERROR_DOMAIN",
    "REASON_CLASSES",
    "STATUS_CLASSES",
    "Aborted",
    "AliasNotFound",
    "AlreadyExists",
    "ArtifactFileNotFound",
    "ArtifactNotHeld",
    "AuditCheckpointInvalid",
    "AuditLogBroken",
    "BlobLost",
    "BlobsMissing",
    "Cancelled",
    "CursorAheadOfLog",
    "DataLoss",
    "DatabaseUnavailable",
    "DeadlineExceeded",
    "DigestMismatch",
    "DuplicateArtifact",
    "FailedPrecondition",
    "HasDependents",
    "ImmutableField",
    "Internal",
    "InternalError",
    "InvalidArgument",
    "InvalidField",
    "InvalidFilter",
    "InvalidOrderBy",
    "InvalidPageToken",
    "InvalidTransition",
    "MalformedRequest",
    "MissingPermission",
    "ModelGroupAlreadyExists",
    "ModelGroupNotEmpty",
    "ModelGroupNotFound",
    "ModelVersionNotFound",
    "ModelyardError",
    "NoRollbackTarget",
    "NotFound",
    "OutOfRange",
    "PermissionDenied",
    "ProductionLimitReached",
    "ReferencedVersionNotFound",
    "RequestIdReused",
    "ResourceExhausted",
    "SchemaIncompatible",
    "SelfApprovalForbidden",
    "ServerShuttingDown",
    "StaleEtag",
    "SubscriberTooSlow",
    "TlsHandshakeFailed",
    "TooManyStreams",
    "Unauthenticated",
    "Unavailable",
    "Unimplemented",
    "Unknown",
    "UploadBusy",
    "VersionInProduction",
    "VersionNotApproved",
    "VersionOnLegalHold",
    "VersionReferenced",
    "WebhookDeliveryNotFound",
    "WebhookNotFound",
    "WriteOffsetMismatch",
    "from_rpc_error",
    "handshake_refused",
    "unreachable",
]

#: The ``ErrorInfo.domain`` of every error modelyard raises.
ERROR_DOMAIN = "modelyard.dev"

_STATUS_DETAILS_KEY = "grpc-status-details-bin"


class ModelyardError(Exception):
    """An error returned by the registry (or by gRPC on the way to it).

    Attributes:
        code: the gRPC status code.
        reason: the ``ErrorInfo`` reason (a ``modelyard.v1.ErrorReason`` name such as
            ``MODEL_GROUP_NOT_FOUND``); the status code's name when the error carried no
            ``ErrorInfo`` (for example ``UNAVAILABLE`` when no server answered).
        message: the server's one-sentence description of what was wrong.
        metadata: the ``ErrorInfo`` metadata, e.g. ``{"existing_version": ...}``.
        field_violations: ``(field, description)`` pairs from a ``google.rpc.BadRequest``.
        status: the decoded ``google.rpc.Status``, when the server sent one.
        rpc_error: the ``grpc.RpcError`` this error was made from, if any. It is not chained
            as ``__cause__``: what a user reads first is the reason and the message.
    """

    #: The status code this class stands for; the base class stands for any.
    grpc_code: ClassVar[grpc.StatusCode | None] = None

    def __init__(
        self,
        message: str,
        *,
        code: grpc.StatusCode | None = None,
        reason: str = "",
        metadata: Mapping[str, str] | None = None,
        field_violations: Iterable[tuple[str, str]] = (),
        status: Message | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code or type(self).grpc_code or grpc.StatusCode.UNKNOWN
        self.reason = reason or self.code.name
        self.message = message
        self.metadata: dict[str, str] = dict(metadata or {})
        self.field_violations: list[tuple[str, str]] = list(field_violations)
        self.status = status
        self.rpc_error: grpc.RpcError | None = None

    def __str__(self) -> str:
        text = f"{self.reason}: {self.message}"
        # The server's message usually is the first violation already: say each thing once.
        for path, description in self.field_violations:
            if description not in self.message:
                text += f"\n  {path}: {description}"
        return text

    def __repr__(self) -> str:
        return f"{type(self).__name__}(reason={self.reason!r}, message={self.message!r})"


# One class per status code. Their names follow grpc.StatusCode, as google.api_core's do.


class Cancelled(ModelyardError):
    """The call was cancelled, usually by the caller."""

    grpc_code = grpc.StatusCode.CANCELLED


class Unknown(ModelyardError):
    """An error the server did not classify."""

    grpc_code = grpc.StatusCode.UNKNOWN


class InvalidArgument(ModelyardError):
    """The request is malformed; ``field_violations`` says which fields are wrong."""

    grpc_code = grpc.StatusCode.INVALID_ARGUMENT


class DeadlineExceeded(ModelyardError):
    """The call did not finish before its timeout."""

    grpc_code = grpc.StatusCode.DEADLINE_EXCEEDED


class NotFound(ModelyardError):
    """The named resource does not exist."""

    grpc_code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(ModelyardError):
    """The resource to create exists already."""

    grpc_code = grpc.StatusCode.ALREADY_EXISTS


class PermissionDenied(ModelyardError):
    """The caller is known but may not do this."""

    grpc_code = grpc.StatusCode.PERMISSION_DENIED


class ResourceExhausted(ModelyardError):
    """A quota or a buffer ran out."""

    grpc_code = grpc.StatusCode.RESOURCE_EXHAUSTED


class FailedPrecondition(ModelyardError):
    """The resource is not in a state that allows the call."""

    grpc_code = grpc.StatusCode.FAILED_PRECONDITION


class Aborted(ModelyardError):
    """The call lost a race with another writer; read again and retry."""

    grpc_code = grpc.StatusCode.ABORTED


class OutOfRange(ModelyardError):
    """A value is past the end of a valid range."""

    grpc_code = grpc.StatusCode.OUT_OF_RANGE


class Unimplemented(ModelyardError):
    """The server does not implement this method (an older server?)."""

    grpc_code = grpc.StatusCode.UNIMPLEMENTED


class Internal(ModelyardError):
    """The server failed; this is a bug in the server, not in the request."""

    grpc_code = grpc.StatusCode.INTERNAL


class Unavailable(ModelyardError):
    """No server answered; retried calls gave up after the client's ``max_attempts``."""

    grpc_code = grpc.StatusCode.UNAVAILABLE


class DataLoss(ModelyardError):
    """Data was lost or corrupted."""

    grpc_code = grpc.StatusCode.DATA_LOSS


class Unauthenticated(ModelyardError):
    """No bearer token was sent, or the server does not know it (reason UNAUTHENTICATED)."""

    grpc_code = grpc.StatusCode.UNAUTHENTICATED


# One class per modelyard.v1.ErrorReason, beneath the class of the code it comes with.


class InvalidField(InvalidArgument):
    """One or more fields are invalid; ``field_violations`` lists them."""


class InvalidFilter(InvalidArgument):
    """The list filter does not parse or names an unknown field."""


class InvalidOrderBy(InvalidArgument):
    """order_by does not parse or names a field that cannot be ordered by."""


class InvalidPageToken(InvalidArgument):
    """The page token is malformed or belongs to another query."""


class RequestIdReused(InvalidArgument):
    """The request_id was already used for a different request."""


class MalformedRequest(InvalidArgument):
    """The request's bytes are not the method's request message (corrupt, or not UTF-8)."""


class ImmutableField(InvalidArgument):
    """The update mask names a field that is immutable or output only."""


class TokenExpired(Unauthenticated):
    """The bearer token expired; an admin issues a new one."""


class TokenRevoked(Unauthenticated):
    """The bearer token was revoked; an admin issues a new one."""


class TooManyFailedAttempts(ResourceExhausted):
    """Too many failed authentications came from this address; retry after the
    ``retry_after_seconds`` of ``metadata``."""


class MissingPermission(PermissionDenied):
    """The caller's roles do not allow the action."""


class SelfApprovalForbidden(PermissionDenied):
    """The group's policy forbids approving a version one registered oneself."""


class ModelGroupNotFound(NotFound):
    """No such model group."""


class ModelVersionNotFound(NotFound):
    """No such model version."""


class AliasNotFound(NotFound):
    """No such alias."""


class WebhookNotFound(NotFound):
    """No such webhook."""


class WebhookDeliveryNotFound(NotFound):
    """No such webhook delivery."""


class TokenNotFound(NotFound):
    """No such token."""


class ModelGroupAlreadyExists(AlreadyExists):
    """A model group with this id exists."""


class DuplicateArtifact(AlreadyExists):
    """A version with the same artifact sha256 exists in the group.

    ``existing_version`` names that version, as the server sent it in the ErrorInfo
    metadata (empty if it did not).
    """

    @property
    def existing_version(self) -> str:
        """The version already registered with these bytes."""
        return self.metadata.get("existing_version", "")


class StaleEtag(Aborted):
    """The etag sent is not the resource's current etag; read it again and retry."""


class ModelGroupNotEmpty(FailedPrecondition):
    """The group still has versions; delete them or pass ``force=True``."""


class VersionInProduction(FailedPrecondition):
    """The version is in production; roll back or archive it first."""


class ReferencedVersionNotFound(FailedPrecondition):
    """A version named in the lineage does not exist."""


class InvalidTransition(FailedPrecondition):
    """The stage transition is not in the lifecycle table."""


class VersionNotApproved(FailedPrecondition):
    """The action needs an APPROVED version."""


class NoRollbackTarget(FailedPrecondition):
    """There is no earlier production version to roll back to."""


class VersionReferenced(FailedPrecondition):
    """The version is used by another (depends_on or parent_versions)."""


class SchemaIncompatible(FailedPrecondition):
    """The group's schema_compatibility policy refuses the promotion: the version's schema
    breaks callers of a production version (``.metadata["columns"]`` names the columns)."""


class ProductionLimitReached(FailedPrecondition):
    """The group's policy allows no more versions in production at once."""


class SubscriberTooSlow(ResourceExhausted):
    """The subscriber fell too far behind; resume from its cursor."""


class TooManyStreams(ResourceExhausted):
    """The caller has as many event streams open as a principal may (``metadata["limit"]``);
    close one, or share one stream between consumers."""


class CursorAheadOfLog(OutOfRange):
    """The stream's ``start_after`` is beyond the head of the log: the cursor comes from
    another log (another database, or one restored from an older backup)."""


class DatabaseUnavailable(Unavailable):
    """The server's database cannot be reached or is busy; calls are retried as for any
    UNAVAILABLE, with the same request_id."""


class ServerShuttingDown(Unavailable):
    """The server is shutting down; calls are retried, and a watch resumes from its cursor."""


class TlsHandshakeFailed(Unavailable):
    """The channel's TLS handshake with the server failed: a certificate not trusted, or
    not for the address dialed; TLS on one side only; a client certificate refused. The
    message says which, and what to pass."""


class DigestMismatch(InvalidArgument):
    """Bytes do not have the sha256 or size announced for them: an upload the server
    refused (it kept nothing), or a download that did not match the manifest."""


class WriteOffsetMismatch(InvalidArgument):
    """An upload continued at another offset than its committed size."""


class ArtifactFileNotFound(NotFound):
    """The artifact has no file at that path."""


class UploadBusy(Aborted):
    """Another stream is writing this upload."""


class ArtifactNotHeld(FailedPrecondition):
    """The registry holds only the artifact's uri, not its bytes."""


class BlobsMissing(FailedPrecondition):
    """The artifact's files name blobs the group does not hold; ``metadata["missing"]``
    lists them. Upload them, then register."""


class HasDependents(FailedPrecondition):
    """PRODUCTION versions depend on the version; ``metadata["dependents"]`` names them.
    Retire them first, or pass ``force=True`` with a reason."""


class VersionOnLegalHold(FailedPrecondition):
    """The version is under legal hold; an admin must clear the hold before deleting it."""


class AuditCheckpointInvalid(InvalidArgument):
    """The checkpoint's signature does not hold under the server's key (edited, or signed by
    another registry), or it is another tenant's."""


class AuditLogBroken(FailedPrecondition):
    """The audit log fails verification, so the server signs no checkpoint of it; call
    ``verify_audit_log()`` to learn where."""


class BlobLost(DataLoss):
    """A blob the registry held is missing from its store; the operator must restore it."""


class InternalError(Internal):
    """A fault in the server; the message names no detail. Report it with the time."""


#: The class raised for each status code when no reason class applies.
STATUS_CLASSES: Mapping[grpc.StatusCode, type[ModelyardError]] = {
    cls.grpc_code: cls
    for cls in (
        Cancelled,
        Unknown,
        InvalidArgument,
        DeadlineExceeded,
        NotFound,
        AlreadyExists,
        PermissionDenied,
        ResourceExhausted,
        FailedPrecondition,
        Aborted,
        OutOfRange,
        Unimplemented,
        Internal,
        Unavailable,
        DataLoss,
        Unauthenticated,
    )
    if cls.grpc_code is not None
}

#: The class raised for each ``modelyard.v1.ErrorReason`` name. UNAUTHENTICATED is both a
#: code and a reason, so it maps to the code's class.
REASON_CLASSES: Mapping[str, type[ModelyardError]] = {
    "INVALID_FIELD": InvalidField,
    "INVALID_FILTER": InvalidFilter,
    "INVALID_ORDER_BY": InvalidOrderBy,
    "INVALID_PAGE_TOKEN": InvalidPageToken,
    "REQUEST_ID_REUSED": RequestIdReused,
    "IMMUTABLE_FIELD": ImmutableField,
    "MALFORMED_REQUEST": MalformedRequest,
    "UNAUTHENTICATED": Unauthenticated,
    "TOKEN_EXPIRED": TokenExpired,
    "TOKEN_REVOKED": TokenRevoked,
    "TOO_MANY_FAILED_ATTEMPTS": TooManyFailedAttempts,
    "MISSING_PERMISSION": MissingPermission,
    "SELF_APPROVAL_FORBIDDEN": SelfApprovalForbidden,
    "MODEL_GROUP_NOT_FOUND": ModelGroupNotFound,
    "MODEL_VERSION_NOT_FOUND": ModelVersionNotFound,
    "ALIAS_NOT_FOUND": AliasNotFound,
    "WEBHOOK_NOT_FOUND": WebhookNotFound,
    "WEBHOOK_DELIVERY_NOT_FOUND": WebhookDeliveryNotFound,
    "TOKEN_NOT_FOUND": TokenNotFound,
    "MODEL_GROUP_ALREADY_EXISTS": ModelGroupAlreadyExists,
    "DUPLICATE_ARTIFACT": DuplicateArtifact,
    "STALE_ETAG": StaleEtag,
    "MODEL_GROUP_NOT_EMPTY": ModelGroupNotEmpty,
    "VERSION_IN_PRODUCTION": VersionInProduction,
    "REFERENCED_VERSION_NOT_FOUND": ReferencedVersionNotFound,
    "INVALID_TRANSITION": InvalidTransition,
    "VERSION_NOT_APPROVED": VersionNotApproved,
    "NO_ROLLBACK_TARGET": NoRollbackTarget,
    "VERSION_REFERENCED": VersionReferenced,
    "SCHEMA_INCOMPATIBLE": SchemaIncompatible,
    "PRODUCTION_LIMIT_REACHED": ProductionLimitReached,
    "SUBSCRIBER_TOO_SLOW": SubscriberTooSlow,
    "TOO_MANY_STREAMS": TooManyStreams,
    "CURSOR_AHEAD_OF_LOG": CursorAheadOfLog,
    "DATABASE_UNAVAILABLE": DatabaseUnavailable,
    "SERVER_SHUTTING_DOWN": ServerShuttingDown,
    "INTERNAL_ERROR": InternalError,
    "DIGEST_MISMATCH": DigestMismatch,
    "WRITE_OFFSET_MISMATCH": WriteOffsetMismatch,
    "ARTIFACT_FILE_NOT_FOUND": ArtifactFileNotFound,
    "UPLOAD_BUSY": UploadBusy,
    "ARTIFACT_NOT_HELD": ArtifactNotHeld,
    "BLOBS_MISSING": BlobsMissing,
    "HAS_DEPENDENTS": HasDependents,
    "VERSION_ON_LEGAL_HOLD": VersionOnLegalHold,
    "AUDIT_CHECKPOINT_INVALID": AuditCheckpointInvalid,
    "AUDIT_LOG_BROKEN": AuditLogBroken,
    "BLOB_LOST": BlobLost,
}


@dataclass
class _StatusDetails:
    status: Message | None = None
    message: str = ""
    reason: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    violations: list[tuple[str, str]] = field(default_factory=list)


def _decode_status(trailers: Iterable[tuple[str, str | bytes]]) -> _StatusDetails:
    """Returns what the ``grpc-status-details-bin`` trailer says, if it is there."""
    decoded = _StatusDetails()
    raw = next((v for k, v in trailers if k == _STATUS_DETAILS_KEY), None)
    if not isinstance(raw, bytes):
        return decoded
    status = status_pb2.Status()
    try:
        status.ParseFromString(raw)
    except Exception:  # a proxy's garbage must not hide the status code
        return decoded
    decoded.status = status
    decoded.message = status.message
    for detail in status.details:
        info = error_details_pb2.ErrorInfo()
        bad_request = error_details_pb2.BadRequest()
        if detail.Unpack(info):
            if not decoded.reason:
                decoded.reason = info.reason
                decoded.metadata = dict(info.metadata)
        elif detail.Unpack(bad_request):
            decoded.violations.extend(
                (v.field, v.description) for v in bad_request.field_violations
            )
    return decoded


def _error_class(code: grpc.StatusCode, reason: str) -> type[ModelyardError]:
    by_code = STATUS_CLASSES.get(code, ModelyardError)
    by_reason = REASON_CLASSES.get(reason)
    # A reason class is used only under its own code, so `except NotFound` keeps catching
    # every NOT_FOUND even if a server pairs a reason with an unexpected code.
    if by_reason is not None and issubclass(by_reason, by_code):
        return by_reason
    return by_code


def unreachable(
    error: ModelyardError, address: str, secure: bool = False, tls: TlsFiles | None = None
) -> ModelyardError:
    """Returns `error` saying what to check when it is a bare UNAVAILABLE from gRPC itself (no
    server answered at `address`, or the TLS handshake failed: then a
    :class:`TlsHandshakeFailed`), else `error` unchanged.

    `secure` says whether the channel speaks TLS; `tls`, the files it was made of."""
    if type(error) is not Unavailable or error.reason != "UNAVAILABLE":
        return error
    said = error.message
    handshake = _handshake_failure(said, address, secure, tls)
    better: Unavailable
    if handshake is not None:
        better = TlsHandshakeFailed(handshake, code=error.code, reason=error.reason)
    else:
        hint = ""
        if not secure and "Socket closed" in said:
            hint = f"; if it serves TLS, pass the CA file that signed its certificate as {_TRUST}"
        better = Unavailable(
            f"no modelyard server answered at {address} ({said}); is it running there? "
            f"`make run` starts one; --address or MODELYARD_ADDRESS points elsewhere{hint}",
            code=error.code,
            reason=error.reason,
        )
    better.rpc_error = error.rpc_error
    return better


#: What gRPC says of a handshake that fails the same way however often it is tried.
_HANDSHAKE_REFUSALS = ("CERTIFICATE_VERIFY_FAILED", "Hostname Verification", "WRONG_VERSION_NUMBER")


def handshake_refused(error: ModelyardError) -> bool:
    """Returns whether a call failed on a TLS handshake that trying again cannot mend (an
    untrusted certificate, another name, TLS on one side only)."""
    return error.code == grpc.StatusCode.UNAVAILABLE and any(
        marker in error.message for marker in _HANDSHAKE_REFUSALS
    )


_TRUST = "tls_ca= (--tls-ca, $MODELYARD_TLS_CA)"
_CLIENT_CERT = "tls_cert= and tls_key= (--tls-cert and --tls-key, $MODELYARD_TLS_CERT and _KEY)"


def _handshake_failure(said: str, address: str, secure: bool, tls: TlsFiles | None) -> str | None:
    """Returns what a failed TLS handshake means and what to pass; None when it was not one."""
    failed = f"the TLS handshake with {address} failed"
    if "CERTIFICATE_VERIFY_FAILED" in said:
        return (
            f"{failed}: its certificate is not signed by a CA this client trusts; pass the "
            f"CA file that signed it as {_TRUST} ({said})"
        )
    if "Hostname Verification" in said or "Peer name" in said:
        return (
            f"{failed}: its certificate does not name {address.rpartition(':')[0]}; dial a "
            f"name the certificate was issued for ({said})"
        )
    if "WRONG_VERSION_NUMBER" in said:
        return (
            f"{failed}: the server speaks plaintext, not TLS; drop the TLS options "
            f"({_TRUST}), or start it with --tls-cert and --tls-key ({said})"
        )
    if not secure or "Socket closed" not in said:
        return None
    if tls is not None and tls.client_certificate:
        return (
            f"{failed}: the server closed the connection; it may not accept the client "
            f"certificate {tls.cert}: pass one signed by the CA it trusts as {_CLIENT_CERT} "
            f"({said})"
        )
    return (
        f"{failed}: the server closed the connection; it may require a client "
        f"certificate (mTLS): pass {_CLIENT_CERT} ({said})"
    )


def from_rpc_error(error: grpc.RpcError) -> ModelyardError:
    """Returns the typed exception for a failed call, sync (``grpc.RpcError``) or aio.

    Both ``grpc.RpcError`` raised by sync stubs and ``grpc.aio.AioRpcError`` expose
    ``code()``, ``details()`` and ``trailing_metadata()``; anything else becomes a
    plain :class:`Unknown`.
    """
    code_of = getattr(error, "code", None)
    code = code_of() if callable(code_of) else grpc.StatusCode.UNKNOWN
    if not isinstance(code, grpc.StatusCode):
        code = grpc.StatusCode.UNKNOWN
    details_of = getattr(error, "details", None)
    details = details_of() if callable(details_of) else None
    trailers_of = getattr(error, "trailing_metadata", None)
    trailers = trailers_of() if callable(trailers_of) else None

    decoded = _decode_status(trailers if trailers is not None else ())
    message = decoded.message or details or code.name
    err = _error_class(code, decoded.reason)(
        message,
        code=code,
        reason=decoded.reason,
        metadata=decoded.metadata,
        field_violations=decoded.violations,
        status=decoded.status,
    )
    err.rpc_error = error
    return err
