"""Input validation of groups and versions. Limits here are the ones the proto comments state."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from urllib.parse import urlsplit

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from modelyard.v1 import artifact_service_pb2 as arts
from modelyard.v1 import resources_pb2 as pb

from modelyard_server.domain import manifests
from modelyard_server.domain.errors import FieldViolation, InvalidArgument, invalid_fields, quote
from modelyard_server.domain.names import parse_version_name
from modelyard_server.log.chain import snapshot

MAX_DESCRIPTION = 4096
MAX_TAGS = 64
MAX_METRICS = 256
MAX_HYPERPARAMETERS = 256
MAX_VALUE = 1024
MAX_URI = 2048
MAX_SHORT = 128
MAX_CARD_TEXT = 65536
MAX_CARD_EXTRA = 65536
MAX_FAIRNESS = 256
MAX_REFERENCES = 32
MAX_COLUMNS = 1024
MAX_SHAPE = 32
MAX_REQUEST_ID = 128
MAX_REASON = 4096
# A version's JSON form, as the log's snapshots and every event carry it. An entry holds a
# version before and after a change (and, for a promotion, the versions it archived), so
# the common entries stay well under gRPC's 4 MiB message limit; the SDK takes up to 64 MiB,
# enough for the rarest entry (a promotion that archives ten production versions).
MAX_VERSION_BYTES = 512 * 1024
# No field's JSON form is 40 times its binary form (a 2-byte enum becomes a name of at most
# 40 characters and its key; a control character becomes \u0001): below this, a version
# needs no JSON form to show that it is small enough.
JSON_GROWTH = 40

KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]{0,127}")
KEY_RULE = "1-128 of letters, digits, '_', '.', '-', starting with a letter or '_'"
SHA256 = re.compile(r"[0-9a-f]{64}")
URI_SCHEME = re.compile(r"[a-z][a-z0-9+.\-]*")
NUMERIC_TYPES = {
    pb.COLUMN_TYPE_INTEGER,
    pb.COLUMN_TYPE_LONG,
    pb.COLUMN_TYPE_FLOAT,
    pb.COLUMN_TYPE_DOUBLE,
    pb.COLUMN_TYPE_DATETIME,
}


class Checker:
    """Collects every violation of a request, so the caller can fix them all at once."""

    def __init__(self) -> None:
        self.violations: list[FieldViolation] = []

    def fail(self, field: str, description: str) -> None:
        self.violations.append(FieldViolation(field, description))

    def raise_if_any(self) -> None:
        if self.violations:
            raise invalid_fields(self.violations)

    def text(self, field: str, value: str, limit: int, *, required: bool = False) -> None:
        if required and not value.strip():
            self.fail(field, "is required")
        elif len(value) > limit:
            self.fail(field, f"is {len(value)} characters long; the limit is {limit}")

    def uri(self, field: str, value: str, *, required: bool = False) -> None:
        if not value:
            if required:
                self.fail(field, "is required, e.g. s3://bucket/key or file:///abs/path")
            return
        if len(value) > MAX_URI:
            self.fail(field, f"is {len(value)} characters long; the limit is {MAX_URI}")
            return
        if any(c.isspace() for c in value):
            self.fail(field, f"{quote(value)} is not a URI: it contains white space")
            return
        try:
            parts = urlsplit(value)
        except ValueError as error:  # e.g. an unclosed '[' of an IPv6 host
            self.fail(field, f"{quote(value)} is not a URI: {error}")
            return
        if not URI_SCHEME.fullmatch(parts.scheme):
            self.fail(
                field, f"{quote(value)} is not a URI: it needs a scheme such as s3:// or file://"
            )
        elif parts.scheme == "file" and (
            parts.netloc not in {"", "localhost"} or not parts.path.startswith("/")
        ):
            self.fail(field, f"{quote(value)} is not a file URI: use file:///absolute/path")
        elif parts.scheme in {"s3", "gs", "http", "https"} and not parts.netloc:
            self.fail(field, f"{quote(value)} has no host or bucket after {parts.scheme}://")
        elif not (parts.netloc or parts.path):
            self.fail(field, f"{quote(value)} is not a URI: nothing follows the scheme")

    def string_map(self, field: str, values: Mapping[str, str], limit: int) -> None:
        if len(values) > limit:
            self.fail(field, f"has {len(values)} entries; the limit is {limit}")
        for key, value in values.items():
            self.key(f"{field}[{quote(key)}]", key)
            if len(value) > MAX_VALUE:
                self.fail(
                    f"{field}[{quote(key)}]",
                    f"value is {len(value)} characters long; the limit is {MAX_VALUE}",
                )

    def key(self, field: str, key: str) -> None:
        if not KEY.fullmatch(key):
            self.fail(field, f"{quote(key)} is not a valid key: {KEY_RULE}")

    def finite(self, field: str, value: float) -> None:
        if not math.isfinite(value):
            self.fail(field, f"must be a finite number, not {value}")

    def version_names(self, field: str, names: Iterable[str]) -> None:
        names = list(names)
        if len(names) > MAX_REFERENCES:
            self.fail(field, f"has {len(names)} entries; the limit is {MAX_REFERENCES}")
        for i, name in enumerate(names):
            try:
                parse_version_name(name, f"{field}[{i}]")
            except InvalidArgument as error:
                self.violations.extend(error.violations)


# What google.protobuf.Timestamp can mean: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z.
MIN_SECONDS = -62_135_596_800
MAX_SECONDS = 253_402_300_799


def time_us(value: Timestamp, field: str) -> int:
    """Returns a request's time in microseconds since the epoch; INVALID_FIELD for a
    Timestamp outside 0001-01-01..9999-12-31 or with nanos outside 0..999999999."""
    if not MIN_SECONDS <= value.seconds <= MAX_SECONDS:
        raise invalid_fields(
            [FieldViolation(f"{field}.seconds", "must be a time from 0001-01-01 to 9999-12-31")]
        )
    if not 0 <= value.nanos <= 999_999_999:
        raise invalid_fields([FieldViolation(f"{field}.nanos", "must be 0 to 999999999")])
    return value.seconds * 1_000_000 + value.nanos // 1000


def check_no_nul(request: Message) -> None:
    """Raises INVALID_FIELD naming every string of the request that holds a NUL character
    (U+0000): PostgreSQL's text cannot store one, so no backend takes it, and no name, label
    or reason needs one."""
    violations = _nul_characters(request, "")
    if violations:
        raise invalid_fields(violations)


def _nul_characters(message: Message, prefix: str) -> list[FieldViolation]:
    found: list[FieldViolation] = []

    def visit(path: str, value: object) -> None:
        if isinstance(value, str) and "\x00" in value:
            found.append(FieldViolation(path, "must not contain the NUL character (U+0000)"))
        elif isinstance(value, Message):
            found.extend(_nul_characters(value, f"{path}."))

    for field, value in message.ListFields():
        path = f"{prefix}{field.name}"
        entry = field.message_type
        if entry is not None and entry.GetOptions().map_entry:
            for key, item in value.items():
                visit(f"{path}[{quote(key)}]", key)
                visit(f"{path}[{quote(key)}]", item)
        elif field.is_repeated:
            for i, item in enumerate(value):
                visit(f"{path}[{i}]", item)
        else:
            visit(path, value)
    return found


def check_request_id(request_id: str) -> None:
    """Raises INVALID_FIELD if the idempotency key is too long."""
    checker = Checker()
    checker.text("request_id", request_id, MAX_REQUEST_ID)
    checker.raise_if_any()


def check_reason(reason: str, *, required: bool = False) -> None:
    """Raises INVALID_FIELD if a decision's reason is missing where required, or too long."""
    checker = Checker()
    if required and not reason.strip():
        checker.fail("reason", "is required: say why the version is rejected")
    checker.text("reason", reason, MAX_REASON)
    checker.raise_if_any()


