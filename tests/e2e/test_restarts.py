"""What a server process keeps through a restart or kill -9: acknowledged writes, its admin
token, event streams (resumed by the SDK), calls in flight (retried by the SDK) and webhook
deliveries."""

from __future__ import annotations

import threading

import modelyard
import pytest
from modelyard import AuditEvent, ModelVersion, Registry

from tests.support.events import head, log_after, seqs, wait_until
from tests.support.factory import BACKENDS, ServerFactory
from tests.support.versions import register, sha
from tests.support.webhooks import FAST_RETRIES, endpoint, hooks


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_acknowledged_registration_survives_kill_9(
    server_factory: ServerFactory, backend: str
) -> None:
    with server_factory(backend, process=True) as fresh_server:
        with Registry(fresh_server.address, token=fresh_server.token) as registry:
            registry.create_group("durable")
            acknowledged = registry.register("durable", uri="s3://m/k", sha256=sha("durable"))
        fresh_server.kill9()
        fresh_server.start()
        with Registry(fresh_server.address, token=fresh_server.token) as registry:
            assert registry.get_version("durable", acknowledged.version) == acknowledged
            assert registry.verify_audit_log().ok
            assert (
                registry.register("durable", uri="s3://m/k2", sha256=sha("durable-2")).version == 2
            )


@pytest.mark.parametrize("backend", BACKENDS)
def test_registrations_racing_when_the_server_is_killed_are_kept_if_acknowledged(
    server_factory: ServerFactory, backend: str
) -> None:
    """Eight writers share commits (group commit); kill -9 lands mid-batch. Every answered
    registration is there after the restart, and the log has no gap, no extra entry."""
    with server_factory(backend, process=True) as fresh_server:
        address, token = fresh_server.address, fresh_server.token
        with Registry(address, token=token) as registry:
            registry.create_group("racing")
        acknowledged: list[ModelVersion] = []
        guard = threading.Lock()

        def register_until_refused(writer: int) -> None:
            with Registry(address, token=token, max_attempts=1, timeout=5) as registry:
                for i in range(10_000):
                    try:
                        version = registry.register(
                            "racing", uri=f"s3://m/{writer}/{i}", sha256=sha(f"{writer}/{i}")
                        )
                    except modelyard.ModelyardError:
                        return  # the server is gone
                    with guard:
                        acknowledged.append(version)

        writers = [threading.Thread(target=register_until_refused, args=(w,)) for w in range(8)]
        for thread in writers:
            thread.start()
        wait_until(lambda: len(acknowledged) >= 60, timeout=60)
        fresh_server.kill9()
        for thread in writers:
            thread.join(timeout=30)
        fresh_server.start()
        with Registry(address, token=token) as registry:
            for version in acknowledged:
                assert registry.get_version("racing", version.version) == version
            stored = sorted(v.version for v in registry.list_versions("racing"))
            assert stored == list(range(1, len(stored) + 1))  # numbered without a gap
            assert len(stored) >= len(acknowledged)
            assert registry.verify_audit_log().ok
            entries = [
                e
                for e in log_after(registry, 0)
                if e.action == modelyard.Action.MODEL_VERSION_CREATED
            ]
            assert len(entries) == len(stored)  # one entry per stored version, no more


def test_a_second_start_keeps_the_admin_token(server_factory: ServerFactory) -> None:
    with server_factory(process=True) as process:
        token = process.token
        process.restart()
        assert process.token == token
        with Registry(process.address, token=token) as registry:
            assert list(registry.list_groups()) == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_server_restart_mid_stream_loses_and_repeats_nothing(
    server_factory: ServerFactory, backend: str
) -> None:
    with (
        server_factory(backend, process=True) as server,
        Registry(server.address, token=server.token) as registry,
    ):
        registry.create_group("live")
        start = head(registry)
        watch = registry.watch(groups=["live"])
        handed: list[AuditEvent] = []
        reader = threading.Thread(target=lambda: handed.extend(watch))
        reader.start()

        def kill_and_start() -> None:
            server.kill9()
            server.start()

        for done, restart in enumerate((server.restart, kill_and_start), start=1):
            for _ in range(3):
                register(registry, "live")
            wanted = 3 * done
            wait_until(lambda: len(handed) >= wanted, what="events before the restart")  # noqa: B023
            restart()
        for _ in range(3):
            register(registry, "live")
        wait_until(lambda: len(handed) >= 9, what="every event after the restarts")
        watch.close()
        reader.join(timeout=10)
        logged = log_after(registry, start)
    assert seqs(handed) == seqs(logged)


def test_a_call_made_while_the_server_is_down_succeeds_once_it_is_back(
    server_factory: ServerFactory,
) -> None:
    with (
        server_factory(process=True) as process,
        Registry(process.address, token=process.token, max_attempts=12) as registry,
    ):
        registry.create_group("restarts")
        process.stop()
        results: list[ModelVersion] = []
        caller = threading.Thread(
            target=lambda: results.append(
                registry.register("restarts", uri="s3://m/1", sha256=sha())
            )
        )
        caller.start()
        process.start()  # same port: the retries of the call reach the new process
        caller.join(timeout=60)
        assert [v.version for v in results] == [1]
        assert [v.version for v in registry.list_versions("restarts")] == [1]


@pytest.mark.timeout(120)
def test_deliveries_survive_a_crash_of_the_server(server_factory: ServerFactory) -> None:
    with (
        # Deliveries a crash interrupts wait for their lease (timeout + 5 s each here).
        server_factory(process=True, webhook_timeout_seconds="1", **FAST_RETRIES) as server,
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
            wait_until(
                lambda: len(after.delivered(webhook.name)) == 3, what="every delivery", timeout=60
            )
            logged = log_after(registry, webhook.cursor)
        assert receiver.answered() == [e.seq for e in logged]
        assert [e.resource for e in logged] == [m.name for m in made]
