"""Domain errors: what went wrong in the registry's own words; api/ maps them to status codes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

from modelyard.v1 import errors_pb2 as reasons


class ErrorKind(Enum):
    """The canonical class of an error; api/ turns it into a grpc status code."""

    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    NOT_FOUND = "NOT_FOUND"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    ABORTED = "ABORTED"
    FAILED_PRECONDITION = "FAILED_PRECONDITION"
    RESOURCE_EXHAUSTED = "RESOURCE_EXHAUSTED"
    OUT_OF_RANGE = "OUT_OF_RANGE"
    UNAVAILABLE = "UNAVAILABLE"
    DATA_LOSS = "DATA_LOSS"


@dataclass(frozen=True)
class FieldViolation:
    """One bad field of a request: its path and what is wrong with it."""

    field: str
    description: str


class DomainError(Exception):
    """An error the caller can act on, with the modelyard.v1.ErrorReason that names its case."""

    kind: ErrorKind = ErrorKind.FAILED_PRECONDITION

    def __init__(
        self,
        reason: reasons.ErrorReason.ValueType,
        message: str,
        *,
        metadata: Mapping[str, str] | None = None,
        violations: Sequence[FieldViolation] = (),
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.reason_name = reasons.ErrorReason.Name(reason)
        self.message = message
        self.metadata = dict(metadata or {})
        self.violations = list(violations)


class InvalidArgument(DomainError):
    kind = ErrorKind.INVALID_ARGUMENT


class Unauthenticated(DomainError):
    kind = ErrorKind.UNAUTHENTICATED


class PermissionDenied(DomainError):
    kind = ErrorKind.PERMISSION_DENIED


class NotFound(DomainError):
    kind = ErrorKind.NOT_FOUND


class AlreadyExists(DomainError):
    kind = ErrorKind.ALREADY_EXISTS


class Aborted(DomainError):
    kind = ErrorKind.ABORTED


class FailedPrecondition(DomainError):
    kind = ErrorKind.FAILED_PRECONDITION


class ResourceExhausted(DomainError):
    kind = ErrorKind.RESOURCE_EXHAUSTED


class OutOfRange(DomainError):
    kind = ErrorKind.OUT_OF_RANGE


class Unavailable(DomainError):
    """A dependency (the database) cannot be reached; the same request may succeed later."""

    kind = ErrorKind.UNAVAILABLE


class DataLoss(DomainError):
    """Stored bytes are gone or corrupt: the operator must restore them."""

    kind = ErrorKind.DATA_LOSS


# How much of the caller's input an error message quotes: enough to recognise it, never so
# much that the message (or the trailers that carry it) grows with the input.
QUOTE_CHARS = 64


def quote(value: object, limit: int = QUOTE_CHARS) -> str:
    """Returns the caller's input in single quotes for an error message: whole when it is
    short, else its first `limit` characters, '…' and how long it was."""
    text = value if isinstance(value, str) else str(value)
    if len(text) <= limit:
        return f"'{text}'"
    return f"'{text[:limit]}…' ({len(text)} characters)"


def invalid_fields(violations: Sequence[FieldViolation]) -> InvalidArgument:
    """Returns the INVALID_FIELD error for a non-empty list of violations."""
    first = violations[0]
    more = f" (and {len(violations) - 1} more)" if len(violations) > 1 else ""
    return InvalidArgument(
        reasons.INVALID_FIELD,
        f"{first.field}: {first.description}{more}",
        violations=violations,
    )
