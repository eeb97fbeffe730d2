"""WatchEvents through the SDK: from now, from a cursor, filters, heartbeats, slow
subscribers, permissions and tenants. Restarts are in tests/e2e/test_restarts.py, the
`watch` command in tests/cli/test_watch_command.py."""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
from collections.abc import Callable
from typing import Any

import grpc
import pytest
from modelyard import Action, AsyncRegistry, AuditEvent, ModelCard, Registry, errors
from modelyard.v1 import registry_service_pb2 as rs
from modelyard.v1 import registry_service_pb2_grpc
from modelyard.v1 import resources_pb2 as pb

from tests.support.events import head, log_after, read, seqs, touched, wait_until
from tests.support.factory import ServerFactory
from tests.support.servers import Server
from tests.support.status import reason_of
from tests.support.stubs import Raw, approve, move
from tests.support.versions import register, sha

# Enough 65 kB events to overrun gRPC's flow-control windows and a small server buffer.
WRITES = 150


def test_a_watch_from_now_hands_out_only_what_commits_after_it(
    registry: Registry, unique_group: str
) -> None:
    registry.create_group(unique_group)
    register(registry, unique_group)
    with registry.watch(groups=[unique_group]) as watch:
        assert watch.cursor == head(registry)
        later = register(registry, unique_group)
        [event] = read(watch, 1)
    assert event.action == Action.MODEL_VERSION_CREATED
    assert event.resource == later.name
    assert event.after is not None and event.after["name"] == later.name
    assert event.seq == watch.cursor


def test_resuming_from_a_cursor_replays_what_followed_it_then_goes_live(
    registry: Registry, unique_group: str
) -> None:
    registry.create_group(unique_group)
    start = head(registry)
    for _ in range(3):
        register(registry, unique_group)
    with registry.watch(groups=[unique_group], start_after=start) as first:
        replayed = read(first, 3)
    with registry.watch(groups=[unique_group], start_after=replayed[0].seq) as resumed:
        newer = register(registry, unique_group)
        rest = read(resumed, 3)
    logged = [e for e in log_after(registry, start) if e.group == f"groups/{unique_group}"]
    assert seqs(replayed) + seqs(rest)[2:] == seqs(logged)
    assert seqs(rest) == [*seqs(replayed)[1:], logged[-1].seq]
    assert rest[-1].resource == newer.name
    assert [e.hash for e in replayed] == [e.hash for e in logged[:3]]


def test_filters_pick_groups_actions_and_versions_including_related_changes(
    server: Server, registry: Registry, unique_group: str
) -> None:
    other = unique_group + "-other"
    registry.create_group(unique_group)
    registry.create_group(other)
    v1, v2 = register(registry, unique_group), register(registry, unique_group)
    approver = server.mint_token("ann", "approver")
    for version in (v1, v2):
        approve(server.address, approver, version.name)
    start = head(registry)
    move(server.address, server.token, v1.name, pb.STAGE_STAGING)
    move(server.address, server.token, v1.name, pb.STAGE_PRODUCTION)
    register(registry, other)
    move(server.address, server.token, v2.name, pb.STAGE_STAGING)
    registry.set_tag(unique_group, v2.version, "team", "risk")
    move(server.address, server.token, v2.name, pb.STAGE_PRODUCTION)  # archives v1 with it
    logged = log_after(registry, start)

    cases: dict[str, tuple[dict[str, list[str]], Callable[[AuditEvent], bool]]] = {
        "group": ({"groups": [unique_group]}, lambda e: e.group == f"groups/{unique_group}"),
        "action": (
            {"groups": [unique_group, other], "actions": ["STAGE_CHANGED"]},
            lambda e: e.action == Action.STAGE_CHANGED,
        ),
        "version": ({"versions": [v1.name]}, lambda e: v1.name in touched(e)),
    }
    for label, (filters, wanted) in cases.items():
        expected = [e for e in logged if wanted(e)]
        with registry.watch(start_after=start, **filters) as watch:  # type: ignore[arg-type]
            got = read(watch, len(expected))
        assert seqs(got) == seqs(expected), label
    assert seqs(expected)[-1] == logged[-1].seq  # v1's archiving reached the v1 watcher


def test_heartbeats_advance_the_cursor_of_an_idle_filtered_watch(
    server_factory: ServerFactory,
) -> None:
    with (
        server_factory(heartbeat_seconds="0.2") as server,
        Registry(server.address, token=server.token) as registry,
    ):
        registry.create_group("quiet")
        registry.create_group("busy")
        with registry.watch(groups=["quiet"]) as watch:
            for _ in range(3):
                register(registry, "busy")
            target = head(registry)
            handed: list[AuditEvent] = []
            reader = threading.Thread(target=lambda: handed.extend(watch))
            reader.start()
            wait_until(lambda: (watch.cursor or 0) >= target, what="the cursor to reach the head")
        reader.join(timeout=10)
    assert handed == [] and watch.cursor == target


