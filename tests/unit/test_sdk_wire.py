"""The SDK on the wire: errors, retries, metadata, deadlines and pagers.

These tests run the real clients against a small gRPC server started in the test, which
implements RegistryService from the generated servicer base and answers with exactly the
statuses, trailers and pages each test needs. The behaviour against the real modelyard
server is in tests/api/test_sdk_registry.py.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from concurrent import futures

import grpc
import modelyard
import pytest
from google.protobuf import empty_pb2
from google.rpc import error_details_pb2, status_pb2
from modelyard import errors
from modelyard.v1 import errors_pb2, registry_service_pb2, registry_service_pb2_grpc
from modelyard.v1 import resources_pb2 as pb

from tests.support.paths import REPO

ERRORS_PROTO = REPO / "protos" / "modelyard" / "v1" / "errors.proto"


def documented_codes() -> dict[str, grpc.StatusCode]:
    """Returns each ErrorReason's status code, as errors.proto's comments document it."""
    codes: dict[str, grpc.StatusCode] = {}
    code: grpc.StatusCode | None = None
    for line in ERRORS_PROTO.read_text().splitlines():
        comment = re.match(r"\s*//\s*([A-Z_]+):", line)
        if comment and comment.group(1) in grpc.StatusCode.__members__:
            code = grpc.StatusCode[comment.group(1)]
        value = re.match(r"\s*([A-Z_]+)\s*=\s*\d+;", line)
        if value and code is not None:
            codes[value.group(1)] = code
            code = None
    return codes


REASON_CODES = documented_codes()


class WireServer(registry_service_pb2_grpc.RegistryServiceServicer):
    """Answers as each test needs; records every call it receives."""

    def __init__(self, group_count: int = 7) -> None:
        self.groups = [pb.ModelGroup(name=f"groups/g{i:03d}") for i in range(group_count)]
        self.unavailable_left = 0
        self.calls: list[tuple[str, object, dict[str, str]]] = []
        self._lock = threading.Lock()

    def _enter(self, method: str, request: object, context: grpc.ServicerContext) -> None:
        with self._lock:
            md = {k: v for k, v in context.invocation_metadata() if isinstance(v, str)}
            self.calls.append((method, request, md))
            fail = self.unavailable_left > 0
            if fail:
                self.unavailable_left -= 1
        if fail:
            context.abort(grpc.StatusCode.UNAVAILABLE, "server restarting")

    def calls_to(self, method: str) -> list[tuple[object, dict[str, str]]]:
        return [(req, md) for m, req, md in self.calls if m == method]

    @staticmethod
    def fail(
        context: grpc.ServicerContext,
        code: grpc.StatusCode,
        message: str,
        reason: str = "",
        metadata: dict[str, str] | None = None,
        violations: tuple[tuple[str, str], ...] = (),
    ) -> None:
        status = status_pb2.Status(code=code.value[0], message=message)
        if reason:
            info = error_details_pb2.ErrorInfo(
                reason=reason, domain=errors.ERROR_DOMAIN, metadata=metadata or {}
            )
            status.details.add().Pack(info)
        if violations:
            bad = error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(field=f, description=d)
                    for f, d in violations
                ]
            )
            status.details.add().Pack(bad)
        context.set_trailing_metadata((("grpc-status-details-bin", status.SerializeToString()),))
        context.abort(code, message)

    def GetModelGroup(
        self, request: registry_service_pb2.GetModelGroupRequest, context: grpc.ServicerContext
    ) -> pb.ModelGroup:
        self._enter("GetModelGroup", request, context)
        group_id = request.name.removeprefix("groups/")
        if group_id.startswith("reason-"):
            reason = group_id.removeprefix("reason-")
            self.fail(context, REASON_CODES[reason], f"failed with {reason}", reason)
        if group_id == "mismatch":
            # A reason paired with a code other than the one it documents.
            self.fail(context, grpc.StatusCode.FAILED_PRECONDITION, "odd", "MODEL_GROUP_NOT_FOUND")
        if group_id == "bare-not-found":
            context.abort(grpc.StatusCode.NOT_FOUND, "nothing here")
        if group_id == "slow":
            time.sleep(2)
        return pb.ModelGroup(name=request.name)

    def ListModelGroups(
        self, request: registry_service_pb2.ListModelGroupsRequest, context: grpc.ServicerContext
    ) -> registry_service_pb2.ListModelGroupsResponse:
        self._enter("ListModelGroups", request, context)
        if request.filter == "bad":
            self.fail(
                context, grpc.StatusCode.INVALID_ARGUMENT, "filter: no field bad", "INVALID_FILTER"
            )
        start = int(request.page_token or 0)
        size = request.page_size or 3
        page = self.groups[start : start + size]
        following = start + size
        return registry_service_pb2.ListModelGroupsResponse(
            model_groups=page,
            next_page_token=str(following) if following < len(self.groups) else "",
        )

    def CreateModelVersion(
        self,
        request: registry_service_pb2.CreateModelVersionRequest,
        context: grpc.ServicerContext,
    ) -> pb.ModelVersion:
        self._enter("CreateModelVersion", request, context)
        sha = request.model_version.artifact.sha256
        if not sha:
            self.fail(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                "model_version has invalid fields",
                "INVALID_FIELD",
                violations=(("model_version.artifact.sha256", "is required"),),
            )
        if sha == "d" * 64:
            self.fail(
                context,
                grpc.StatusCode.ALREADY_EXISTS,
                "these bytes are registered already",
                "DUPLICATE_ARTIFACT",
                metadata={"existing_version": f"{request.parent}/versions/1"},
            )
        version = pb.ModelVersion()
        version.CopyFrom(request.model_version)
        version.name = f"{request.parent}/versions/2"
        version.version = 2
        return version

    def UpdateModelVersion(
        self,
        request: registry_service_pb2.UpdateModelVersionRequest,
        context: grpc.ServicerContext,
    ) -> pb.ModelVersion:
        self._enter("UpdateModelVersion", request, context)
        return request.model_version

    def DeleteModelGroup(
        self,
        request: registry_service_pb2.DeleteModelGroupRequest,
        context: grpc.ServicerContext,
    ) -> empty_pb2.Empty:
        self._enter("DeleteModelGroup", request, context)
        return empty_pb2.Empty()


@pytest.fixture
def wire() -> Iterator[tuple[WireServer, str]]:
    # The methods the tests do not need are left to the generated base, which answers
    # UNIMPLEMENTED as an older server would.
    servicer = WireServer()  # type: ignore[abstract]
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    registry_service_pb2_grpc.add_RegistryServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield servicer, f"127.0.0.1:{port}"
    finally:
        server.stop(grace=None)


@pytest.fixture
def client(wire: tuple[WireServer, str]) -> Iterator[modelyard.Registry]:
    with modelyard.Registry(wire[1], token="t0ken", timeout=5) as reg:
        yield reg


@pytest.fixture
def wire_server(wire: tuple[WireServer, str]) -> WireServer:
    return wire[0]


# Errors


def test_every_error_reason_has_an_exception_class() -> None:
    reasons = [n for n in errors_pb2.ErrorReason.keys() if n != "ERROR_REASON_UNSPECIFIED"]  # noqa: SIM118
    missing = [r for r in reasons if r not in errors.REASON_CLASSES]
    assert missing == [], f"add exception classes to modelyard/errors.py for {missing}"
    assert set(errors.REASON_CLASSES) == set(reasons)


def test_each_reason_class_sits_under_the_code_errors_proto_documents() -> None:
    assert set(REASON_CODES) == set(errors.REASON_CLASSES)
    for reason, code in REASON_CODES.items():
        assert issubclass(errors.REASON_CLASSES[reason], errors.STATUS_CLASSES[code]), reason


def test_every_reason_class_is_exported_from_the_package() -> None:
    for cls in errors.REASON_CLASSES.values():
        assert getattr(modelyard, cls.__name__) is cls
        assert cls.__name__ in modelyard.__all__


@pytest.mark.parametrize("reason", sorted(REASON_CODES))
def test_a_reason_from_the_server_raises_its_class(client: modelyard.Registry, reason: str) -> None:
    with pytest.raises(errors.REASON_CLASSES[reason]) as caught:
        client.get_group(f"reason-{reason}")
    err = caught.value
    assert err.code == REASON_CODES[reason]
    assert err.reason == reason
    assert err.message == f"failed with {reason}"
    assert str(err) == f"{reason}: failed with {reason}"


@pytest.mark.parametrize("reason", ["MODEL_GROUP_NOT_FOUND", "STALE_ETAG", "UNAUTHENTICATED"])
async def test_the_async_client_raises_the_same_classes(
    wire: tuple[WireServer, str], reason: str
) -> None:
    async with modelyard.AsyncRegistry(wire[1], token="t0ken", timeout=5) as registry:
        with pytest.raises(errors.REASON_CLASSES[reason]) as caught:
            await registry.get_group(f"reason-{reason}")
    assert caught.value.reason == reason


def test_bad_fields_come_with_field_violations(client: modelyard.Registry) -> None:
    with pytest.raises(modelyard.InvalidField) as caught:
        client.register("fraud", uri="s3://b/k", sha256="")
    assert caught.value.field_violations == [("model_version.artifact.sha256", "is required")]
    assert "model_version.artifact.sha256: is required" in str(caught.value)


def test_duplicate_artifact_names_the_existing_version(client: modelyard.Registry) -> None:
    with pytest.raises(modelyard.DuplicateArtifact) as caught:
        client.register("fraud", uri="s3://b/k", sha256="d" * 64)
    assert caught.value.existing_version == "groups/fraud/versions/1"
    assert isinstance(caught.value, modelyard.AlreadyExists)


def test_a_reason_under_an_unexpected_code_raises_the_code_class(
    client: modelyard.Registry,
) -> None:
    with pytest.raises(modelyard.FailedPrecondition) as caught:
        client.get_group("mismatch")
    assert not isinstance(caught.value, modelyard.ModelGroupNotFound)
    assert caught.value.reason == "MODEL_GROUP_NOT_FOUND"


def test_an_older_server_without_the_method_raises_unimplemented(
    client: modelyard.Registry,
) -> None:
    with pytest.raises(modelyard.Unimplemented):
        client.get_version("fraud", 1)


def test_a_status_without_details_raises_the_code_class_named_by_its_code(
    client: modelyard.Registry,
) -> None:
    with pytest.raises(modelyard.NotFound) as caught:
        client.get_group("bare-not-found")
    assert type(caught.value) is modelyard.NotFound
    assert caught.value.reason == "NOT_FOUND"
    assert caught.value.message == "nothing here"
    assert caught.value.metadata == {}


def test_no_server_listening_raises_unavailable_after_the_attempts() -> None:
    with (
        socket_closed_port() as address,
        modelyard.Registry(address, token="x", max_attempts=2, timeout=5) as registry,
        pytest.raises(modelyard.Unavailable) as caught,
    ):
        registry.get_group("fraud")
    assert caught.value.code == grpc.StatusCode.UNAVAILABLE


class socket_closed_port:
    """An address on which nothing listens."""

    def __enter__(self) -> str:
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        return f"127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        return None


# Retries, request ids, metadata and deadlines


def test_unavailable_is_retried_with_the_same_request_id(
    wire_server: WireServer, client: modelyard.Registry
) -> None:
    wire_server.unavailable_left = 2
    version = client.register("fraud", uri="s3://b/k", sha256="a" * 64)
    assert version.version == 2
    attempts = wire_server.calls_to("CreateModelVersion")
    assert len(attempts) == 3
    ids = {req.request_id for req, _ in attempts}  # type: ignore[attr-defined]
    assert len(ids) == 1
    assert len(ids.pop()) == 36  # a uuid4


def test_reads_are_retried_on_unavailable_too(
    wire_server: WireServer, client: modelyard.Registry
) -> None:
    wire_server.unavailable_left = 1
    assert client.get_group("fraud").name == "groups/fraud"
    assert len(wire_server.calls_to("GetModelGroup")) == 2


def test_retries_stop_after_max_attempts(
    wire_server: WireServer, wire: tuple[WireServer, str]
) -> None:
    wire_server.unavailable_left = 100
    with (
        modelyard.Registry(wire[1], token="t", max_attempts=3) as registry,
        pytest.raises(modelyard.Unavailable),
    ):
        registry.get_group("fraud")
    assert len(wire_server.calls_to("GetModelGroup")) == 3


def test_errors_other_than_unavailable_are_not_retried(
    wire_server: WireServer, client: modelyard.Registry
) -> None:
    with pytest.raises(modelyard.InvalidField):
        client.register("fraud", uri="s3://b/k", sha256="")
    assert len(wire_server.calls_to("CreateModelVersion")) == 1


def test_a_request_id_given_by_the_caller_is_sent_as_is(
    wire_server: WireServer, client: modelyard.Registry
) -> None:
    client.register("fraud", uri="s3://b/k", sha256="a" * 64, request_id="deploy-42")
    client.delete_group("fraud")
    ((create, _),) = wire_server.calls_to("CreateModelVersion")
    ((delete, _),) = wire_server.calls_to("DeleteModelGroup")
    assert create.request_id == "deploy-42"  # type: ignore[attr-defined]
    assert delete.request_id != ""  # type: ignore[attr-defined]


def test_the_bearer_token_and_the_callers_metadata_are_sent(
    wire_server: WireServer, client: modelyard.Registry
) -> None:
    client.get_group("fraud", metadata=[("x-team", "risk")])
    ((_, md),) = wire_server.calls_to("GetModelGroup")
    assert md["authorization"] == "Bearer t0ken"
    assert md["x-team"] == "risk"
    assert md["user-agent"].startswith("modelyard-python/")


def test_an_authorization_in_the_callers_metadata_replaces_the_token(
    wire_server: WireServer, client: modelyard.Registry
) -> None:
    client.get_group("fraud", metadata=[("authorization", "Bearer other")])
    ((_, md),) = wire_server.calls_to("GetModelGroup")
    assert md["authorization"] == "Bearer other"


def test_a_call_past_its_timeout_raises_deadline_exceeded(client: modelyard.Registry) -> None:
    # The handler answers after 2 s; without the 0.3 s deadline the call would succeed.
    with pytest.raises(modelyard.DeadlineExceeded):
        client.get_group("slow", timeout=0.3)


def test_set_tag_sends_one_update_of_that_tag(
    wire_server: WireServer, client: modelyard.Registry
) -> None:
    client.set_tag("fraud", 3, "owner", "ana")
    ((request, _),) = wire_server.calls_to("UpdateModelVersion")
    assert isinstance(request, registry_service_pb2.UpdateModelVersionRequest)
    assert request.model_version.name == "groups/fraud/versions/3"
    assert dict(request.model_version.tags) == {"owner": "ana"}
    assert list(request.update_mask.paths) == ["tags.owner"]
    assert request.request_id


# Pagers


def test_iterating_a_pager_yields_every_item_across_pages(
    wire_server: WireServer, client: modelyard.Registry
) -> None:
    names = [g.name for g in client.list_groups()]
    assert names == [g.name for g in wire_server.groups]
    assert [r.page_token for r, _ in wire_server.calls_to("ListModelGroups")] == ["", "3", "6"]  # type: ignore[attr-defined]


def test_a_pager_fetches_pages_only_as_they_are_reached(
    wire_server: WireServer, client: modelyard.Registry
) -> None:
    pager = client.list_groups(page_size=2)
    assert len(wire_server.calls_to("ListModelGroups")) == 1
    first_two = [g for _, g in zip(range(2), pager, strict=False)]
    assert len(first_two) == 2
    assert len(wire_server.calls_to("ListModelGroups")) == 1


def test_pages_yields_the_raw_responses(
    wire_server: WireServer, client: modelyard.Registry
) -> None:
    pages = list(client.list_groups(page_size=3).pages)
    assert [len(p.model_groups) for p in pages] == [3, 3, 1]
    assert [p.next_page_token for p in pages] == ["3", "6", ""]


def test_page_requests_keep_the_filter_and_order(
    wire_server: WireServer, client: modelyard.Registry
) -> None:
    list(client.list_groups(filter='tags.team = "risk"', order_by="name desc", page_size=3))
    for request, _ in wire_server.calls_to("ListModelGroups"):
        assert isinstance(request, registry_service_pb2.ListModelGroupsRequest)
        assert request.filter == 'tags.team = "risk"'
        assert request.order_by == "name desc"
        assert request.page_size == 3


def test_a_bad_filter_raises_at_the_list_call(client: modelyard.Registry) -> None:
    with pytest.raises(modelyard.InvalidFilter, match="no field bad"):
        client.list_groups(filter="bad")


def test_an_empty_list_yields_nothing(wire: tuple[WireServer, str]) -> None:
    wire[0].groups = []
    with modelyard.Registry(wire[1], token="t") as registry:
        assert list(registry.list_groups()) == []
        assert len(list(registry.list_groups().pages)) == 1


async def test_async_pagers_iterate_items_and_pages(wire: tuple[WireServer, str]) -> None:
    server, address = wire
    async with modelyard.AsyncRegistry(address, token="t") as registry:
        pager = await registry.list_groups(page_size=3)
        names = [g.name async for g in pager]
        sizes = [len(p.model_groups) async for p in pager.pages]
    assert names == [g.name for g in server.groups]
    assert sizes == [3, 3, 1]


async def test_async_retries_unavailable_with_the_same_request_id(
    wire: tuple[WireServer, str],
) -> None:
    server, address = wire
    server.unavailable_left = 1
    async with modelyard.AsyncRegistry(address, token="t") as registry:
        await registry.register("fraud", uri="s3://b/k", sha256="a" * 64)
    attempts = server.calls_to("CreateModelVersion")
    assert len(attempts) == 2
    assert attempts[0][0].request_id == attempts[1][0].request_id  # type: ignore[attr-defined]


async def test_an_async_registry_can_be_built_outside_the_event_loop(
    wire: tuple[WireServer, str],
) -> None:
    registry = modelyard.AsyncRegistry(wire[1], token="t")
    try:
        assert (await registry.get_group("fraud")).name == "groups/fraud"
    finally:
        await registry.close()
