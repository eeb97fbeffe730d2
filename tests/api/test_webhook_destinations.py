"""Where webhooks may deliver: never to the registry's own network unless the operator
allows a range of it (checked when the URL is set and again before every attempt), URLs
that are not plain http(s) ones are refused, and a delivery that cannot be made says why in
a few words and ends FAILED, never PENDING for ever."""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager

import grpc
import pytest
from google.protobuf import field_mask_pb2
from modelyard import Registry
from modelyard.v1 import resources_pb2 as pb
from modelyard.v1 import webhook_service_pb2 as ws

from tests.support.events import wait_until
from tests.support.factory import ServerFactory
from tests.support.servers import Server
from tests.support.status import reason_of, violations_of
from tests.support.versions import register
from tests.support.webhooks import FAST_RETRIES, endpoint, hooks

CREATED = pb.ACTION_MODEL_VERSION_CREATED
SETTING = "--webhook-allow-cidr (MODELYARD_WEBHOOK_ALLOW_CIDR)"


@pytest.fixture(scope="module")
def guarded(server_factory: ServerFactory) -> Iterator[Server]:
    """A server with the default setting: no internal range is allowed."""
    with server_factory("sqlite", webhook_allow_cidr="") as server:
        yield server


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("http://127.0.0.1:9/hook", "127.0.0.1 is a loopback address"),
        ("http://[::1]:9/hook", "::1 is a loopback address"),
        ("http://localhost:9/hook", "resolves to 127.0.0.1, a loopback address"),
        ("http://0177.0.0.1/hook", "resolves to 127.0.0.1, a loopback address"),
        ("http://2130706433/hook", "resolves to 127.0.0.1, a loopback address"),
        ("http://[::ffff:127.0.0.1]/hook", "::ffff:127.0.0.1 is a loopback address"),
        ("http://10.0.0.5/hook", "10.0.0.5 is a private address"),
        ("http://172.20.1.1/hook", "172.20.1.1 is a private address"),
        ("https://192.168.1.10/hook", "192.168.1.10 is a private address"),
        ("http://[fd12::1]/hook", "fd12::1 is a private address"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a cloud metadata address"),
        ("http://169.254.10.10/hook", "169.254.10.10 is a link-local address"),
        ("http://[fe80::1]/hook", "fe80::1 is a link-local address"),
        ("http://100.64.0.1/hook", "100.64.0.1 is a carrier-grade NAT address"),
        ("http://0.0.0.0:9/hook", "0.0.0.0 is an unspecified address"),
        ("http://[::]:9/hook", ":: is an unspecified address"),
        ("http://224.0.0.1/hook", "224.0.0.1 is a multicast address"),
    ],
)
def test_by_default_webhooks_to_internal_addresses_are_refused_naming_the_setting(
    guarded: Server, url: str, said: str
) -> None:
    with hooks(guarded) as api, pytest.raises(grpc.RpcError) as refused:
        api.create(url)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert reason_of(refused.value) == "INVALID_FIELD"
    [(field, description)] = violations_of(refused.value).items()
    assert field == "webhook.url"
    assert description.startswith(said) and SETTING in description


def test_moving_a_webhook_to_an_internal_address_is_refused_too(guarded: Server) -> None:
    with hooks(guarded) as api:
        webhook = api.create("https://93.184.216.34/hook")  # a public address is fine
        with pytest.raises(grpc.RpcError) as refused:
            api.stub.UpdateWebhook(
                ws.UpdateWebhookRequest(
                    webhook=ws.Webhook(name=webhook.name, url="http://10.1.1.1/hook"),
                    update_mask=field_mask_pb2.FieldMask(paths=["url"]),
                ),
                metadata=api.metadata,
            )
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "10.1.1.1 is a private address" in violations_of(refused.value)["webhook.url"]


def test_the_operator_allows_internal_ranges_one_by_one(server_factory: ServerFactory) -> None:
    with (
        server_factory("sqlite", webhook_allow_cidr="10.20.0.0/16,fd00:1::/32") as server,
        hooks(server) as api,
    ):
        assert api.create("http://10.20.3.4:8080/hook").url == "http://10.20.3.4:8080/hook"
        assert api.create("http://[fd00:1::7]/hook").url == "http://[fd00:1::7]/hook"
        for url in ("http://10.21.0.1/hook", "http://127.0.0.1/hook", "http://[fd00:2::7]/"):
            with pytest.raises(grpc.RpcError) as refused:
                api.create(url)
            assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("http://hooks.exa mple.com/", "contains white space"),
        ("http://hooks.example.com/a b", "contains white space"),
        ("http://hooks.example.com:abc/", "bad port 'abc'"),
        ("http://hooks.example.com:0/", "bad port '0'"),
        ("http://hooks.example.com:70000/", "bad port '70000'"),
        ("http://hooks.example.com:+80/", "bad port '+80'"),
        ("http://user:pw@hooks.example.com/", "holds a user name or password"),
        ("http://token@hooks.example.com/", "holds a user name or password"),
        ("ftp://hooks.example.com/", "must start with http:// or https://"),
        ("file:///etc/passwd", "must start with http:// or https://"),
        ("http:///only/a/path", "names no host"),
        ("https://", "names no host"),
        ("http://hooks_.example..com/", "no valid host"),
        ("http://[::1/", "is not a URL"),
    ],
)
def test_a_webhook_url_that_is_not_a_plain_http_url_is_invalid(
    guarded: Server, url: str, said: str
) -> None:
    with hooks(guarded) as api, pytest.raises(grpc.RpcError) as refused:
        api.create(url)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert said in violations_of(refused.value)["webhook.url"]
    assert "user:pw" not in str(refused.value.details())  # a password is not echoed


