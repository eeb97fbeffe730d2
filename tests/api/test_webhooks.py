"""Webhooks against a real HTTP endpoint on loopback: signed deliveries of committed events,
retries with backoff, the record of failures, redelivery and permissions. Deliveries
across a crash of the server are in tests/e2e/test_restarts.py."""

from __future__ import annotations

import json
import threading

import grpc
import pytest
from modelyard import Action, Registry, errors
from modelyard.v1 import resources_pb2 as pb
from modelyard.v1 import webhook_service_pb2 as ws

from tests.support.events import log_after, wait_until
from tests.support.factory import ServerFactory
from tests.support.servers import Server
from tests.support.status import reason_of, violations_of
from tests.support.stubs import move
from tests.support.versions import register, sha
from tests.support.webhooks import FAST_RETRIES, SECRET, endpoint, hooks, signed_correctly


def test_a_group_webhook_receives_each_committed_event_of_its_group_signed(
    server: Server, registry: Registry, unique_group: str
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
    server: Server, registry: Registry, unique_group: str
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
            if e.action == Action.MODEL_VERSION_CREATED
        ]
        wait_until(lambda: api.delivered(webhook.name) == logged, what="every commit delivered")
        assert sorted(set(receiver.seqs())) == logged


def test_a_failing_endpoint_is_retried_then_failed_and_redelivered(
    server_factory: ServerFactory,
) -> None:
    with (
        server_factory(**FAST_RETRIES) as server,
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
        assert refused.last_response_code == 0 and refused.last_error == "connection refused"


def test_webhook_changes_are_logged_without_the_secret_and_need_an_admin(
    server: Server, registry: Registry, unique_group: str
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
    assert created.action == Action.WEBHOOK_CREATED and created.group == f"groups/{unique_group}"
    assert deleted.action == Action.WEBHOOK_DELETED
    assert created.after is not None and deleted.before is not None
    assert SECRET not in json.dumps([created.after, deleted.before])

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


def test_bad_webhooks_are_refused_naming_every_problem(server: Server) -> None:
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
    sqlite_server: Server, unique_group: str
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
