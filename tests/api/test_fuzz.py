"""Every RPC, fuzzed from its descriptor as a hostile caller would: whatever it is sent, the
server answers with a typed status that carries ErrorInfo, never INTERNAL or UNKNOWN, never
a traceback, never a half-written change, and stays healthy.

Requests are built by tests/support/fuzz.py from the request's descriptor, biased toward the
names of a small world this module registers first (groups with versions, approvals,
production history, aliases, a protected alias and webhooks with deliveries), so that they
get past parsing into the code behind it; corrupted bytes of such requests test the parsing
itself. The methods come from the generated descriptors: a new RPC is fuzzed without a
change here, and a service the server serves without being fuzzed fails
`test_every_served_service_is_fuzzed`.

Budget: EXAMPLES requests per RPC and a third as many corrupted ones (the `dev` and `ci`
profiles), about 30 s for the file on SQLite. CI (the CI variable set) runs the `ci`
profile, derandomized: the same examples on every run. Local runs draw new ones each time;
`HYPOTHESIS_PROFILE=deep` runs many more, and `MODELYARD_FUZZ_BACKEND=postgres` fuzzes a
server on PostgreSQL instead. An input that fails goes, once fixed, into the table of
tests/api/test_bad_input.py, which runs on both backends.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from collections.abc import Iterator
from typing import Any

import google.rpc.error_details_pb2 as error_details_pb2
import grpc
import modelyard.v1
import pytest
from google.protobuf import empty_pb2, field_mask_pb2, text_format
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from modelyard.v1 import approval_service_pb2 as aps
from modelyard.v1 import audit_service_pb2 as aus
from modelyard.v1 import errors_pb2 as reasons
from modelyard.v1 import registry_service_pb2 as rs
from modelyard.v1 import resources_pb2 as pb
from modelyard.v1 import webhook_service_pb2 as ws

from tests.support import invariants
from tests.support.factory import ServerFactory
from tests.support.fuzz import Names, Strategies, method_classes, resource_patterns
from tests.support.inprocess import InProcessServer
from tests.support.status import status_details
from tests.support.stubs import bearer
from tests.support.versions import sha

EXAMPLES = 60
settings.register_profile("dev", max_examples=EXAMPLES)
settings.register_profile("ci", max_examples=EXAMPLES, derandomize=True, database=None)
settings.register_profile("deep", max_examples=2000)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
)

# A failing request may hold a 70 000-character string: show it whole.
pytestmark = [
    pytest.mark.fuzz,
    pytest.mark.filterwarnings(
        "ignore:Generating overly large repr:hypothesis.errors.HypothesisWarning"
    ),
]

FUZZ = settings(
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # the world is seeded once per RPC, on purpose
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)

REASONS = frozenset(reasons.ErrorReason.keys())
# What a message shows only when the server lets an exception through: a traceback, the
# database driver's words, an object's repr.
LEAKS = ("Traceback", 'File "', "sqlalchemy", "sqlite3", "asyncpg", "object at 0x")
# Statuses a server-streaming call may end with when the client stops reading.
STREAM_ENDINGS = {grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED}
CALL_TIMEOUT = 20.0
WATCH_TIMEOUT = 1.0


def _services() -> list[ServiceDescriptor]:
    """Returns every service the generated modelyard.v1 modules define."""
    services = []
    for module_info in pkgutil.iter_modules(modelyard.v1.__path__):
        if not module_info.name.endswith("_pb2"):
            continue
        module = importlib.import_module(f"modelyard.v1.{module_info.name}")
        services.extend(module.DESCRIPTOR.services_by_name.values())
    return sorted(services, key=lambda s: s.full_name)


SERVICES = _services()
METHODS = [method for service in SERVICES for method in service.methods]
PATTERNS = resource_patterns(*(m.input_type for m in METHODS), *(m.output_type for m in METHODS))


def _method_id(method: MethodDescriptor) -> str:
    return f"{method.containing_service.name}.{method.name}"


# The world the fuzzer's requests name


class World:
    """A fuzz server, its principals and the names that exist on it."""

    def __init__(self, server: InProcessServer, channel: grpc.Channel) -> None:
        self.server = server
        self.channel = channel
        self.admin = bearer(server.token)
        self.viewer = bearer(server.mint_token("fuzz-viewer", "viewer"))
        self.contributor = bearer(server.mint_token("fuzz-contributor", "contributor"))
        self.names = Names()
        self.seeded = 0
        # Whether requests were fuzzed since the invariants were last checked.
        self.fuzzed = False

    def __repr__(self) -> str:
        return f"World({self.server.address}, seeded {self.seeded} times)"

    def call(self, path: str, request: Message, response: type[Message], **kw: Any) -> Any:
        stub = self.channel.unary_unary(
            path,
            request_serializer=type(request).SerializeToString,
            response_deserializer=response.FromString,
        )
        return stub(request, timeout=CALL_TIMEOUT, **kw)

    def seed(self) -> None:
        """Registers a fresh set of resources and adds their names to the pool: a group with
        an approved version in production, an archived former production one and a pending
        one, aliases (one protected), a group whose version depends on it, an empty group, a
        webhook with deliveries, and page tokens of every list."""
        self.seeded += 1
        n = self.seeded
        alpha, beta, empty = f"fz{n}-alpha", f"fz{n}-beta", f"fz{n}-empty"
        registry = "/modelyard.v1.RegistryService/"
        approval = "/modelyard.v1.ApprovalService/"
        webhooks = "/modelyard.v1.WebhookService/"
        admin, contributor = self.admin, self.contributor
        for group in (alpha, beta, empty):
            self.call(
                registry + "CreateModelGroup",
                rs.CreateModelGroupRequest(
                    model_group_id=group, model_group=pb.ModelGroup(tags={"team": "risk"})
                ),
                pb.ModelGroup,
                metadata=admin,
            )
        hook = self.call(
            webhooks + "CreateWebhook",
            ws.CreateWebhookRequest(
                webhook=ws.Webhook(
                    url="http://127.0.0.1:9/hook", secret="s" * 16, group=f"groups/{alpha}"
                )
            ),
            ws.Webhook,
            metadata=admin,
        )
        versions = []
        for i in range(3):
            digest = sha(f"{alpha}-{i}")
            version = self.call(
                registry + "CreateModelVersion",
                rs.CreateModelVersionRequest(
                    parent=f"groups/{alpha}",
                    model_version=pb.ModelVersion(
                        artifact=pb.Artifact(uri=f"s3://fuzz/{alpha}/{i}", sha256=digest),
                        metrics={"auc": 0.5 + i / 10},
                        tags={"team": "risk"},
                        model_card=pb.ModelCard(intended_use="fuzzing"),
                    ),
                ),
                pb.ModelVersion,
                metadata=contributor,
            )
            versions.append(version.name)
            self.names.sha256s.append(digest)
        v1, v2, v3 = versions
        self.call(
            registry + "CreateModelVersion",
            rs.CreateModelVersionRequest(
                parent=f"groups/{beta}",
                model_version=pb.ModelVersion(
                    artifact=pb.Artifact(uri=f"s3://fuzz/{beta}", sha256=sha(beta)),
                    lineage=pb.Lineage(depends_on=[v1], parent_versions=[v2]),
                ),
            ),
            pb.ModelVersion,
            metadata=contributor,
        )
        for name in (v1, v2):
            self.call(
                approval + "ApproveModelVersion",
                aps.ApproveModelVersionRequest(name=name, reason="fuzz world"),
                pb.ModelVersion,
                metadata=admin,
            )
            for stage in (pb.STAGE_STAGING, pb.STAGE_PRODUCTION):
                self.call(
                    registry + "TransitionModelVersionStage",
                    rs.TransitionModelVersionStageRequest(name=name, stage=stage),
                    rs.TransitionModelVersionStageResponse,
                    metadata=admin,
                )
        for alias, target in (("champion", v2), ("challenger", v3)):
            self.call(
                registry + "SetAlias",
                rs.SetAliasRequest(
                    alias=pb.Alias(name=f"groups/{alpha}/aliases/{alias}", version=target)
                ),
                pb.Alias,
                metadata=admin,
            )
        policy = self.call(
            approval + "UpdateApprovalPolicy",
            aps.UpdateApprovalPolicyRequest(
                approval_policy=pb.ApprovalPolicy(
                    name=f"groups/{alpha}/approvalPolicy", protected_aliases=["champion"]
                ),
                update_mask=field_mask_pb2.FieldMask(paths=["protected_aliases"]),
            ),
            pb.ApprovalPolicy,
            metadata=admin,
        )
        names = self.names
        names.add("modelyard.dev/ModelGroup", *(f"groups/{g}" for g in (alpha, beta, empty)))
        names.add("modelyard.dev/ModelVersion", *versions, f"groups/{beta}/versions/1")
        names.add(
            "modelyard.dev/Alias",
            *(f"groups/{alpha}/aliases/{a}" for a in ("champion", "challenger")),
        )
        names.add("modelyard.dev/ApprovalPolicy", policy.name)
        names.add("modelyard.dev/Webhook", hook.name)
        names.etags.extend([hook.etag, policy.etag])
        names.subjects.extend(["admin", "fuzz-contributor"])
        self._collect_deliveries(hook.name)
        self._collect_tokens(alpha, v1)

    def _collect_deliveries(self, hook: str) -> None:
        """Names the webhook's deliveries: one per event after its creation, named by the
        event's seq, made by the worker soon after the event commits."""
        reply = self.call(
            "/modelyard.v1.AuditService/ListAuditEvents",
            aus.ListAuditEventsRequest(page_size=3, newest_first=True),
            aus.ListAuditEventsResponse,
            metadata=self.admin,
        )
        self.names.add(
            "modelyard.dev/WebhookDelivery",
            *(f"{hook}/deliveries/{event.seq}" for event in reply.audit_events),
        )

    def forget_webhooks(self) -> None:
        """Deletes every webhook but those of the last world: each one gets a delivery of every
        later event, and the fuzz makes dozens."""
        keep = set(self.names.of("modelyard.dev/Webhook")[-1:])
        reply = self.call(
            "/modelyard.v1.WebhookService/ListWebhooks",
            ws.ListWebhooksRequest(page_size=1000),
            ws.ListWebhooksResponse,
            metadata=self.admin,
        )
        for hook in reply.webhooks:
            if hook.name not in keep:
                self.call(
                    "/modelyard.v1.WebhookService/DeleteWebhook",
                    ws.DeleteWebhookRequest(name=hook.name),
                    empty_pb2.Empty,
                    metadata=self.admin,
                )

    def _collect_tokens(self, group: str, version: str) -> None:
        """Lists one item at a time from every list, to keep the tokens of the next pages."""
        lists: list[tuple[str, Message, type[Message]]] = [
            (
                "/modelyard.v1.RegistryService/ListModelGroups",
                rs.ListModelGroupsRequest(page_size=1),
                rs.ListModelGroupsResponse,
            ),
            (
                "/modelyard.v1.RegistryService/ListModelGroups",
                rs.ListModelGroupsRequest(page_size=1, order_by="create_time desc"),
                rs.ListModelGroupsResponse,
            ),
            (
                "/modelyard.v1.RegistryService/ListModelVersions",
                rs.ListModelVersionsRequest(parent=f"groups/{group}", page_size=1),
                rs.ListModelVersionsResponse,
            ),
            (
                "/modelyard.v1.RegistryService/ListModelVersions",
                rs.ListModelVersionsRequest(
                    parent="groups/-", page_size=1, order_by="metrics.auc desc"
                ),
                rs.ListModelVersionsResponse,
            ),
            (
                "/modelyard.v1.RegistryService/ListAliases",
                rs.ListAliasesRequest(parent=f"groups/{group}", page_size=1),
                rs.ListAliasesResponse,
            ),
            (
                "/modelyard.v1.ApprovalService/ListApprovals",
                aps.ListApprovalsRequest(parent=f"groups/{group}", page_size=1),
                aps.ListApprovalsResponse,
            ),
            (
                "/modelyard.v1.ApprovalService/ListApprovals",
                aps.ListApprovalsRequest(parent=version, page_size=1),
                aps.ListApprovalsResponse,
            ),
            (
                "/modelyard.v1.AuditService/ListAuditEvents",
                aus.ListAuditEventsRequest(page_size=1),
                aus.ListAuditEventsResponse,
            ),
            (
                "/modelyard.v1.WebhookService/ListWebhooks",
                ws.ListWebhooksRequest(page_size=1),
                ws.ListWebhooksResponse,
            ),
        ]
        for path, request, response in lists:
            reply = self.call(path, request, response, metadata=self.admin)
            token = getattr(reply, "next_page_token", "")
            if token:
                self.names.page_tokens.append(token)