def test_a_delivery_to_an_address_refused_since_fails_at_once_with_a_plain_reason(
    server_factory: ServerFactory,
) -> None:
    """The attempt checks the address again: an operator who takes a range back out of the
    allow-list stops the deliveries to it, and nothing is sent there."""
    with endpoint() as receiver:
        with server_factory("sqlite") as allowed, hooks(allowed) as api:
            webhook = api.create(receiver.url)
            data_dir = allowed.data_dir
        with (
            server_factory("sqlite", data_dir=data_dir, webhook_allow_cidr="") as server,
            Registry(server.address, token=server.token) as registry,
            hooks(server) as api,
        ):
            registry.create_group("refused-later")
            wait_until(
                lambda: len(api.deliveries(webhook.name, ws.DELIVERY_STATE_FAILED)) == 1,
                what="the delivery to fail",
            )
            [failed] = api.deliveries(webhook.name)
            assert failed.state == ws.DELIVERY_STATE_FAILED and failed.attempts == 1
            assert failed.last_error.startswith("refused: 127.0.0.1 is a loopback address")
            assert SETTING in failed.last_error
            assert receiver.received == []


@contextmanager
def silent_port() -> Iterator[int]:
    """Yields a loopback port that takes connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


def test_failed_deliveries_say_what_went_wrong_without_internal_host_or_port(
    server_factory: ServerFactory,
) -> None:
    with (
        server_factory("sqlite", webhook_timeout_seconds="0.5", **FAST_RETRIES) as server,
        Registry(server.address, token=server.token) as registry,
        hooks(server) as api,
        endpoint() as receiver,
        silent_port() as silent,
    ):
        registry.create_group("broken")
        closed = socket.socket()
        closed.bind(("127.0.0.1", 0))
        closed_port = closed.getsockname()[1]
        closed.close()  # nothing listens there now
        receiver.status = 500
        cases = {
            f"http://127.0.0.1:{closed_port}/hook": "connection refused",
            f"http://127.0.0.1:{silent}/hook": "timed out",
            receiver.url.replace("http://", "https://"): "TLS error",
            receiver.url: "HTTP 500",
            "http://nothing-here.invalid/hook": "cannot resolve the host",
        }
        created = {
            api.create(url, group="groups/broken", actions=[CREATED]).name: why
            for url, why in cases.items()
        }
        register(registry, "broken")

        def all_failed() -> bool:
            return all(len(api.deliveries(name, ws.DELIVERY_STATE_FAILED)) == 1 for name in created)

        wait_until(all_failed, what="every delivery to fail", timeout=30)
        for name, why in created.items():
            [failed] = api.deliveries(name)
            assert failed.last_error == why
            assert failed.attempts == 3  # tried again: these may pass by themselves
            assert "127.0.0.1" not in failed.last_error and str(silent) not in failed.last_error


def test_a_delivery_whose_secret_cannot_be_opened_fails_at_once(
    server_factory: ServerFactory,
) -> None:
    """A secret sealed for another webhook (or under another key file) cannot sign its
    deliveries: they end FAILED, saying so, instead of waiting for ever."""
    with (
        server_factory("sqlite") as server,
        Registry(server.address, token=server.token) as registry,
        hooks(server) as api,
        endpoint() as receiver,
    ):
        registry.create_group("wrong-secret")
        donor = api.create("https://hooks.example.com/donor", actions=[CREATED])
        webhook = api.create(receiver.url, group="groups/wrong-secret")
        with closing(sqlite3.connect(server.data_dir / "modelyard.db")) as db, db:
            db.execute(
                "UPDATE webhooks SET secret = (SELECT secret FROM webhooks WHERE webhook_id = ?)"
                " WHERE webhook_id = ?",
                (donor.name.removeprefix("webhooks/"), webhook.name.removeprefix("webhooks/")),
            )
        register(registry, "wrong-secret")
        wait_until(
            lambda: len(api.deliveries(webhook.name, ws.DELIVERY_STATE_FAILED)) == 1,
            what="the delivery to fail",
        )
        [failed] = api.deliveries(webhook.name)
        assert failed.attempts == 1
        assert "does not open with this server's key file" in failed.last_error
        assert receiver.received == []


def test_a_delivery_to_a_url_stored_before_it_was_checked_fails_at_once(
    server_factory: ServerFactory,
) -> None:
    """Older releases stored URLs that cannot be posted to (a port above 65535): their
    deliveries end FAILED, saying what to fix, rather than PENDING for ever."""
    with (
        server_factory("sqlite") as server,
        Registry(server.address, token=server.token) as registry,
        hooks(server) as api,
    ):
        registry.create_group("stored-before")
        webhook = api.create("https://hooks.example.com/x", group="groups/stored-before")
        with closing(sqlite3.connect(server.data_dir / "modelyard.db")) as db, db:
            db.execute(
                "UPDATE webhooks SET url = 'http://127.0.0.1:99999999/hook' WHERE webhook_id = ?",
                (webhook.name.removeprefix("webhooks/"),),
            )
        register(registry, "stored-before")
        wait_until(
            lambda: len(api.deliveries(webhook.name, ws.DELIVERY_STATE_FAILED)) == 1,
            what="the delivery to fail",
        )
        [failed] = api.deliveries(webhook.name)
        assert failed.attempts == 1 and failed.last_error == "the URL is not valid: set a valid one"
