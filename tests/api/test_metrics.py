"""GET /metrics after real calls: the gRPC metrics under go-grpc-prometheus's names, event
streams, webhook deliveries, database transactions and artifact bytes."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import modelyard
import pytest
from modelyard import Registry
from prometheus_client.parser import text_string_to_metric_families

from tests.support.cli import free_address
from tests.support.events import wait_until
from tests.support.factory import ServerFactory
from tests.support.servers import Server
from tests.support.versions import register

REGISTRY_SERVICE = "modelyard.v1.RegistryService"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(address: str) -> Samples:
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = response.read().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def handled(samples: Samples, method: str, code: str, service: str = REGISTRY_SERVICE) -> float:
    return value(
        samples,
        "grpc_server_handled_total",
        grpc_type="unary",
        grpc_service=service,
        grpc_method=method,
        grpc_code=code,
    )


@pytest.fixture(scope="module")
def observed(server_factory: ServerFactory) -> Iterator[tuple[Server, str]]:
    """A server with its metrics endpoint on a loopback port."""
    address = free_address()
    with server_factory("sqlite", metrics_address=address, heartbeat_seconds="0.2") as server:
        yield server, address


def test_each_call_is_counted_by_method_and_code_and_timed(
    observed: tuple[Server, str], unique_group: str
) -> None:
    server, address = observed
    before = scrape(address)
    with Registry(server.address, token=server.token) as registry:
        registry.create_group(unique_group)
        for _ in range(3):
            registry.get_group(unique_group)
        with pytest.raises(modelyard.ModelGroupNotFound):
            registry.get_group(unique_group + "-missing")
    with (
        Registry(server.address, token="not-a-token") as stranger,
        pytest.raises(modelyard.Unauthenticated),
    ):
        stranger.get_group(unique_group)
    labels = {"grpc_type": "unary", "grpc_service": REGISTRY_SERVICE}
    count = "grpc_server_handling_seconds_count"

    def ended(samples: Samples) -> float:  # the GetModelGroup calls the server finished
        return value(samples, count, grpc_method="GetModelGroup", **labels) - value(
            before, count, grpc_method="GetModelGroup", **labels
        )

    # grpc sends an aborted call's status before the handler has unwound, so the client may
    # hear of its error a moment before the server counts the call.
    wait_until(lambda: ended(scrape(address)) >= 5, timeout=5, what="the five gets counted")
    after = scrape(address)

    def delta(method: str, code: str) -> float:
        return handled(after, method, code) - handled(before, method, code)

    assert delta("CreateModelGroup", "OK") == 1
    assert delta("GetModelGroup", "OK") == 3
    assert delta("GetModelGroup", "NotFound") == 1
    assert delta("GetModelGroup", "Unauthenticated") == 1
    assert ended(after) == 5
    started = "grpc_server_started_total"
    assert (
        value(after, started, grpc_method="GetModelGroup", **labels)
        - value(before, started, grpc_method="GetModelGroup", **labels)
        == 5
    )
    assert value(after, "modelyard_db_transaction_seconds_count", kind="write") > value(
        before, "modelyard_db_transaction_seconds_count", kind="write"
    )
    commits = "modelyard_db_commit_batch_changes_count"
    assert value(after, commits) > value(before, commits)  # the group's creation committed
    in_flight = "modelyard_grpc_in_flight_requests"
    assert value(after, in_flight, grpc_service=REGISTRY_SERVICE, grpc_method="GetModelGroup") == 0


def test_streams_their_events_and_their_lag_are_reported(
    observed: tuple[Server, str], unique_group: str
) -> None:
    server, address = observed
    before = scrape(address)
    with Registry(server.address, token=server.token) as registry:
        registry.create_group(unique_group)
        with registry.watch(groups=[unique_group], start_after=0) as events:
            register(registry, unique_group)
            next(iter(events))
            during = scrape(address)
            assert value(during, "modelyard_watch_streams_open") >= 1
            assert ("modelyard_watch_lag_events_max", frozenset()) in during  # set at scrape
    sent = "modelyard_watch_events_sent_total"
    assert value(during, sent) > value(before, sent)
    streamed = value(
        during,
        "grpc_server_msg_sent_total",
        grpc_type="server_stream",
        grpc_service=REGISTRY_SERVICE,
        grpc_method="WatchEvents",
    )
    assert streamed >= 2  # the starting heartbeat and the event
    wait_until(
        lambda: (
            value(scrape(address), "modelyard_watch_streams_open")
            < value(during, "modelyard_watch_streams_open")
        ),
        what="the stream to be counted as closed",
    )


def test_artifact_bytes_in_and_out_are_counted(
    observed: tuple[Server, str], unique_group: str, tmp_path: Path
) -> None:
    server, address = observed
    model = tmp_path / "model.bin"
    model.write_bytes(b"m" * 70_001)
    before = scrape(address)
    with Registry(server.address, token=server.token) as registry:
        registry.create_group(unique_group)
        version = registry.register(unique_group, path=model)
        registry.download(version.name, dest=tmp_path / "copy.bin")
    after = scrape(address)
    received = "modelyard_artifact_bytes_received_total"
    sent = "modelyard_artifact_bytes_sent_total"
    assert value(after, received) - value(before, received) == 70_001
    assert value(after, sent) - value(before, sent) == 70_001


def test_webhook_deliveries_are_read_from_the_database_at_each_scrape(
    observed: tuple[Server, str], unique_group: str
) -> None:
    server, address = observed
    with Registry(server.address, token=server.token) as registry:
        registry.create_group(unique_group)
        hook = registry.create_webhook(
            f"http://{free_address()}/hook",
            secret="s3cret-for-the-metrics-test",
            group=unique_group,
        )
        register(registry, unique_group)  # an event for the hook
        wait_until(
            lambda: (
                value(scrape(address), "modelyard_webhook_deliveries", state="PENDING")
                + value(scrape(address), "modelyard_webhook_deliveries", state="FAILED")
                >= 1
            ),
            what="the delivery to be recorded",
        )
        registry.delete_webhook(hook.name)
    samples = scrape(address)
    assert value(samples, "modelyard_webhook_backlog") == value(
        samples, "modelyard_webhook_deliveries", state="PENDING"
    )


def test_the_endpoint_serves_metrics_and_nothing_else(observed: tuple[Server, str]) -> None:
    _server, address = observed
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"http://{address}/", timeout=10)
    missing.value.close()
    assert missing.value.code == 404
    request = urllib.request.Request(f"http://{address}/metrics", data=b"x", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    refused.value.close()
    assert refused.value.code == 405


def test_each_audit_verification_is_counted_with_its_result(
    observed: tuple[Server, str],
) -> None:
    server, address = observed
    before = scrape(address)
    with Registry(server.address, token=server.token) as registry:
        assert registry.verify_audit_log().ok
    after = scrape(address)
    runs = "modelyard_audit_verifications_total"
    assert value(after, runs, result="ok") - value(before, runs, result="ok") == 1
    assert value(after, "modelyard_audit_chain_broken") == 0