def test_heartbeats_come_at_the_configured_interval_with_the_head_seq(
    server_factory: ServerFactory,
) -> None:
    with server_factory(heartbeat_seconds="0.3") as server:
        with Registry(server.address, token=server.token) as registry:
            registry.create_group("g")
        with grpc.insecure_channel(server.address) as channel:
            stub = registry_service_pb2_grpc.RegistryServiceStub(channel)
            call: Any = stub.WatchEvents(
                rs.WatchEventsRequest(groups=["groups/other"]),
                metadata=(("authorization", f"Bearer {server.token}"),),
                timeout=5,
            )
            beats = [next(call) for _ in range(4)]
            call.cancel()
    assert all(b.WhichOneof("kind") == "heartbeat" for b in beats)
    assert {b.heartbeat.head_seq for b in beats} == {1}
    times = [b.heartbeat.time.ToMicroseconds() / 1e6 for b in beats]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times[1:])]
    assert all(0.2 < gap < 2.0 for gap in gaps), gaps  # loose: the interval is configurable


def test_a_subscriber_that_falls_behind_is_ended_and_resumes_without_loss(
    server_factory: ServerFactory,
) -> None:
    with (
        server_factory(watch_buffer="4") as server,
        Registry(server.address, token=server.token) as registry,
        grpc.insecure_channel(server.address) as channel,
    ):
        registry.create_group("slow")
        stub = registry_service_pb2_grpc.RegistryServiceStub(channel)
        call: Any = stub.WatchEvents(
            rs.WatchEventsRequest(groups=["groups/slow"]),
            metadata=(("authorization", f"Bearer {server.token}"),),
            timeout=60,  # a stream that is never ended fails the test instead of hanging it
        )
        start = next(call).heartbeat.head_seq  # subscribed; now it stops reading
        card = ModelCard(intended_use="x" * 65_000)  # big events fill gRPC's windows fast
        for _ in range(WRITES):
            register(registry, "slow", model_card=card)
        received: list[int] = []
        with pytest.raises(grpc.RpcError) as ended:
            received.extend(m.event.seq for m in call if m.HasField("event"))
        assert ended.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert reason_of(ended.value) == "SUBSCRIBER_TOO_SLOW"
        assert len(received) < WRITES
        cursor = received[-1] if received else start
        with registry.watch(groups=["slow"], start_after=cursor) as resumed:
            rest = read(resumed, WRITES - len(received))
        logged = [e.seq for e in log_after(registry, start) if e.group == "groups/slow"]
        assert received + seqs(rest) == logged


def test_the_sdk_watch_resumes_by_itself_when_the_server_ends_a_slow_stream(
    server_factory: ServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        server_factory(watch_buffer="2") as server,
        Registry(server.address, token=server.token) as registry,
    ):
        registry.create_group("burst")
        start = head(registry)
        with registry.watch(groups=["burst"]) as watch:
            gate = threading.Event()
            handed: list[int] = []

            def consume() -> None:
                for event in watch:
                    gate.wait()  # a consumer stuck on its first event
                    handed.append(event.seq)

            consumer = threading.Thread(target=consume)
            consumer.start()
            card = ModelCard(intended_use="y" * 65_000)
            for _ in range(WRITES):
                register(registry, "burst", model_card=card)
            gate.set()
            wait_until(lambda: len(handed) == WRITES, what="every event after the resume")
        consumer.join(timeout=10)
        assert any("SUBSCRIBER_TOO_SLOW" in r.getMessage() for r in caplog.records)
        assert handed == [e.seq for e in log_after(registry, start)]
        assert "SUBSCRIBER_TOO_SLOW" not in server.log_file.read_text()  # not a server fault


async def test_the_async_watch_hands_out_events_in_order(server: Server, unique_group: str) -> None:
    async with AsyncRegistry(server.address, token=server.token) as registry:
        await registry.create_group(unique_group)
        watch = await registry.watch(groups=[unique_group])
        start = watch.cursor
        made = [
            await registry.register(unique_group, uri=f"s3://m/{i}", sha256=f"{i:064x}")
            for i in range(3)
        ]
        got = []
        async with asyncio.timeout(20), watch:
            async for event in watch:
                got.append(event)
                if len(got) == 3:
                    break
    assert [e.resource for e in got] == [v.name for v in made]
    assert start is not None and seqs(got) == list(range(start + 1, start + 4))
    assert watch.cursor == got[-1].seq


