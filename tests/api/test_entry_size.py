"""How large a version may be, and that every log entry the server accepted reaches a
watch and a page of the audit log, however many versions it holds."""

from __future__ import annotations

import json

import grpc
import pytest
from google.protobuf import json_format
from modelyard import Action, ApprovalPolicy, ModelVersion, Registry, Stage, errors
from modelyard.v1 import resources_pb2 as pb

from tests.support.servers import Server
from tests.support.versions import register

LIMIT = 512 * 1024  # bytes of a version's JSON form, as the proto comment of ModelVersion says
WIDE = "\U0001f600"  # four bytes in UTF-8
GRPC_DEFAULT_MAX = 4 * 1024 * 1024


def json_size(card: pb.ModelCard, base: pb.ModelVersion) -> int:
    """Returns the size of the JSON form of `base` with `card`, as the log writes it."""
    version = pb.ModelVersion()
    version.CopyFrom(base)
    version.model_card.CopyFrom(card)
    form = json_format.MessageToDict(version, preserving_proto_field_name=True)
    text = json.dumps(form, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return len(text.encode())


def card_of_size(size: int, base: pb.ModelVersion) -> pb.ModelCard:
    """Returns a model card that makes `base` exactly `size` bytes as JSON (each text field
    within its own limit of 65536 characters)."""
    card = pb.ModelCard(intended_use=WIDE * 65536, training_data=WIDE * 60000, limitations="x")
    card.limitations = "x" * (size - json_size(card, base) + 1)
    assert json_size(card, base) == size
    return card


def sent(registry: Registry, group: str, uri: str, sha: str) -> pb.ModelVersion:
    """Returns the version `register` sends for these fields (no model card yet)."""
    return pb.ModelVersion(
        artifact=pb.Artifact(uri=uri, sha256=sha, format=pb.ARTIFACT_FORMAT_OTHER)
    )


def test_a_version_at_the_limit_is_registered_and_read_back_through_watch_and_audit(
    registry: Registry, unique_group: str
) -> None:
    registry.create_group(unique_group)
    uri, digest = f"s3://models/{unique_group}/1.onnx", "a" * 64
    card = card_of_size(LIMIT, sent(registry, unique_group, uri, digest))
    with registry.watch(groups=[unique_group]) as events:
        version = registry.register(unique_group, uri=uri, sha256=digest, model_card=card)
        event = next(iter(events))
    assert event.action == Action.MODEL_VERSION_CREATED and event.resource == version.name
    assert event.after is not None
    assert event.after["model_card"]["limitations"] == card.limitations
    [listed] = registry.list_audit_events(resource=version.name)
    assert listed.proto == event.proto
    assert registry.get_version(version.name).model_card == version.model_card


def test_a_version_one_byte_over_the_limit_is_refused_naming_its_size_and_the_limit(
    registry: Registry, unique_group: str
) -> None:
    registry.create_group(unique_group)
    uri, digest = f"s3://models/{unique_group}/1.onnx", "b" * 64
    card = card_of_size(LIMIT + 1, sent(registry, unique_group, uri, digest))
    with pytest.raises(errors.InvalidArgument) as caught:
        registry.register(unique_group, uri=uri, sha256=digest, model_card=card)
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert f"is {LIMIT + 1} bytes" in caught.value.message
    assert f"the limit is {LIMIT} bytes" in caught.value.message
    assert [e.action for e in registry.list_audit_events(resource=f"groups/{unique_group}")] == [
        Action.MODEL_GROUP_CREATED
    ]


def test_an_update_that_takes_a_version_over_the_limit_is_refused(
    registry: Registry, unique_group: str
) -> None:
    registry.create_group(unique_group)
    uri, digest = f"s3://models/{unique_group}/1.onnx", "c" * 64
    card = card_of_size(LIMIT - 100, sent(registry, unique_group, uri, digest))
    version = registry.register(unique_group, uri=uri, sha256=digest, model_card=card)
    with pytest.raises(errors.InvalidArgument) as caught:
        registry.update_version(
            ModelVersion(name=version.name, description="d" * 200), update_mask=["description"]
        )
    assert f"the limit is {LIMIT} bytes" in caught.value.message
    assert registry.get_version(version.name).etag == version.etag


@pytest.mark.timeout(120)
def test_an_entry_larger_than_grpcs_default_message_reaches_watch_and_the_audit_log(
    sqlite_server: Server, unique_group: str
) -> None:
    """A promotion archives every production version in the same change: its entry holds
    each of them before and after. With five versions at the limit that is over 4 MiB, the
    message size gRPC refuses by default; the SDK takes it."""
    with Registry(sqlite_server.address, token=sqlite_server.token, timeout=60) as registry:
        registry.create_group(unique_group)
        registry.update_approval_policy(
            ApprovalPolicy(
                name=f"groups/{unique_group}/approvalPolicy",
                allow_self_approval=True,
                max_production_versions=10,
            ),
            update_mask=["allow_self_approval", "max_production_versions"],
        )
        names = []
        for i in range(5):
            uri, digest = f"s3://models/{unique_group}/{i}.onnx", f"{i}" * 64
            card = card_of_size(LIMIT, sent(registry, unique_group, uri, digest))
            version = register(registry, unique_group, uri=uri, sha256=digest, model_card=card)
            registry.approve(version.name, reason="evaluated")
            registry.transition(version.name, Stage.STAGING)
            names.append(version.name)
        for name in names[:4]:
            registry.promote(name, keep_existing_production=True)
        with registry.watch(groups=[unique_group], actions=[Action.STAGE_CHANGED]) as events:
            registry.promote(names[4])
            event = next(iter(events))
        assert event.resource == names[4]
        assert sorted(change.resource for change in event.related) == sorted(names[:4])
        assert event.proto.ByteSize() > GRPC_DEFAULT_MAX
        page = next(iter(registry.list_audit_events(resource=names[4], newest_first=True).pages))
        assert page.audit_events[0] == event.proto
