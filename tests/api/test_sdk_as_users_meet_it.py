"""The SDK as a new user meets it: names rather than numbers, one signature style, the watch
as a context manager, and errors that read well."""

from __future__ import annotations

import asyncio
import traceback

import modelyard
import pytest
from modelyard import AsyncRegistry, Registry

from tests.support.servers import Server
from tests.support.versions import sha


def test_what_the_sdk_returns_prints_as_names(registry: Registry, unique_group: str) -> None:
    registry.create_group(unique_group)
    version = registry.register(unique_group, uri="s3://m/1", sha256=sha(), format="onnx")
    assert f"{version.stage} {version.approval_status}" == "NONE PENDING_MANUAL_APPROVAL"
    assert str(version.artifact.format) == "ONNX"
    assert version.stage == modelyard.Stage.NONE
    assert int(version.stage) == 1
    assert version.create_time is not None and version.create_time.tzinfo is not None
    [event] = registry.list_audit_events(resource=version.name)
    assert str(event.action) == "MODEL_VERSION_CREATED"
    assert isinstance(version.proto, modelyard.v1.resources_pb2.ModelVersion)


def test_methods_take_enum_members_numbers_and_names_in_any_case(
    registry: Registry, unique_group: str
) -> None:
    registry.create_group(unique_group)
    for number in (1, 2, 3):
        registry.register(unique_group, uri=f"s3://m/{number}", sha256=sha())
    moved = [
        registry.transition(unique_group, 1, modelyard.Stage.STAGING),
        registry.transition(unique_group, 2, "Staging"),
        registry.transition(unique_group, 3, "STAGE_STAGING"),
    ]
    assert [m.model_version.stage for m in moved] == [modelyard.Stage.STAGING] * 3
    with pytest.raises(ValueError, match="unknown stage 'stagin'; use one of: none, staging"):
        registry.transition(unique_group, 1, "stagin")


def test_transition_names_a_version_like_approve_and_promote(
    registry: Registry, unique_group: str
) -> None:
    registry.create_group(unique_group)
    registry.register(unique_group, uri="s3://m/1", sha256=sha())
    registry.register(unique_group, uri="s3://m/2", sha256=sha())
    by_number = registry.transition(unique_group, 1, "staging")
    by_group_name = registry.transition(f"groups/{unique_group}", "2", "staging")
    by_name = registry.transition(f"groups/{unique_group}/versions/1", "archived")
    assert by_number.model_version.name == f"groups/{unique_group}/versions/1"
    assert by_group_name.model_version.name == f"groups/{unique_group}/versions/2"
    assert by_name.model_version.stage == modelyard.Stage.ARCHIVED


async def test_async_with_watch_opens_the_stream_without_an_extra_await(
    server: Server, unique_group: str
) -> None:
    async with AsyncRegistry(server.address, token=server.token) as registry:
        await registry.create_group(unique_group)
        async with registry.watch(groups=[unique_group]) as events:
            # The stream is established on entering: a change made now is seen.
            created = await registry.register(unique_group, uri="s3://m/1", sha256=sha())
            event = await asyncio.wait_for(anext(events), timeout=10)
        assert event.action == modelyard.Action.MODEL_VERSION_CREATED
        assert event.resource == created.name
        assert events.cursor == event.seq

        # `await registry.watch(...)` still opens it and returns the watch.
        watch = await registry.watch(groups=[unique_group], start_after=0)
        try:
            first = await asyncio.wait_for(anext(watch), timeout=10)
            assert first.action == modelyard.Action.MODEL_GROUP_CREATED
        finally:
            await watch.close()

        # Iterating alone opens it too.
        replay = registry.watch(groups=[unique_group], start_after=0)
        seen = []
        async for event in replay:
            seen.append(event.action)
            if len(seen) == 2:
                break
        await replay.close()
        assert seen == [
            modelyard.Action.MODEL_GROUP_CREATED,
            modelyard.Action.MODEL_VERSION_CREATED,
        ]


def test_an_error_shows_its_reason_and_message_without_grpc_internals(
    registry: Registry, unique_group: str
) -> None:
    registry.create_group(unique_group)
    with pytest.raises(modelyard.ModelVersionNotFound) as caught:
        registry.get_version(unique_group, 7)
    error = caught.value
    assert str(error) == (
        f"MODEL_VERSION_NOT_FOUND: model version 'groups/{unique_group}/versions/7' does not exist"
    )
    shown = "".join(traceback.format_exception(error))
    assert "AioRpcError" not in shown and "_InactiveRpcError" not in shown
    assert "direct cause" not in shown and "During handling" not in shown
    assert error.rpc_error is not None  # still there for who needs it
    assert error.code.name == "NOT_FOUND"


def test_a_field_problem_is_said_once(registry: Registry, unique_group: str) -> None:
    registry.create_group(unique_group)
    with pytest.raises(modelyard.InvalidField) as caught:
        registry.register(unique_group, uri="s3://m/1", sha256="not-hex")
    text = str(caught.value)
    assert text.startswith("INVALID_FIELD: ")
    assert "\n" not in text, text
    assert caught.value.field_violations, "the violation is still there, as data"


def test_no_server_at_the_address_says_what_to_check() -> None:
    with (
        Registry("127.0.0.1:9", token="t", timeout=2, max_attempts=1) as registry,
        pytest.raises(modelyard.Unavailable) as caught,
    ):
        registry.get_group("fraud")
    message = caught.value.message
    assert message.startswith("no modelyard server answered at 127.0.0.1:9 (")
    assert "is it running there? `make run` starts one" in message