async def test_an_async_watch_that_hears_nothing_for_idle_timeout_reconnects_without_a_gap(
    sqlite_server: Server, unique_group: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The server's heartbeats are seconds apart: a watch that tolerates 0.3 s of silence
    gives up on the quiet stream and opens another, and what commits meanwhile arrives, once.
    A consumer that takes longer than that between reads is not taken for silence."""
    async with AsyncRegistry(sqlite_server.address, token=sqlite_server.token) as registry:
        await registry.create_group(unique_group)
        watch = await registry.watch(groups=[unique_group], idle_timeout=0.3)
        with caplog.at_level(logging.WARNING, logger="modelyard.watch"):
            reading = asyncio.ensure_future(anext(watch))
            await asyncio.sleep(1.5)
            silences = [r for r in caplog.records if "silent" in r.getMessage()]
            made = await registry.register(unique_group, uri="s3://m/0", sha256=sha())
            async with asyncio.timeout(20):
                event = await reading
            caplog.clear()
            later = [
                await registry.register(unique_group, uri=f"s3://m/{i}", sha256=sha())
                for i in (1, 2)
            ]
            await asyncio.sleep(1.0)  # the consumer is busy elsewhere
            async with asyncio.timeout(20):
                rest = [await anext(watch), await anext(watch)]
            await watch.close()
    assert silences, "a stream silent for 1.5 s was never given up on"
    assert event.resource == made.name
    assert [e.resource for e in rest] == [v.name for v in later]
    assert event.seq < rest[0].seq < rest[1].seq
    assert not [r for r in caplog.records if "silent" in r.getMessage()]


async def test_async_with_opens_the_async_watch_so_from_now_means_from_then(
    server: Server, unique_group: str
) -> None:
    async with AsyncRegistry(server.address, token=server.token) as registry:
        await registry.create_group(unique_group)
        watch = registry.watch(groups=[unique_group])
        await registry.register(unique_group, uri="s3://m/early", sha256=sha())  # not yet open
        async with asyncio.timeout(20), watch as opened:
            assert opened is watch
            assert watch.cursor == (await registry.verify_audit_log()).head_seq
            later = await registry.register(unique_group, uri="s3://m/later", sha256=sha())
            event = await anext(watch)
    assert event.resource == later.name and event.seq == watch.cursor


async def test_the_first_iteration_opens_an_async_watch_nobody_awaited(
    server: Server, unique_group: str
) -> None:
    async with AsyncRegistry(server.address, token=server.token) as registry:
        await registry.create_group(unique_group)
        start = (await registry.verify_audit_log()).head_seq
        made = await registry.register(unique_group, uri="s3://m/1", sha256=sha())
        watch = registry.watch(groups=[unique_group], start_after=start)
        try:
            async with asyncio.timeout(20):
                event = await anext(watch)
        finally:
            await watch.close()
    assert event.resource == made.name and watch.cursor == event.seq


async def test_an_async_watch_closed_before_it_opens_ends_at_once(
    sqlite_server: Server, unique_group: str
) -> None:
    async with AsyncRegistry(sqlite_server.address, token=sqlite_server.token) as registry:
        await registry.create_group(unique_group)
        watch = registry.watch(groups=[unique_group])
        await watch.close()
        async with asyncio.timeout(5):
            assert await watch is watch
            async with watch:
                assert [event async for event in watch] == []
    assert watch.cursor is None


def test_a_group_viewer_may_watch_its_group_but_not_the_tenant(
    sqlite_server: Server, unique_group: str
) -> None:
    with Registry(sqlite_server.address, token=sqlite_server.token) as admin:
        admin.create_group(unique_group)
    token = sqlite_server.mint_token("vic", f"viewer@{unique_group}")
    with Registry(sqlite_server.address, token=token) as vic:
        with pytest.raises(errors.MissingPermission):
            vic.watch()
        with pytest.raises(errors.MissingPermission):
            vic.watch(groups=[unique_group, "elsewhere"])
        with pytest.raises(errors.MissingPermission):
            vic.watch(versions=["groups/elsewhere/versions/1"])
        with vic.watch(groups=[unique_group]) as watch:
            assert watch.cursor is not None


def test_bad_filters_and_a_cursor_from_another_log_are_refused(
    registry: Registry, raw: Raw
) -> None:
    with pytest.raises(errors.InvalidField) as caught:
        registry.watch(groups=["Not A Group"])
    assert caught.value.field_violations[0][0] == "groups[0]"
    with pytest.raises(errors.InvalidField):
        registry.watch(versions=["groups/g/versions/latest"])
    with pytest.raises(errors.CursorAheadOfLog):
        registry.watch(start_after=10**15)
    for request in (
        rs.WatchEventsRequest(actions=[999]),  # type: ignore[list-item]
        rs.WatchEventsRequest(start_after=-1),
    ):
        with pytest.raises(grpc.RpcError) as refused:
            next(iter(raw.registry.WatchEvents(request, metadata=raw.metadata, timeout=5)))
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert reason_of(refused.value) == "INVALID_FIELD"


def test_a_tenant_sees_only_its_own_log(sqlite_server: Server, unique_group: str) -> None:
    other_tenant = sqlite_server.mint_token("olga", "admin", tenant=f"t-{unique_group}")
    with (
        Registry(sqlite_server.address, token=sqlite_server.token) as home,
        Registry(sqlite_server.address, token=other_tenant) as away,
        away.watch() as watch,
    ):
        assert watch.cursor == 0  # a tenant's log of its own, still empty
        home.create_group(unique_group)
        register(home, unique_group)
        away.create_group(unique_group)
        [event] = read(watch, 1)
    assert event.seq == 1 and event.actor == "olga"
