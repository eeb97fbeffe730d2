"""Writes client/src/modelyard/types.py: the SDK's enums and read-only views of the API's
messages (see modelyard/_views.py), generated from the descriptors of modelyard/v1.

Every enum of the API becomes a ``modelyard._views.Enum`` with short member names (the
enum's own prefix dropped: ``Stage.PRODUCTION``) and the protobuf names as aliases; every
message in ROOTS, and every message they contain, a ``modelyard._views.View`` with one typed
property per field, documented with the field's comment from the .proto.

Usage: python scripts/gen_types.py            # (re)writes modelyard/types.py
       python scripts/gen_types.py --check    # exits 1 while it is stale
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import textwrap
import types
from pathlib import Path
from typing import cast

from google.protobuf import descriptor_pb2
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor
from google.protobuf.message import Message

ROOT = Path(__file__).resolve().parent.parent
CLIENT_SRC = ROOT / "client" / "src"
sys.path.insert(0, str(CLIENT_SRC))
# The generated messages only: the package's __init__ imports the file this script writes,
# which may be stale or missing while it runs.
_package = types.ModuleType("modelyard")
_package.__path__ = [str(CLIENT_SRC / "modelyard")]
sys.modules.setdefault("modelyard", _package)

from modelyard.v1 import (  # noqa: E402
    artifact_service_pb2,
    audit_service_pb2,
    errors_pb2,
    registry_service_pb2,
    resources_pb2,
    retention_service_pb2,
    token_service_pb2,
    webhook_service_pb2,
)

TARGET = CLIENT_SRC / "modelyard" / "types.py"
DESCRIPTOR_SET = CLIENT_SRC / "modelyard" / "v1" / "descriptor_set.binpb"
CONFIG = ROOT / "pyproject.toml"
ENUM_MODULES = [resources_pb2, webhook_service_pb2, errors_pb2, retention_service_pb2]
#: The messages the SDK returns; the messages they hold are generated too.
ROOTS: list[type[Message]] = [
    resources_pb2.ModelGroup,
    resources_pb2.ModelVersion,
    resources_pb2.ApprovalDecision,
    resources_pb2.ApprovalPolicy,
    resources_pb2.Alias,
    resources_pb2.AuditEvent,
    webhook_service_pb2.Webhook,
    webhook_service_pb2.WebhookDelivery,
    audit_service_pb2.VerifyAuditLogResponse,
    audit_service_pb2.AuditCheckpoint,
    registry_service_pb2.TransitionModelVersionStageResponse,
    registry_service_pb2.RollbackProductionResponse,
    registry_service_pb2.CompareSchemasResponse,
    artifact_service_pb2.ArtifactManifest,
    registry_service_pb2.ListDependentsResponse,
    retention_service_pb2.RetentionPolicy,
    retention_service_pb2.PlanRetentionResponse,
    retention_service_pb2.ApplyRetentionResponse,
    token_service_pb2.Token,
    token_service_pb2.CreateTokenResponse,
]
SCALARS = {
    FieldDescriptor.TYPE_STRING: "str",
    FieldDescriptor.TYPE_BYTES: "bytes",
    FieldDescriptor.TYPE_BOOL: "bool",
    FieldDescriptor.TYPE_DOUBLE: "float",
    FieldDescriptor.TYPE_FLOAT: "float",
    FieldDescriptor.TYPE_INT32: "int",
    FieldDescriptor.TYPE_INT64: "int",
    FieldDescriptor.TYPE_UINT32: "int",
    FieldDescriptor.TYPE_UINT64: "int",
    FieldDescriptor.TYPE_SINT32: "int",
    FieldDescriptor.TYPE_SINT64: "int",
    FieldDescriptor.TYPE_FIXED32: "int",
    FieldDescriptor.TYPE_FIXED64: "int",
    FieldDescriptor.TYPE_SFIXED32: "int",
    FieldDescriptor.TYPE_SFIXED64: "int",
}
HEADER = '''"""The SDK's enums and the read-only views of the messages it returns.

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
'''


def load_comments() -> dict[tuple[str, tuple[int, ...]], str]:
    """Returns the leading comment of each element, keyed by (file name, source path)."""
    files = descriptor_pb2.FileDescriptorSet.FromString(DESCRIPTOR_SET.read_bytes())
    comments = {}
    for file in files.file:
        for location in file.source_code_info.location:
            text = location.leading_comments.strip()
            if text:
                comments[(file.name, tuple(location.path))] = " ".join(text.split())
    return comments


COMMENTS = load_comments()


def comment_of(file_name: str, path: tuple[int, ...]) -> str:
    return COMMENTS.get((file_name, path), "")


def snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).upper()


def docstring(text: str, indent: str) -> list[str]:
    if not text:
        return []
    text = text.replace("\\", "\\\\").replace('"""', "'''")
    lines = textwrap.wrap(text, width=92 - len(indent) - 6) or [""]
    if len(lines) == 1:
        return [f'{indent}"""{lines[0]}"""']
    return [f'{indent}"""{lines[0]}', *(f"{indent}{line}" for line in lines[1:]), f'{indent}"""']


