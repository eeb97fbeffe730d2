"""Webhooks against a real HTTP endpoint on loopback: signed deliveries of committed events,
retries with backoff, the record of failures, redelivery, permissions and crashes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import grpc
import pytest
from modelyard import Registry, errors
from modelyard.v1 import resources_pb2 as pb
from modelyard.v1 import webhook_service_pb2 as ws
from modelyard.v1 import webhook_service_pb2_grpc

from tests.helpers import reason_of, register, sha, violations_of
from tests.servers import ServerProcess
from tests.watching import log_after, move, own_server, wait_until

SECRET = "s3cret-s3cret-s3cret"
FAST_RETRIES = {"webhook_backoff_seconds": "0.1", "webhook_max_attempts": "3"}


@dataclass
class Delivery:
    """One POST the endpoint received."""

    headers: dict[str, str]
    body: bytes

    @property
    def payload(self) -> dict[str, object]:
        result: dict[str, object] = json.loads(self.body)
        return result

    @property
    def seq(self) -> int:
        event = self.payload["event"]
        assert isinstance(event, dict)
        return int(event["seq"])


@dataclass
class Endpoint:
    """An HTTP server on loopback that records each POST and answers with `status` (500 to
    the next `failures` POSTs first)."""

    status: int = 204
    failures: int = 0
    received: list[Delivery] = field(default_factory=list)
    url: str = ""

    def seqs(self) -> list[int]:
        return [d.seq for d in self.received]

    def answered(self) -> list[int]:
        """The seqs of the POSTs answered 2xx, each once."""
        return sorted({d.seq for d in self.received if d.headers.get("x-answer", "")[:1] == "2"})


@contextmanager
def endpoint() -> Iterator[Endpoint]:
    state = Endpoint()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            status = state.status
            if state.failures > 0:
                state.failures -= 1
                status = 500
            headers = {k.lower(): v for k, v in self.headers.items()}
            headers["x-answer"] = str(status)
            state.received.append(Delivery(headers, body))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/hooks"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


@dataclass
class Hooks:
    """The WebhookService through its generated stub, as one principal."""

    stub: webhook_service_pb2_grpc.WebhookServiceStub
    metadata: tuple[tuple[str, str], ...]

    def create(
        self, url: str, *, group: str = "", secret: str = SECRET, **fields: object
    ) -> ws.Webhook:
        webhook = ws.Webhook(url=url, group=group, secret=secret, **fields)  # type: ignore[arg-type]
        request = ws.CreateWebhookRequest(webhook=webhook)
        return self.stub.CreateWebhook(request, metadata=self.metadata, timeout=10)

    def deliveries(self, webhook: str, state: int = 0) -> list[ws.WebhookDelivery]:
        request = ws.ListWebhookDeliveriesRequest(parent=webhook, state=state)  # type: ignore[arg-type]
        return list(self.stub.ListWebhookDeliveries(request, metadata=self.metadata).deliveries)

    def delivered(self, webhook: str) -> list[int]:
        """The seqs of the webhook's SUCCEEDED deliveries, oldest first."""
        return sorted(d.seq for d in self.deliveries(webhook, ws.DELIVERY_STATE_SUCCEEDED))


@contextmanager
def hooks(server: ServerProcess, token: str | None = None) -> Iterator[Hooks]:
    with grpc.insecure_channel(server.address) as channel:
        yield Hooks(
            webhook_service_pb2_grpc.WebhookServiceStub(channel),
            (("authorization", f"Bearer {token or server.token}"),),
        )


def signed_correctly(delivery: Delivery, secret: str = SECRET) -> bool:
    """Checks the signature as a receiver would: HMAC-SHA256 over id.timestamp.body."""
    signed = (
        f"{delivery.headers['webhook-id']}.{delivery.headers['webhook-timestamp']}.".encode()
        + delivery.body
    )
    expected = base64.b64encode(hmac.new(secret.encode(), signed, hashlib.sha256).digest())
    scheme, _, given = delivery.headers["webhook-signature"].partition(",")
    return scheme == "v1" and hmac.compare_digest(given.encode(), expected)