def check_group(group: pb.ModelGroup, prefix: str = "model_group") -> None:
    """Raises INVALID_FIELD listing every problem with the writable fields of a group."""
    checker = Checker()
    checker.text(f"{prefix}.description", group.description, MAX_DESCRIPTION)
    checker.string_map(f"{prefix}.tags", group.tags, MAX_TAGS)
    checker.raise_if_any()


def check_version(
    version: pb.ModelVersion,
    prefix: str = "model_version",
    files: Sequence[arts.ArtifactFile] = (),
) -> None:
    """Raises INVALID_FIELD listing every problem with a version to register: its artifact
    is external (a uri and the sha256 the caller declares) or, with `files`, held by the
    registry (the server sets its uri, sha256 and size)."""
    checker = Checker()
    artifact = version.artifact
    if files:
        for field in ("uri", "sha256", "size_bytes"):
            if getattr(artifact, field):
                checker.fail(
                    f"{prefix}.artifact.{field}",
                    "must be left empty with artifact_files: the registry sets it from the files",
                )
        manifests.check_files(files, artifact.directory, checker.fail)
    elif not version.HasField("artifact"):
        checker.fail(
            f"{prefix}.artifact",
            "is required: give its uri and sha256, or upload its files and send artifact_files",
        )
    else:
        checker.uri(f"{prefix}.artifact.uri", artifact.uri, required=True)
        if not SHA256.fullmatch(artifact.sha256):
            checker.fail(
                f"{prefix}.artifact.sha256",
                "must be 64 lowercase hex digits (the SHA-256 of the artifact)",
            )
        if artifact.size_bytes < 0:
            checker.fail(f"{prefix}.artifact.size_bytes", "must not be negative")
        if artifact.directory:
            checker.fail(
                f"{prefix}.artifact.directory",
                "is for artifacts the registry holds; send artifact_files with it",
            )
    if version.HasField("artifact"):
        if artifact.format not in pb.ArtifactFormat.values():
            checker.fail(f"{prefix}.artifact.format", f"{artifact.format} is not an ArtifactFormat")
        checker.text(f"{prefix}.artifact.framework", artifact.framework, MAX_SHORT)
        checker.text(f"{prefix}.artifact.framework_version", artifact.framework_version, MAX_SHORT)
    checker.text(f"{prefix}.inference_image", version.inference_image, MAX_VALUE)
    if len(version.metrics) > MAX_METRICS:
        checker.fail(
            f"{prefix}.metrics", f"has {len(version.metrics)} entries; the limit is {MAX_METRICS}"
        )
    for name, value in version.metrics.items():
        checker.key(f"{prefix}.metrics[{quote(name)}]", name)
        checker.finite(f"{prefix}.metrics[{quote(name)}]", value)
    checker.string_map(f"{prefix}.hyperparameters", version.hyperparameters, MAX_HYPERPARAMETERS)
    checker.string_map(f"{prefix}.tags", version.tags, MAX_TAGS)
    lineage = version.lineage
    checker.uri(f"{prefix}.lineage.code_repository", lineage.code_repository)
    checker.text(f"{prefix}.lineage.code_commit", lineage.code_commit, MAX_SHORT)
    checker.uri(f"{prefix}.lineage.dataset_uri", lineage.dataset_uri)
    checker.text(f"{prefix}.lineage.dataset_digest", lineage.dataset_digest, 256)
    checker.text(f"{prefix}.lineage.training_job", lineage.training_job, MAX_VALUE)
    checker.version_names(f"{prefix}.lineage.parent_versions", lineage.parent_versions)
    checker.version_names(f"{prefix}.lineage.depends_on", lineage.depends_on)
    check_model_card(checker, version.model_card, f"{prefix}.model_card")
    for side in ("inputs", "outputs"):
        check_columns(checker, getattr(version.schema, side), f"{prefix}.schema.{side}")
    checker.text(f"{prefix}.description", version.description, MAX_DESCRIPTION)
    if not checker.violations:  # each field within its limit: the sum may still be too much
        check_version_size(checker, version, prefix)
    checker.raise_if_any()


