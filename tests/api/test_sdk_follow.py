"""registry.follow(groups): production, aliases and versions answered from memory, kept
current by the event stream, and from the server when the view cannot vouch for itself."""

from __future__ import annotations

import time

import pytest
from modelyard import (
    AliasNotFound,
    AsyncRegistry,
    Followed,
    Registry,
    Stage,
)
from prometheus_client import REGISTRY

from tests.support.events import head, wait_until
from tests.support.factory import ServerFactory
from tests.support.servers import Server
from tests.support.versions import released, self_approving_group


def serving(view: Followed, group: str) -> str | None:
    """The name of the version the view says is in production."""
    found = view.production(group)
    return None if found is None else found.name


def release(registry: Registry, group: str) -> str:
    return released(registry, group).name


def test_a_followed_view_sees_promotions_and_alias_moves_without_asking_the_server(
    server_factory: ServerFactory, unique_group: str
) -> None:
    with (
        server_factory("sqlite", heartbeat_seconds="0.2") as server,
        Registry(server.address, token=server.token) as registry,
    ):
        self_approving_group(registry, unique_group)
        first = release(registry, unique_group)
        registry.set_alias(unique_group, "champion", first)
        with registry.follow([unique_group], max_staleness=5) as view:
            assert view.current and view.seq is not None
            assert serving(view, unique_group) == first
            assert view.by_alias(unique_group, "champion").name == first

            second = release(registry, unique_group)
            wait_until(lambda: serving(view, unique_group) == second, what="promotion")
            assert view.get_version(first).stage == Stage.ARCHIVED  # moved by the same event
            registry.set_alias(unique_group, "champion", second)
            wait_until(lambda: view.by_alias(unique_group, "champion").name == second, what="alias")
            # From memory: the answers hold while the server is asked nothing. A version
            # the view never saw is fetched once, then held.
            asked = server_calls()
            for _ in range(20):
                assert serving(view, unique_group) == second
                assert view.by_alias(unique_group, "champion").name == second
            assert server_calls() == asked
            registry.delete_alias(unique_group, "champion")
            deleted = head(registry)  # the seq of the deletion: the view is current past it
            wait_until(lambda: (view.seq or 0) >= deleted, what="the view to see the deletion")
            with pytest.raises(AliasNotFound):
                view.by_alias(unique_group, "champion")  # asked of the server, which says so


def server_calls() -> int:
    """How many calls the in-process servers have answered, by their own metrics."""
    return int(
        sum(
            sample.value
            for family in REGISTRY.collect()
            if family.name == "grpc_server_handled"
            for sample in family.samples
            if sample.name.endswith("_total")
        )
    )


def test_a_silent_stream_makes_the_view_ask_the_server(
    server_factory: ServerFactory, unique_group: str
) -> None:
    with (
        # A process of its own: it comes back on the same port.
        server_factory("sqlite", process=True, heartbeat_seconds="0.2") as server,
        Registry(server.address, token=server.token) as registry,
    ):
        self_approving_group(registry, unique_group)
        first = release(registry, unique_group)
        view = registry.follow([unique_group], max_staleness=1)
        assert view.current
        server.stop()  # the stream goes quiet; the view must stop vouching for itself
        time.sleep(1.5)
        assert not view.current and (view.lag or 0) > 1
        server.start()
        # Asked of the server, which is back: the answer is current, never stale.
        assert serving(view, unique_group) == first
        second = release(registry, unique_group)
        wait_until(lambda: view.current, what="the view to hear the stream again")
        wait_until(lambda: serving(view, unique_group) == second, what="catch up")
        view.close()
        assert not view.current


def test_groups_the_view_does_not_follow_are_asked_of_the_server(
    server: Server, unique_group: str
) -> None:
    with Registry(server.address, token=server.token) as registry:
        registry.create_group(unique_group)
        registry.create_group(unique_group + "-other")
        with registry.follow([unique_group]) as view:
            assert view.production(unique_group + "-other") is None
            with pytest.raises(ValueError, match="a list of groups"):
                registry.follow(unique_group)


async def test_the_async_view_answers_the_same_way(server: Server, unique_group: str) -> None:
    with Registry(server.address, token=server.token) as setup:
        self_approving_group(setup, unique_group)
        first = release(setup, unique_group)
    async with AsyncRegistry(server.address, token=server.token) as registry:
        view = await registry.follow([unique_group])
        async with view:
            found = await view.production(unique_group)
            assert found is not None and found.name == first
            assert (await view.get_version(first)).name == first
        assert not view.current


def test_a_view_whose_registry_is_closed_stops_following_quietly(
    sqlite_server: Server, unique_group: str
) -> None:
    """Closing the registry first, as a `with` block that fails ends it, ends the view's
    stream: its reader neither reconnects over the closed channel nor raises in its thread
    (an exception there would fail this test)."""
    registry = Registry(sqlite_server.address, token=sqlite_server.token)
    registry.create_group(unique_group)
    view = registry.follow([unique_group], max_staleness=1)
    wait_until(lambda: view.current, what="the view to be current")
    registry.close()
    wait_until(lambda: not view.current, timeout=5, what="the view to stop vouching for itself")
    view.close()


async def test_an_async_watch_whose_registry_is_closed_ends(
    server: Server, unique_group: str
) -> None:
    registry = AsyncRegistry(server.address, token=server.token)
    await registry.create_group(unique_group)
    watch = await registry.watch(groups=[unique_group])
    await registry.close()
    assert [event async for event in watch] == []