def test_a_group_webhook_receives_each_committed_event_of_its_group_signed(
    server: ServerProcess, registry: Registry, unique_group: str
) -> None:
    registry.create_group(unique_group)
    registry.create_group(unique_group + "-other")
    with endpoint() as receiver, hooks(server) as api:
        webhook = api.create(receiver.url, group=f"groups/{unique_group}", description="deploy bot")
        assert webhook.secret == "" and webhook.name.startswith("webhooks/")
        start = webhook.cursor
        version = register(registry, unique_group)
        register(registry, unique_group + "-other")
        move(server.address, server.token, version.name, pb.STAGE_STAGING, reason="try it")
        expected = [e for e in log_after(registry, start) if e.group == f"groups/{unique_group}"]
        wait_until(lambda: len(api.delivered(webhook.name)) == 2, what="two deliveries")
        assert receiver.seqs() == [e.seq for e in expected]
        first, second = receiver.received
        assert all(signed_correctly(d) for d in receiver.received)
        assert not signed_correctly(first, secret="another-secret-entirely")
        assert first.headers["webhook-id"] == f"{webhook.name}/deliveries/{expected[0].seq}"
        assert first.headers["content-type"] == "application/json"
        assert first.payload["webhook"] == webhook.name
        event = second.payload["event"]
        assert isinstance(event, dict)
        assert event["action"] == "ACTION_STAGE_CHANGED" and event["reason"] == "try it"
        assert event["hash"] == expected[1].hash
        [listed, _] = api.deliveries(webhook.name)
        assert listed.state == ws.DELIVERY_STATE_SUCCEEDED and listed.attempts == 1
        assert listed.last_response_code == 204 and listed.resource == version.name


def test_a_tenant_webhook_sees_every_change_that_committed_and_none_that_did_not(
    server: ServerProcess, registry: Registry, unique_group: str
) -> None:
    registry.create_group(unique_group)
    with endpoint() as receiver, hooks(server) as api:
        webhook = api.create(receiver.url, actions=[pb.ACTION_MODEL_VERSION_CREATED])
        digest = sha()
        register(registry, unique_group, sha256=digest)
        with pytest.raises(errors.DuplicateArtifact):
            register(registry, unique_group, sha256=digest)  # rolled back: nothing to deliver
        with pytest.raises(errors.InvalidTransition):
            registry.transition(f"groups/{unique_group}/versions/1", "production")
        register(registry, unique_group)
        logged = [
            e.seq
            for e in log_after(registry, webhook.cursor)
            if e.action == pb.ACTION_MODEL_VERSION_CREATED
        ]
        wait_until(lambda: api.delivered(webhook.name) == logged, what="every commit delivered")
        assert sorted(set(receiver.seqs())) == logged


def test_a_failing_endpoint_is_retried_then_failed_and_redelivered(tmp_path: Path) -> None:
    with (
        own_server(tmp_path, **FAST_RETRIES) as server,
        Registry(server.address, token=server.token) as registry,
        endpoint() as receiver,
        hooks(server) as api,
    ):
        registry.create_group("flaky")
        webhook = api.create(receiver.url, group="groups/flaky")
        receiver.status = 503
        version = register(registry, "flaky")
        wait_until(
            lambda: len(api.deliveries(webhook.name, ws.DELIVERY_STATE_FAILED)) == 1,
            what="the delivery to fail",
        )
        [failed] = api.deliveries(webhook.name, ws.DELIVERY_STATE_FAILED)
        assert failed.attempts == 3 and failed.last_response_code == 503
        assert failed.last_error == "HTTP 503" and failed.resource == version.name
        assert len(receiver.received) == 3
        assert len({d.headers["webhook-id"] for d in receiver.received}) == 1  # one delivery
        assert api.deliveries(webhook.name, ws.DELIVERY_STATE_SUCCEEDED) == []

        receiver.status = 200
        again = api.stub.RedeliverWebhookDelivery(
            ws.RedeliverWebhookDeliveryRequest(name=failed.name), metadata=api.metadata
        )
        assert again.state == ws.DELIVERY_STATE_PENDING and again.attempts == 0
        wait_until(lambda: api.delivered(webhook.name) == [failed.seq], what="the redelivery")
        assert (
            len(receiver.received) == 4 and receiver.received[-1].body == receiver.received[0].body
        )

        receiver.failures = 1  # a passing outage: the retry succeeds
        later = register(registry, "flaky")
        wait_until(lambda: len(api.delivered(webhook.name)) == 2, what="the retried delivery")
        [recovered, _] = api.deliveries(webhook.name)
        assert recovered.resource == later.name and recovered.attempts == 2
        assert [d.headers["x-answer"] for d in receiver.received[-2:]] == ["500", "200"]

        unreachable = api.create("http://127.0.0.1:9/nothing-listens", group="groups/flaky")
        register(registry, "flaky")
        wait_until(
            lambda: len(api.deliveries(unreachable.name, ws.DELIVERY_STATE_FAILED)) == 1,
            what="the unreachable endpoint to fail",
        )
        [refused] = api.deliveries(unreachable.name)
        assert refused.last_response_code == 0 and "cannot reach" in refused.last_error