@pytest.fixture(scope="module")
def world(server_factory: ServerFactory) -> Iterator[World]:
    """A server of the fuzzer's own: it registers webhooks to made-up URLs and deletes what
    it can name, which other tests sharing a server should not see. Deliveries give up at
    once, against a port where nothing listens."""
    with (
        server_factory(
            os.environ.get("MODELYARD_FUZZ_BACKEND", "sqlite"),
            webhook_max_attempts="1",
            webhook_timeout_seconds="1",
            webhook_backoff_seconds="0.1",
        ) as server,
        grpc.insecure_channel(server.address) as channel,
    ):
        world = World(server, channel)
        yield world
        # Under pytest-xdist the invariants test may run in another worker: check here then.
        if world.fuzzed:
            assert invariants.problems(world.channel, world.admin) == []


# What every answer must be


def check_answer(
    method: MethodDescriptor,
    request: Message | bytes | list[Message],
    error: grpc.RpcError | None,
) -> None:
    """Asserts that an RPC's answer is a typed status a caller can act on."""
    if error is None:
        return
    code = error.code()
    details = error.details() or ""
    shown = f"{_method_id(method)} answered {code} {details!r} to\n{_show(request)}"
    assert code not in {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}, shown
    assert not any(leak in details for leak in LEAKS), f"the message shows internals: {shown}"
    if method.server_streaming and code in STREAM_ENDINGS:
        return
    assert code != grpc.StatusCode.DEADLINE_EXCEEDED, shown
    status = status_details(error)
    assert status.code == code.value[0] and status.message, shown
    infos = []
    for detail in status.details:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            infos.append(info)
    assert len(infos) == 1 and infos[0].domain == "modelyard.dev", shown
    assert infos[0].reason in REASONS, shown
    if infos[0].reason == "INVALID_FIELD":
        fields = []
        for detail in status.details:
            bad = error_details_pb2.BadRequest()
            if detail.Unpack(bad):
                fields = [v.field for v in bad.field_violations]
        assert fields, f"INVALID_FIELD names no field: {shown}"