def enum_source(enum: EnumDescriptor, index: int) -> list[str]:
    file_name = enum.file.name
    prefix = snake(enum.name) + "_"
    out = [f"class {enum.name}(_views.Enum):"]
    out += docstring(comment_of(file_name, (5, index)), "    ")
    aliases: list[tuple[str, str, int]] = []
    for number, value in enumerate(enum.values):
        short = value.name.removeprefix(prefix)
        out.append(f"    {short} = {value.number}")
        out += docstring(comment_of(file_name, (5, index, 2, number)), "    ")
        if short != value.name:
            aliases.append((value.name, short, value.number))
    if aliases:
        # Type checkers take an alias assigned in the class body for a member of its own (so
        # STAGE_PRODUCTION is not PRODUCTION, and a match over the members is never
        # exhaustive): they are shown the alias as the member it names instead.
        out.append("    if TYPE_CHECKING:")
        out += [
            f"        {alias}: ClassVar[Literal[{enum.name}.{short}]]"
            for alias, short, _ in aliases
        ]
        out.append("    else:")
        out += [f"        {alias} = {number}" for alias, _, number in aliases]
    return out


def module_of(message: Descriptor) -> str:
    return message.file.name.rsplit("/", 1)[-1].removesuffix(".proto") + "_pb2"


def is_map(field: FieldDescriptor) -> bool:
    return field.message_type is not None and field.message_type.GetOptions().map_entry


def field_source(field: FieldDescriptor, views: set[str]) -> tuple[str, str]:
    """Returns the annotation and the expression of one field's property."""
    name = field.name
    repeated = field.is_repeated
    if field.message_type is not None and is_map(field):
        key, value = (
            field.message_type.fields_by_name["key"],
            field.message_type.fields_by_name["value"],
        )
        if value.message_type is not None or value.enum_type is not None:
            raise SystemExit(f"{field.full_name}: maps of messages or enums are not supported")
        return (
            f"Mapping[{SCALARS[key.type]}, {SCALARS[value.type]}]",
            f"_views.ReadOnlyMap(self._pb.{name})",
        )
    if field.enum_type is not None:
        enum = field.enum_type.name
        if repeated:
            return f"tuple[{enum}, ...]", f"tuple({enum}(v) for v in self._pb.{name})"
        return enum, f"{enum}(self._pb.{name})"
    if field.message_type is not None:
        full = field.message_type.full_name
        if full == "google.protobuf.Timestamp" and not repeated:
            return "datetime | None", f'_views.timestamp(self._pb, "{name}")'
        if full == "google.protobuf.Struct" and not repeated:
            return "dict[str, Any] | None", f'_views.struct(self._pb, "{name}")'
        view = field.message_type.name
        if view not in views:
            raise SystemExit(f"{field.full_name}: no view for {full}")
        if repeated:
            return f"tuple[{view}, ...]", f"tuple({view}(m) for m in self._pb.{name})"
        return view, f"{view}(self._pb.{name})"
    scalar = SCALARS[field.type]
    if repeated:
        return f"Sequence[{scalar}]", f"_views.ReadOnlyList(self._pb.{name})"
    if field.has_presence:  # proto3 `optional`: unset reads as None, not as 0
        return f"{scalar} | None", f'self._pb.{name} if self._pb.HasField("{name}") else None'
    return scalar, f"self._pb.{name}"


def message_path(message: Descriptor) -> tuple[int, ...]:
    index = [m.name for m in message.file.message_types_by_name.values()].index(message.name)
    return (4, index)


def view_source(message: Descriptor, views: set[str]) -> list[str]:
    proto = f"{module_of(message)}.{message.name}"
    out = [f"class {message.name}(_views.View[{proto}]):"]
    out += docstring(comment_of(message.file.name, message_path(message)), "    ")
    out += ["", "    __slots__ = ()", f"    _message = {proto}"]
    for number, field in enumerate(message.fields):
        annotation, expression = field_source(field, views)
        out += ["", "    @property", f"    def {field.name}(self) -> {annotation}:"]
        doc = comment_of(message.file.name, (*message_path(message), 2, number))
        out += docstring(doc, "        ")
        out.append(f"        return {expression}")
    return out


def reachable() -> list[Descriptor]:
    """Returns ROOTS and the messages of this API they hold, each once, in a stable order."""
    seen: dict[str, Descriptor] = {}

    def visit(message: Descriptor) -> None:
        if message.full_name in seen or not message.full_name.startswith("modelyard."):
            return
        if message.GetOptions().map_entry:
            return
        seen[message.full_name] = message
        for field in message.fields:
            if field.message_type is not None:
                visit(field.message_type)

    for root in ROOTS:
        visit(cast(Descriptor, root.DESCRIPTOR))
    return sorted(seen.values(), key=lambda m: m.name)


def render() -> str:
    messages = reachable()
    views = {m.name for m in messages}
    enums = [
        (enum, index)
        for module in ENUM_MODULES
        for index, enum in enumerate(module.DESCRIPTOR.enum_types_by_name.values())
    ]
    names = sorted([e.name for e, _ in enums] + list(views))
    parts = [HEADER, "__all__ = [", *(f'    "{n}",' for n in names), "]", ""]
    for enum, index in enums:
        parts += ["", *enum_source(enum, index), ""]
    for message in messages:
        parts += ["", *view_source(message, views), ""]
    source = "\n".join(parts)
    formatted = subprocess.run(
        [
            str(Path(sys.executable).parent / "ruff"),
            "format",
            "--config",
            str(CONFIG),
            "--stdin-filename",
            str(TARGET),
            "-",
        ],
        input=source,
        capture_output=True,
        text=True,
        check=True,
    )
    return formatted.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if types.py is stale")
    args = parser.parse_args()
    source = render()
    if args.check:
        if not TARGET.exists() or TARGET.read_text() != source:
            print(f"{TARGET.relative_to(ROOT)} is stale: run `make proto`", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(source)
    return 0


if __name__ == "__main__":
    sys.exit(main())