def check_version_update(version: pb.ModelVersion, prefix: str = "model_version") -> None:
    """Raises INVALID_FIELD listing every problem with the mutable fields of a version (and,
    for the version as it would be after the update, with its size)."""
    checker = Checker()
    checker.string_map(f"{prefix}.tags", version.tags, MAX_TAGS)
    check_model_card(checker, version.model_card, f"{prefix}.model_card")
    checker.text(f"{prefix}.description", version.description, MAX_DESCRIPTION)
    if not checker.violations:
        check_version_size(checker, version, prefix)
    checker.raise_if_any()


def version_size(version: pb.ModelVersion) -> int:
    """Returns the size in bytes of the version's JSON form, as a log entry records it."""
    return len((snapshot(version) or "").encode())


def check_version_size(checker: Checker, version: pb.ModelVersion, prefix: str) -> None:
    """Fails a version whose JSON form is over MAX_VERSION_BYTES, naming its size and the
    limit: the log entry of every change to it must fit in one gRPC message."""
    if version.ByteSize() * JSON_GROWTH <= MAX_VERSION_BYTES:
        return
    size = version_size(version)
    if size > MAX_VERSION_BYTES:
        checker.fail(
            prefix,
            f"is {size} bytes in its JSON form (as the log and events carry it); the limit "
            f"is {MAX_VERSION_BYTES} bytes: shorten its model card, schema, hyperparameters, "
            "tags or description",
        )


