"""What an operator sees of a running server process: one scrape for all its workers, the
spans of a registration at an OTLP receiver on loopback, and JSON log lines with no secret
in them."""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from modelyard import Registry
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.trace.v1 import trace_pb2
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client.parser import text_string_to_metric_families

from tests.support.cli import free_address
from tests.support.events import wait_until
from tests.support.factory import ServerFactory
from tests.support.versions import register


def handled(address: str, method: str) -> float:
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=10) as response:
        text = response.read().decode()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "grpc_server_handled_total"
        and sample.labels["grpc_method"] == method
        and sample.labels["grpc_code"] == "OK"
    )


@pytest.mark.timeout(120)
def test_with_two_workers_any_scrape_reports_the_calls_of_both(
    server_factory: ServerFactory, unique_group: str
) -> None:
    metrics = free_address()
    with server_factory("sqlite", process=True, workers=2, metrics_address=metrics) as server:
        with Registry(server.address, token=server.token) as registry:
            registry.create_group(unique_group)
        for _ in range(12):  # a connection each: the kernel spreads them over the workers
            with Registry(server.address, token=server.token) as registry:
                registry.get_group(unique_group)
        assert [handled(metrics, "GetModelGroup") for _ in range(6)] == [12.0] * 6


class Receiver:
    """An OTLP/HTTP trace receiver on loopback: it keeps every span posted to /v1/traces."""

    def __init__(self) -> None:
        self.spans: list[trace_pb2.Span] = []
        self.attributes: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                request = trace_service_pb2.ExportTraceServiceRequest.FromString(body)
                for resource in request.resource_spans:
                    for scope in resource.scope_spans:
                        receiver.spans.extend(scope.spans)
                reply = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def named(self, name: str) -> list[trace_pb2.Span]:
        return [span for span in self.spans if span.name == name]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.http.shutdown()
    receiver.http.server_close()


def attributes(span: trace_pb2.Span) -> dict[str, Any]:
    return {
        a.key: a.value.string_value or a.value.int_value or a.value.bool_value
        for a in span.attributes
    }


@pytest.mark.timeout(90)
def test_a_registration_is_one_server_span_in_the_callers_trace_with_its_database_work(
    server_factory: ServerFactory, receiver: Receiver, unique_group: str
) -> None:
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url, "OTEL_BSP_SCHEDULE_DELAY": "50"}
    with server_factory("sqlite", process=True, env=env) as server:
        pipeline = TracerProvider().get_tracer("a training pipeline")
        with Registry(server.address, token=server.token) as registry:
            registry.create_group(unique_group)
            with pipeline.start_as_current_span("register the model") as step:
                version = register(registry, unique_group)
        name = "modelyard.v1.RegistryService/CreateModelVersion"
        wait_until(lambda: bool(receiver.named(name)), what="the server's span")
        [span] = receiver.named(name)
        caller = step.get_span_context()
        assert span.trace_id == caller.trace_id.to_bytes(16, "big")
        assert span.parent_span_id == caller.span_id.to_bytes(8, "big")
        assert span.kind == trace_pb2.Span.SPAN_KIND_SERVER
        assert attributes(span) | {"rpc.grpc.status_code": 0} == {
            "rpc.system": "grpc",
            "rpc.service": "modelyard.v1.RegistryService",
            "rpc.method": "CreateModelVersion",
            "rpc.grpc.status_code": 0,
            "modelyard.tenant": "default",
            "enduser.id": "admin",
        }
        wait_until(
            lambda: any(s.parent_span_id == span.span_id for s in receiver.named("db write")),
            what="the registration's transaction span",
        )
        assert version.name.endswith("/versions/1")
    sent = b"".join(s.SerializeToString() for s in receiver.spans)
    assert server.token.encode() not in sent


@pytest.mark.timeout(90)
def test_json_logs_have_a_line_per_request_and_never_a_token_or_secret(
    server_factory: ServerFactory, unique_group: str
) -> None:
    secret = "whsec-never-in-the-logs-7f3a"
    wrong_token = "tok-wrong-never-in-the-logs-91c2"
    with server_factory("sqlite", process=True, log_format="json") as server:
        viewer = server.mint_token("vera", "viewer")
        with Registry(server.address, token=server.token) as registry:
            registry.create_group(unique_group)
            register(registry, unique_group, request_id="req-from-the-pipeline")
            registry.create_webhook(f"http://{free_address()}/h", secret=secret, group=unique_group)
        with Registry(server.address, token=viewer) as reader:
            reader.get_group(unique_group)
        with (
            Registry(server.address, token=wrong_token) as stranger,
            pytest.raises(Exception, match="UNAUTHENTICATED"),
        ):
            stranger.get_group(unique_group)
    text = server.log_file.read_text()
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    requests = [line for line in lines if line["event"] == "request"]
    created = next(r for r in requests if r["method"].endswith("/CreateModelVersion"))
    assert created["code"] == "OK" and created["actor"] == "admin"
    assert created["tenant"] == "default" and created["request_id"] == "req-from-the-pipeline"
    assert created["latency_ms"] > 0 and {"time", "level", "message"} <= set(created)
    refused = [r for r in requests if r["code"] == "UNAUTHENTICATED"]
    assert refused and refused[0]["actor"] == ""
    assert any(r["actor"] == "vera" for r in requests)
    assert {"startup", "shutdown", "migration"} <= {line["event"] for line in lines}
    for value in (server.token, viewer, secret, wrong_token):
        assert value not in text
