"""The API follows the AIPs: resources declare their names, fields their behaviour, and every
reference to another resource is its full name.

The first tests read the generated descriptors, which is what code generators, linters and
grpcurl see. The rest show against a real server that a group is referred to as
``groups/{group}`` on the wire, that a bare id is refused with a message saying what to
send, and that the SDK and CLI still take either form.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.api import field_behavior_pb2, resource_pb2
from google.protobuf import descriptor_pb2, field_mask_pb2, json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from modelyard import Registry, Webhook, names
from modelyard.v1 import (
    approval_service_pb2,
    artifact_service_pb2,
    audit_service_pb2,
    audit_service_pb2_grpc,
    errors_pb2,
    registry_service_pb2,
    registry_service_pb2_grpc,
    resources_pb2,
    retention_service_pb2,
    token_service_pb2,
    webhook_service_pb2,
    webhook_service_pb2_grpc,
)
from modelyard.v1 import registry_service_pb2 as rs
from modelyard.v1 import webhook_service_pb2 as ws

from tests.support.servers import Server
from tests.support.status import reason_of, violations_of
from tests.support.versions import register

# googleapis-common-protos types its extensions as plain FieldDescriptors; mypy wants more.
FIELD_BEHAVIOR: Any = field_behavior_pb2.field_behavior
RESOURCE: Any = resource_pb2.resource
RESOURCE_REFERENCE: Any = resource_pb2.resource_reference
IDENTIFIER = field_behavior_pb2.IDENTIFIER
REQUIRED = field_behavior_pb2.REQUIRED
OPTIONAL = field_behavior_pb2.OPTIONAL
OUTPUT_ONLY = field_behavior_pb2.OUTPUT_ONLY
INPUT_ONLY = field_behavior_pb2.INPUT_ONLY
IMMUTABLE = field_behavior_pb2.IMMUTABLE

FILES = [
    resources_pb2,
    registry_service_pb2,
    approval_service_pb2,
    audit_service_pb2,
    webhook_service_pb2,
    errors_pb2,
    artifact_service_pb2,
    retention_service_pb2,
    token_service_pb2,
]

#: Every resource of the API and the pattern of its names (DESIGN.md section 3).
RESOURCES = {
    "ModelGroup": "groups/{group}",
    "ModelVersion": "groups/{group}/versions/{version}",
    "Alias": "groups/{group}/aliases/{alias}",
    "ApprovalPolicy": "groups/{group}/approvalPolicy",
    "RetentionPolicy": "groups/{group}/retentionPolicy",
    "Webhook": "webhooks/{webhook}",
    "WebhookDelivery": "webhooks/{webhook}/deliveries/{delivery}",
    "Token": "tokens/{token}",
}
#: Messages with a `name` that are not resources: a column's name is not a resource name.
NAMED_BUT_NOT_RESOURCES = {"ColumnSpec"}
#: String fields with these names refer to other resources, wherever they appear.
REFERENCE_FIELD_NAMES = {
    "name",
    "parent",
    "group",
    "groups",
    "version",
    "versions",
    "target_version",
    "parent_versions",
    "depends_on",
    "resource",
    "aliases",
}
#: The fields that took bare ids before and take full names now, with what they refer to.
RENAMED = {
    "modelyard.v1.WatchEventsRequest.groups": "modelyard.dev/ModelGroup",
    "modelyard.v1.Webhook.group": "modelyard.dev/ModelGroup",
    "modelyard.v1.ListWebhooksRequest.group": "modelyard.dev/ModelGroup",
    "modelyard.v1.AuditEvent.group": "modelyard.dev/ModelGroup",
    "modelyard.v1.ModelVersion.aliases": "modelyard.dev/Alias",
    "modelyard.v1.RollbackProductionRequest.group": "modelyard.dev/ModelGroup",
}


def messages() -> Iterator[Descriptor]:
    """Yields every message of the modelyard.v1 package, nested ones too (not map entries)."""

    def walk(message: Descriptor) -> Iterator[Descriptor]:
        if message.GetOptions().map_entry:
            return
        yield message
        for nested in message.nested_types:
            yield from walk(nested)

    for module in FILES:
        for message in module.DESCRIPTOR.message_types_by_name.values():
            yield from walk(message)


def behaviours(field: FieldDescriptor) -> set[int]:
    return set(field.GetOptions().Extensions[FIELD_BEHAVIOR])


def resource_of(message: Descriptor) -> resource_pb2.ResourceDescriptor | None:
    options = message.GetOptions()
    return options.Extensions[RESOURCE] if options.HasExtension(RESOURCE) else None


def reference_of(field: FieldDescriptor) -> resource_pb2.ResourceReference | None:
    options = field.GetOptions()
    return (
        options.Extensions[RESOURCE_REFERENCE] if options.HasExtension(RESOURCE_REFERENCE) else None
    )


def resources_by_name() -> dict[str, tuple[Descriptor, resource_pb2.ResourceDescriptor]]:
    found = {}
    for message in messages():
        resource = resource_of(message)
        if resource is not None:
            found[message.name] = (message, resource)
    return found


def inputs() -> list[Descriptor]:
    """The requests, the resources, and every modelyard message reachable from their fields:
    what a caller may send, so what AIP-203 wants annotated."""
    seen: dict[str, Descriptor] = {}
    todo = [m for m in messages() if m.name.endswith("Request") or resource_of(m) is not None]
    while todo:
        message = todo.pop()
        if message.full_name in seen:
            continue
        seen[message.full_name] = message
        for field in message.fields:
            kind = field.message_type
            if kind is not None and kind.full_name.startswith("modelyard.v1."):
                todo.append(kind)
    return [m for m in seen.values() if not m.GetOptions().map_entry]


def test_every_resource_declares_its_type_and_pattern_and_leads_with_its_name() -> None:
    found = resources_by_name()
    patterns = {name: list(resource.pattern) for name, (_, resource) in found.items()}
    assert patterns == {name: [pattern] for name, pattern in RESOURCES.items()}
    for name, (message, resource) in found.items():
        assert resource.type == f"modelyard.dev/{name}"
        first = message.fields[0]
        assert (first.name, first.number) == ("name", 1), name
        assert behaviours(first) == {IDENTIFIER}, name
    named = {
        m.name for m in messages() if "name" in m.fields_by_name and not m.name.endswith("Request")
    }
    assert named - NAMED_BUT_NOT_RESOURCES == set(RESOURCES)


def test_the_sdk_builds_names_that_the_patterns_match() -> None:
    def matches(pattern: str, name: str) -> bool:
        return re.fullmatch(re.sub(r"\{[a-z_]+\}", "[^/]+", pattern), name) is not None

    built = {
        "ModelGroup": names.group_name("fraud"),
        "ModelVersion": names.version_name("fraud", 3),
        "Alias": names.alias_name("fraud", "champion"),
        "ApprovalPolicy": names.policy_name("fraud"),
        "Webhook": names.webhook_name("wh-1a2b3c4d5e"),
        "WebhookDelivery": names.delivery_name("wh-1a2b3c4d5e", 42),
    }
    assert all(matches(RESOURCES[kind], name) for kind, name in built.items()), built


def test_every_field_a_caller_may_send_says_how_it_behaves() -> None:
    for message in inputs():
        is_resource = resource_of(message) is not None
        for field in message.fields:
            where = field.full_name
            found = behaviours(field)
            if is_resource and field.name == "etag":
                assert found == set(), f"{where}: AIP-154 gives a resource's etag no behaviour"
                continue
            assert found, f"{where} has no google.api.field_behavior"
            assert not {REQUIRED, OPTIONAL} <= found, where
            if OUTPUT_ONLY in found:
                assert not found & {REQUIRED, OPTIONAL, INPUT_ONLY, IMMUTABLE}, where
            if field.name in ("name", "parent") and message.name.endswith("Request"):
                assert REQUIRED in found and reference_of(field) is not None, where


def test_every_reference_names_a_declared_resource_type() -> None:
    declared = {f"modelyard.dev/{name}" for name in RESOURCES} | {"*"}
    references = {}
    for message in messages():
        is_resource = resource_of(message) is not None
        for field in message.fields:
            reference = reference_of(field)
            if reference is not None:
                kinds = {reference.type, reference.child_type} - {""}
                assert len(kinds) == 1 and kinds <= declared, field.full_name
                references[field.full_name] = kinds.pop()
            elif field.type == FieldDescriptor.TYPE_STRING and field.name in REFERENCE_FIELD_NAMES:
                # A resource's own name and a column's name are the only strings so named
                # that refer to nothing.
                assert field.name == "name" and (
                    is_resource or message.name in NAMED_BUT_NOT_RESOURCES
                ), f"{field.full_name} names a resource but has no resource_reference"
    assert {field: references.get(field) for field in RENAMED} == RENAMED


class Comments:
    """Walks one modelyard .proto in the descriptor set (with source info) and records the
    elements without a leading comment, and the output-only fields whose comment does not
    start with "Output only."."""

    def __init__(self, file: descriptor_pb2.FileDescriptorProto) -> None:
        self.comments = {
            tuple(location.path): location.leading_comments.strip()
            for location in file.source_code_info.location
        }
        self.uncommented: set[str] = set()
        self.unsaid: set[str] = set()
        for i, message in enumerate(file.message_type):
            self.message(message, [4, i], "")
        for i, enum in enumerate(file.enum_type):
            self.enum(enum, [5, i], "")
        for i, service in enumerate(file.service):
            self.need([6, i], service.name)
            for j, method in enumerate(service.method):
                self.need([6, i, 2, j], f"{service.name}.{method.name}")

    def need(self, path: list[int], what: str) -> str:
        comment = self.comments.get(tuple(path), "")
        if not comment:
            self.uncommented.add(what)
        return comment

    def message(self, proto: descriptor_pb2.DescriptorProto, path: list[int], prefix: str) -> None:
        name = prefix + proto.name
        self.need(path, name)
        for i, field in enumerate(proto.field):
            comment = self.need([*path, 2, i], f"{name}.{field.name}")
            said = field.options.Extensions[FIELD_BEHAVIOR]
            if OUTPUT_ONLY in said and not comment.startswith("Output only."):
                self.unsaid.add(f"{name}.{field.name}")
        for i, oneof in enumerate(proto.oneof_decl):
            if not oneof.name.startswith("_"):  # not the oneof that `optional` makes
                self.need([*path, 8, i], f"{name}.{oneof.name}")
        for i, nested in enumerate(proto.nested_type):
            if not nested.options.map_entry:
                self.message(nested, [*path, 3, i], f"{name}.")
        for i, enum in enumerate(proto.enum_type):
            self.enum(enum, [*path, 4, i], f"{name}.")

    def enum(self, proto: descriptor_pb2.EnumDescriptorProto, path: list[int], prefix: str) -> None:
        name = prefix + proto.name
        self.need(path, name)
        for i, value in enumerate(proto.value):
            self.need([*path, 2, i], f"{name}.{value.name}")


def test_every_element_is_commented_and_output_only_fields_say_so() -> None:
    data = resources.files("modelyard.v1").joinpath("descriptor_set.binpb").read_bytes()
    files = descriptor_pb2.FileDescriptorSet.FromString(data).file
    walked = [Comments(f) for f in files if f.name.startswith("modelyard/")]
    assert len(walked) == len(FILES)
    uncommented = set().union(*(w.uncommented for w in walked))
    assert uncommented == set(), "comment these: grpcurl describe and the .pyi show them"
    unsaid = set().union(*(w.unsaid for w in walked))
    assert unsaid == set(), "start these comments with 'Output only.'"


# Against a real server: the wire takes and gives full names.

SECRET = "s3cret-s3cret-s3cret"


class Wire:
    """The generated stubs as the admin: requests exactly as a non-SDK client sends them."""

    def __init__(self, channel: grpc.Channel, token: str) -> None:
        self.registry = registry_service_pb2_grpc.RegistryServiceStub(channel)
        self.audit = audit_service_pb2_grpc.AuditServiceStub(channel)
        self.webhooks = webhook_service_pb2_grpc.WebhookServiceStub(channel)
        self.metadata = (("authorization", f"Bearer {token}"),)

    def call(self, rpc: str, request: Message) -> Any:
        stub = self.webhooks if rpc.endswith(("Webhook", "Webhooks")) else self.registry
        method = getattr(stub, rpc)
        if rpc == "WatchEvents":
            stream = method(request, metadata=self.metadata, timeout=10)
            try:
                return next(stream)
            finally:
                stream.cancel()
        return method(request, metadata=self.metadata, timeout=10)

    def first_event(self, request: rs.WatchEventsRequest) -> resources_pb2.AuditEvent:
        stream: Any = self.registry.WatchEvents(request, metadata=self.metadata, timeout=10)
        try:
            event: resources_pb2.AuditEvent = next(m.event for m in stream if m.HasField("event"))
            return event
        finally:
            stream.cancel()


@pytest.fixture
def wire(sqlite_server: Server) -> Iterator[Wire]:
    with grpc.insecure_channel(sqlite_server.address) as channel:
        yield Wire(channel, sqlite_server.token)


@pytest.fixture
def sdk(sqlite_server: Server) -> Iterator[Registry]:
    with Registry(sqlite_server.address, token=sqlite_server.token) as registry:
        yield registry


def bare_id_request(rpc: str, group: str) -> tuple[Message, str]:
    """Returns a request that names `group` by its bare id, and the field that does."""
    if rpc == "WatchEvents":
        return rs.WatchEventsRequest(groups=[group]), "groups[0]"
    if rpc == "CreateWebhook":
        hook = ws.Webhook(url="https://hooks.example.com/x", secret=SECRET, group=group)
        return ws.CreateWebhookRequest(webhook=hook), "webhook.group"
    if rpc == "UpdateWebhook":
        hook = ws.Webhook(name="webhooks/wh-0000000000", group=group)
        return ws.UpdateWebhookRequest(webhook=hook, update_mask=mask("group")), "webhook.group"
    return ws.ListWebhooksRequest(group=group), "group"


def mask(*paths: str) -> field_mask_pb2.FieldMask:
    return field_mask_pb2.FieldMask(paths=paths)


@pytest.mark.parametrize("rpc", ["WatchEvents", "CreateWebhook", "UpdateWebhook", "ListWebhooks"])
def test_a_bare_group_id_on_the_wire_is_refused_saying_what_to_send(
    wire: Wire, sdk: Registry, unique_group: str, rpc: str
) -> None:
    sdk.create_group(unique_group)
    request, field = bare_id_request(rpc, unique_group)
    with pytest.raises(grpc.RpcError) as refused:
        wire.call(rpc, request)
    error: Any = refused.value
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert reason_of(error) == "INVALID_FIELD"
    said = f"'{unique_group}' is not a group name; send 'groups/{unique_group}'"
    assert violations_of(error) == {field: said}
    assert error.details() == f"{field}: {said}"


def test_a_malformed_group_name_is_refused_too(wire: Wire) -> None:
    for bad in ("groups/", "groups/a/b", "Fraud Team", "groups/Fraud Team"):
        with pytest.raises(grpc.RpcError) as refused:
            wire.call("ListWebhooks", ws.ListWebhooksRequest(group=bad))
        error: Any = refused.value
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, bad
        assert set(violations_of(error)) == {"group"}, bad


def test_full_names_go_in_and_come_out_on_the_wire(
    wire: Wire, sdk: Registry, unique_group: str
) -> None:
    group = f"groups/{unique_group}"
    sdk.create_group(unique_group)
    start = sdk.verify_audit_log().head_seq
    version = register(sdk, unique_group)
    alias = sdk.set_alias(unique_group, "champion", version.version)

    created = wire.call(
        "CreateWebhook",
        ws.CreateWebhookRequest(
            webhook=ws.Webhook(url="https://hooks.example.com/a", secret=SECRET, group=group)
        ),
    )
    assert created.group == group
    assert wire.call("GetWebhook", ws.GetWebhookRequest(name=created.name)) == created
    listed = wire.call("ListWebhooks", ws.ListWebhooksRequest(group=group))
    assert list(listed.webhooks) == [created]
    # A group-less update mask leaves a stray group value alone, as it does any unmasked field.
    moved = wire.call(
        "UpdateWebhook",
        ws.UpdateWebhookRequest(
            webhook=ws.Webhook(name=created.name, url="https://hooks.example.com/b", group="x"),
            update_mask=mask("url"),
        ),
    )
    assert (moved.url, moved.group) == ("https://hooks.example.com/b", group)

    fetched = wire.registry.GetModelVersion(
        rs.GetModelVersionRequest(name=version.name), metadata=wire.metadata
    )
    assert list(fetched.aliases) == [alias.name] == [f"{group}/aliases/champion"]

    trail = wire.audit.ListAuditEvents(
        audit_service_pb2.ListAuditEventsRequest(resource=group), metadata=wire.metadata
    ).audit_events
    assert trail and all(e.group == group for e in trail)
    [alias_set] = [e for e in trail if e.action == resources_pb2.ACTION_ALIAS_SET]
    [relabelled] = alias_set.related
    assert relabelled.resource == version.name
    assert json_format.MessageToDict(relabelled.after)["aliases"] == [alias.name]
    hook_trail = wire.audit.ListAuditEvents(
        audit_service_pb2.ListAuditEventsRequest(resource=created.name), metadata=wire.metadata
    ).audit_events
    assert [e.group for e in hook_trail] == [group, group]
    assert hook_trail[0].after["group"] == hook_trail[1].after["group"] == group

    event = wire.first_event(rs.WatchEventsRequest(groups=[group], start_after=start))
    assert (event.group, event.resource) == (group, version.name)


@pytest.mark.parametrize("form", ["short", "full"])
def test_the_sdk_takes_a_group_by_id_or_by_name(
    sdk: Registry, unique_group: str, form: str
) -> None:
    given = unique_group if form == "short" else f"groups/{unique_group}"
    group = f"groups/{unique_group}"
    sdk.create_group(unique_group)
    start = sdk.verify_audit_log().head_seq

    webhook = sdk.create_webhook("https://hooks.example.com/a", secret=SECRET, group=given)
    assert webhook.group == group
    assert [w.name for w in sdk.list_webhooks(group=given)] == [webhook.name]
    cleared = sdk.update_webhook(Webhook(name=webhook.name), update_mask=["group"])
    assert cleared.group == ""
    again = sdk.update_webhook(Webhook(name=webhook.name, group=given), update_mask=["group"])
    assert again.group == group

    with sdk.watch(groups=[given], start_after=start) as events:
        first = next(iter(events))
    assert (first.group, first.resource) == (group, webhook.name)


def test_the_cli_takes_a_group_by_id_or_by_name(
    sqlite_server: Server, sdk: Registry, unique_group: str, tmp_path: Path
) -> None:
    sdk.create_group(unique_group)
    secret = tmp_path / "secret"
    secret.write_text(SECRET)

    def cli(*args: str) -> Any:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MODELYARD_")}
        env |= {"MODELYARD_ADDRESS": sqlite_server.address, "MODELYARD_TOKEN": sqlite_server.token}
        done = subprocess.run(
            [str(Path(sys.executable).parent / "modelyard"), "--json", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    url = "https://hooks.example.com/cli"
    by_name = cli("webhooks", "create", url, "--secret-file", str(secret), "--group",
                  f"groups/{unique_group}")  # fmt: skip
    by_id = cli("webhooks", "create", url, "--secret-file", str(secret), "--group", unique_group)
    assert by_name["group"] == by_id["group"] == f"groups/{unique_group}"
    listed = cli("webhooks", "list", "--group", unique_group)
    assert [w["name"] for w in listed] == [by_name["name"], by_id["name"]]


def test_grpcurl_describe_shows_the_annotations_with_the_comments(
    sqlite_server: Server,
) -> None:
    def describe(symbol: str) -> str:
        done = subprocess.run(
            [str(Path(sys.executable).parent / "grpcurl"), "-plaintext", sqlite_server.address,
             "describe", symbol],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    group = describe("modelyard.v1.ModelGroup")
    assert 'pattern:"groups/{group}"' in group
    assert "string name = 1 [(.google.api.field_behavior) = IDENTIFIER];" in group
    assert "Output only. The principal that created the group." in group
    watch = describe("modelyard.v1.WatchEventsRequest")
    assert 'resource_reference) = { type:"modelyard.dev/ModelGroup"' in watch
    assert "IDENTIFIER = 8;" in describe("google.api.FieldBehavior")  # the imports resolve