def _show(request: Message | bytes | list[Message]) -> str:
    if isinstance(request, bytes):
        return repr(request[:3000])
    if isinstance(request, list):  # a client stream, message by message
        return "\n---\n".join(_show(message) for message in request)
    text = text_format.MessageToString(request, as_utf8=True)
    return text if len(text) < 3000 else text[:3000] + "…"


def send(
    world: World,
    method: MethodDescriptor,
    request: Message | bytes | list[Message],
    metadata: Any,
) -> None:
    """Sends one request (a message, bytes as they go on the wire, or for a client stream a
    list of messages) as a hostile caller and checks the answer."""
    request_cls, response_cls = method_classes(method)
    path = f"/{method.containing_service.full_name}/{method.name}"
    # Bytes go as they are: grpc hands them on when there is no serializer.
    serialize = None if isinstance(request, bytes) else request_cls.SerializeToString
    error: grpc.RpcError | None = None
    if isinstance(request, list):
        client_stream = world.channel.stream_unary(
            path, request_serializer=serialize, response_deserializer=response_cls.FromString
        )
        try:
            client_stream(iter(request), timeout=CALL_TIMEOUT, metadata=metadata)
        except grpc.RpcError as raised:
            error = raised
    elif method.server_streaming:
        stream = world.channel.unary_stream(
            path, request_serializer=serialize, response_deserializer=response_cls.FromString
        )
        call: Any = stream(request, timeout=WATCH_TIMEOUT, metadata=metadata)
        try:
            next(iter(call))
        except StopIteration:
            pass
        except grpc.RpcError as raised:
            error = raised
        finally:
            call.cancel()
    else:
        unary = world.channel.unary_unary(
            path, request_serializer=serialize, response_deserializer=response_cls.FromString
        )
        try:
            unary(request, timeout=CALL_TIMEOUT, metadata=metadata)
        except grpc.RpcError as raised:
            error = raised
    check_answer(method, request, error)