def check_model_card(checker: Checker, card: pb.ModelCard, prefix: str) -> None:
    checker.text(f"{prefix}.intended_use", card.intended_use, MAX_CARD_TEXT)
    checker.text(f"{prefix}.limitations", card.limitations, MAX_CARD_TEXT)
    checker.text(f"{prefix}.training_data", card.training_data, MAX_CARD_TEXT)
    if len(card.fairness_evaluations) > MAX_FAIRNESS:
        checker.fail(f"{prefix}.fairness_evaluations", f"has more than {MAX_FAIRNESS} entries")
    for i, evaluation in enumerate(card.fairness_evaluations):
        field = f"{prefix}.fairness_evaluations[{i}]"
        checker.text(f"{field}.slice", evaluation.slice, 256)
        checker.text(f"{field}.metric", evaluation.metric, MAX_SHORT, required=True)
        checker.finite(f"{field}.value", evaluation.value)
    if card.HasField("extra") and card.extra.ByteSize() > MAX_CARD_EXTRA:
        checker.fail(
            f"{prefix}.extra", f"is {card.extra.ByteSize()} bytes; the limit is {MAX_CARD_EXTRA}"
        )


def check_columns(checker: Checker, columns: Iterable[pb.ColumnSpec], prefix: str) -> None:
    seen: set[str] = set()
    columns = list(columns)
    if len(columns) > MAX_COLUMNS:
        checker.fail(prefix, f"has {len(columns)} columns; the limit is {MAX_COLUMNS}")
    for i, column in enumerate(columns):
        field = f"{prefix}[{i}]"
        checker.text(f"{field}.name", column.name, 256, required=True)
        if column.name in seen:
            checker.fail(f"{field}.name", f"{quote(column.name)} appears twice")
        seen.add(column.name)
        if column.type == pb.COLUMN_TYPE_UNSPECIFIED or column.type not in pb.ColumnType.values():
            checker.fail(f"{field}.type", "is required: a ColumnType other than UNSPECIFIED")
        has_range = column.HasField("min") or column.HasField("max")
        if has_range and column.type not in NUMERIC_TYPES:
            checker.fail(f"{field}", "min and max apply only to numeric or datetime columns")
        for bound in ("min", "max"):
            if column.HasField(bound):
                checker.finite(f"{field}.{bound}", getattr(column, bound))
        if column.HasField("min") and column.HasField("max") and column.min > column.max:
            checker.fail(f"{field}.max", f"{column.max} is below min {column.min}")
        if len(column.shape) > MAX_SHAPE:
            checker.fail(f"{field}.shape", f"has more than {MAX_SHAPE} dimensions")
        if column.shape and column.type != pb.COLUMN_TYPE_TENSOR:
            checker.fail(f"{field}.shape", "applies only to COLUMN_TYPE_TENSOR columns")
        if any(d < -1 or d == 0 for d in column.shape):
            checker.fail(f"{field}.shape", "dimensions are positive, or -1 for a variable one")