def test_deliveries_survive_a_crash_of_the_server(tmp_path: Path) -> None:
    with (
        own_server(tmp_path, **FAST_RETRIES) as server,
        endpoint() as receiver,
        hooks(server) as api,
    ):
        with Registry(server.address, token=server.token) as registry:
            registry.create_group("durable")
            webhook = api.create(receiver.url, group="groups/durable")
            receiver.status = 503
            made = [register(registry, "durable") for _ in range(3)]
        server.kill9()
        receiver.status = 200
        server.start()
        with hooks(server) as after, Registry(server.address, token=server.token) as registry:
            wait_until(lambda: len(after.delivered(webhook.name)) == 3, what="every delivery")
            logged = log_after(registry, webhook.cursor)
        assert receiver.answered() == [e.seq for e in logged]
        assert [e.resource for e in logged] == [m.name for m in made]


def test_webhook_changes_are_logged_without_the_secret_and_need_an_admin(
    server: ServerProcess, registry: Registry, unique_group: str
) -> None:
    registry.create_group(unique_group)
    with hooks(server) as api:
        webhook = api.create("https://hooks.example.com/modelyard", group=f"groups/{unique_group}")
        fetched = api.stub.GetWebhook(
            ws.GetWebhookRequest(name=webhook.name), metadata=api.metadata
        )
        assert fetched == webhook
        listed = api.stub.ListWebhooks(
            ws.ListWebhooksRequest(group=f"groups/{unique_group}"), metadata=api.metadata
        )
        assert list(listed.webhooks) == [webhook]
        api.stub.DeleteWebhook(ws.DeleteWebhookRequest(name=webhook.name), metadata=api.metadata)
        with pytest.raises(grpc.RpcError) as gone:
            api.stub.GetWebhook(ws.GetWebhookRequest(name=webhook.name), metadata=api.metadata)
        assert gone.value.code() == grpc.StatusCode.NOT_FOUND
        assert reason_of(gone.value) == "WEBHOOK_NOT_FOUND"
    created, deleted = [e for e in log_after(registry, 0) if e.resource == webhook.name]
    assert created.action == pb.ACTION_WEBHOOK_CREATED and created.group == f"groups/{unique_group}"
    assert deleted.action == pb.ACTION_WEBHOOK_DELETED
    assert SECRET not in json.dumps([dict(created.after), dict(deleted.before)])

    group_admin = server.mint_token("gina", f"admin@{unique_group}")
    deployer = server.mint_token("dora", "deployer")
    with hooks(server, group_admin) as gina, hooks(server, deployer) as dora:
        assert (
            gina.create("https://hooks.example.com/g", group=f"groups/{unique_group}").group
            == f"groups/{unique_group}"
        )
        for caller, group in ((gina, ""), (dora, f"groups/{unique_group}")):
            with pytest.raises(grpc.RpcError) as refused:
                caller.create("https://hooks.example.com/x", group=group)
            assert reason_of(refused.value) == "MISSING_PERMISSION"


def test_bad_webhooks_are_refused_naming_every_problem(server: ServerProcess) -> None:
    with hooks(server) as api:
        with pytest.raises(grpc.RpcError) as refused:
            api.create("ftp://files.example.com", secret="short", group="groups/Bad Group")
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert set(violations_of(refused.value)) == {
            "webhook.url",
            "webhook.secret",
            "webhook.group",
        }
        with pytest.raises(grpc.RpcError) as missing:
            api.create("https://hooks.example.com", group="groups/no-such-group-here")
        assert reason_of(missing.value) == "MODEL_GROUP_NOT_FOUND"
        with pytest.raises(grpc.RpcError) as bad_action:
            api.create("https://hooks.example.com", actions=[77])
        assert violations_of(bad_action.value) == {"webhook.actions[0]": "77 is not an Action"}
        with pytest.raises(grpc.RpcError) as no_delivery:
            api.stub.RedeliverWebhookDelivery(
                ws.RedeliverWebhookDeliveryRequest(name="webhooks/wh-0000000000/deliveries/1"),
                metadata=api.metadata,
            )
        assert reason_of(no_delivery.value) == "WEBHOOK_NOT_FOUND"


def test_a_burst_of_events_reaches_the_endpoint_in_seq_order(
    sqlite_server: ServerProcess, unique_group: str
) -> None:
    with (
        Registry(sqlite_server.address, token=sqlite_server.token) as registry,
        endpoint() as receiver,
        hooks(sqlite_server) as api,
    ):
        registry.create_group(unique_group)
        webhook = api.create(receiver.url, group=f"groups/{unique_group}")
        threads = [
            threading.Thread(target=lambda: [register(registry, unique_group) for _ in range(10)])
            for _ in range(3)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        wait_until(lambda: len(api.delivered(webhook.name)) == 30, what="thirty deliveries")
        logged = [e.seq for e in log_after(registry, webhook.cursor)]
    assert receiver.seqs() == logged