def assert_healthy(world: World) -> None:
    reply = health_pb2_grpc.HealthStub(world.channel).Check(
        health_pb2.HealthCheckRequest(), timeout=5
    )
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


# The fuzz


class Target:
    """One RPC to fuzz: the world its requests name, and the strategy of its requests."""

    def __init__(self, world: World, method: MethodDescriptor) -> None:
        self.world = world
        self.method = method
        wild = Strategies(world.names, PATTERNS).message(method.input_type)
        tame = Strategies(world.names, PATTERNS, tame=True).message(method.input_type)
        self.requests = st.one_of(wild, tame)

    def __repr__(self) -> str:
        return f"Target({_method_id(self.method)})"


@pytest.fixture
def target(world: World, request: pytest.FixtureRequest) -> Target:
    """The RPC under test, its request strategy over a freshly seeded world (the previous
    RPC's fuzzing may have deleted or moved what the last one held)."""
    method: MethodDescriptor = request.node.callspec.params["method"]
    world.forget_webhooks()
    world.seed()
    world.fuzzed = True
    return Target(world, method)


@pytest.mark.parametrize("method", METHODS, ids=_method_id)
@pytest.mark.timeout(60 + settings().max_examples // 4)  # the deep profile's too
@FUZZ
@given(data=st.data())
def test_every_rpc_answers_hostile_input_with_a_typed_error(
    target: Target, method: MethodDescriptor, data: st.DataObject
) -> None:
    first: Message = data.draw(target.requests, label="request")
    request: Message | list[Message] = first
    if method.client_streaming:  # a stream of messages, each hostile in its own way
        more = data.draw(st.lists(target.requests, max_size=3), label="more messages")
        request = [first, *more]
    as_viewer = data.draw(st.integers(0, 4), label="principal") == 0
    note(f"as {'viewer' if as_viewer else 'admin'}")
    world = target.world
    send(world, method, request, world.viewer if as_viewer else world.admin)
    assert_healthy(world)


@st.composite
def corrupted(draw: st.DrawFn, requests: st.SearchStrategy[Message]) -> bytes:
    """Returns a request's bytes as an attacker alters them: cut short, a byte changed,
    bytes put in (0xff is never valid UTF-8, 0x0a opens a length-delimited field 1)."""
    data = draw(requests).SerializeToString()
    at = draw(st.integers(0, len(data)))
    kind = draw(st.sampled_from(["cut", "change", "insert"]))
    if kind == "cut":
        return data[:at]
    if kind == "change" and at < len(data):
        return data[:at] + bytes([draw(st.integers(0, 255))]) + data[at + 1 :]
    extra = draw(
        st.one_of(
            st.sampled_from([b"\xff", b"\x0a\x7f", b"\x0a\x02\xc3\x28"]), st.binary(max_size=8)
        )
    )
    return data[:at] + extra + data[at:]


@pytest.fixture
def unseeded(world: World, request: pytest.FixtureRequest) -> Target:
    """The RPC under test over the world as the fuzz left it: corrupt bytes seldom parse into
    a request that changes anything, so the world needs no fresh seeding."""
    world.fuzzed = True
    return Target(world, request.node.callspec.params["method"])


@pytest.mark.parametrize("method", METHODS, ids=_method_id)
@settings(FUZZ, max_examples=max(1, settings().max_examples // 3))
@given(data=st.data())
def test_every_rpc_answers_corrupt_bytes_with_a_typed_error(
    unseeded: Target, method: MethodDescriptor, data: st.DataObject
) -> None:
    request = data.draw(corrupted(unseeded.requests), label="bytes")
    send(unseeded.world, method, request, unseeded.world.admin)
    assert_healthy(unseeded.world)


def test_no_change_is_half_written(world: World) -> None:
    """After the fuzz (or on its own), the state obeys its rules and is what the log says."""
    world.seed()
    assert invariants.problems(world.channel, world.admin) == []
    world.fuzzed = False


def test_every_served_service_is_fuzzed(world: World) -> None:
    """Each service the server serves (reflection lists them) has its methods fuzzed."""
    database = ProtoReflectionDescriptorDatabase(world.channel)
    served = {name for name in database.get_services() if name.startswith("modelyard.")}
    fuzzed = {service.full_name for service in SERVICES}
    assert served and served <= fuzzed, served - fuzzed
    assert {m.containing_service.full_name for m in METHODS} == fuzzed
