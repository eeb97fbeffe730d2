"""UpdateWebhook (AIP-134): one change with one log entry that never holds the secret; the
new URL, filters and secret apply to the next deliveries; etags, validation, permissions."""

from __future__ import annotations

from collections.abc import Sequence

import grpc
import pytest
from google.protobuf import field_mask_pb2, json_format
from modelyard import Action, Registry
from modelyard.v1 import resources_pb2 as pb
from modelyard.v1 import webhook_service_pb2 as ws

from tests.support.events import log_after, wait_until
from tests.support.factory import ServerFactory
from tests.support.servers import Server
from tests.support.status import reason_of, violations_of
from tests.support.versions import register
from tests.support.webhooks import SECRET, Hooks, endpoint, hooks, signed_correctly

NEW_SECRET = "rotated-rotated-rotated-1"


def update(api: Hooks, webhook: ws.Webhook, paths: Sequence[str], **fields: object) -> ws.Webhook:
    """Sends UpdateWebhook for `webhook.name` with `fields` set and `paths` in the mask."""
    patch = ws.Webhook(name=webhook.name, **fields)  # type: ignore[arg-type]
    request = ws.UpdateWebhookRequest(
        webhook=patch, update_mask=field_mask_pb2.FieldMask(paths=list(paths))
    )
    return api.stub.UpdateWebhook(request, metadata=api.metadata, timeout=10)


def test_an_update_changes_the_masked_fields_in_one_logged_change_without_the_secret(
    server: Server, registry: Registry, unique_group: str
) -> None:
    registry.create_group(unique_group)
    with hooks(server) as api:
        webhook = api.create(
            "https://hooks.example.com/a", group=f"groups/{unique_group}", description="a"
        )
        start = registry.verify_audit_log().head_seq
        updated = update(
            api,
            webhook,
            ["url", "actions", "secret"],
            url="https://hooks.example.com/b",
            actions=[pb.ACTION_STAGE_CHANGED],
            secret=NEW_SECRET,
            description="ignored: not in the mask",
            etag=webhook.etag,
        )
        assert updated.url == "https://hooks.example.com/b"
        assert list(updated.actions) == [pb.ACTION_STAGE_CHANGED]
        assert updated.description == "a" and updated.secret == ""
        assert updated.etag != webhook.etag and updated.update_time.seconds > 0
        assert (updated.name, updated.created_by, updated.cursor) == (
            webhook.name,
            webhook.created_by,
            webhook.cursor,
        )
        fetched = api.stub.GetWebhook(
            ws.GetWebhookRequest(name=webhook.name), metadata=api.metadata
        )
        # The delivery worker may move the cursor past the update's own log entry between
        # the two calls (it owns that field); every other field must be as the update left it.
        assert fetched.cursor >= updated.cursor
        fetched.cursor = updated.cursor
        assert fetched == updated

    [entry] = log_after(registry, start)
    assert entry.action == Action.WEBHOOK_UPDATED and entry.resource == webhook.name
    assert entry.group == f"groups/{unique_group}"
    assert entry.before is not None and entry.before["url"] == "https://hooks.example.com/a"
    assert entry.after is not None and entry.after["url"] == "https://hooks.example.com/b"
    snapshots = json_format.MessageToJson(entry.proto)
    assert NEW_SECRET not in snapshots and SECRET not in snapshots
    assert registry.verify_audit_log().ok


def test_the_next_deliveries_go_to_the_new_url_signed_with_the_new_secret(
    server_factory: ServerFactory,
) -> None:
    with (
        server_factory() as server,
        Registry(server.address, token=server.token) as registry,
        endpoint() as old,
        endpoint() as new,
        hooks(server) as api,
    ):
        registry.create_group("moved")
        webhook = api.create(old.url, group="groups/moved")
        register(registry, "moved")
        wait_until(lambda: len(api.delivered(webhook.name)) == 1, what="the first delivery")
        update(api, webhook, ["url", "secret"], url=new.url, secret=NEW_SECRET)
        register(registry, "moved")
        # The update is an event of the group too, so it is delivered, after it commits.
        wait_until(lambda: len(api.delivered(webhook.name)) == 3, what="two more deliveries")
        assert len(old.received) == 1 and signed_correctly(old.received[0], SECRET)
        assert [d.payload["event"]["action"] for d in new.received] == [  # type: ignore[index]
            "ACTION_WEBHOOK_UPDATED",
            "ACTION_MODEL_VERSION_CREATED",
        ]
        for delivered in new.received:
            assert signed_correctly(delivered, NEW_SECRET)
            assert not signed_correctly(delivered, SECRET)

        update(api, webhook, ["actions"], actions=[pb.ACTION_ALIAS_SET])
        register(registry, "moved")  # filtered out now
        registry.set_alias("moved", "champion", 1)
        wait_until(lambda: len(new.received) == 3, what="the alias event")
        assert new.received[-1].payload["event"]["action"] == "ACTION_ALIAS_SET"  # type: ignore[index]


def test_a_stale_etag_is_aborted_and_changes_nothing(server: Server, registry: Registry) -> None:
    with hooks(server) as api:
        webhook = api.create("https://hooks.example.com/etag")
        update(api, webhook, ["description"], description="first", etag=webhook.etag)
        start = registry.verify_audit_log().head_seq
        with pytest.raises(grpc.RpcError) as stale:
            update(api, webhook, ["description"], description="second", etag=webhook.etag)
        assert stale.value.code() == grpc.StatusCode.ABORTED
        assert reason_of(stale.value) == "STALE_ETAG"
        assert log_after(registry, start) == []
        fetched = api.stub.GetWebhook(
            ws.GetWebhookRequest(name=webhook.name), metadata=api.metadata
        )
        assert fetched.description == "first"


def test_bad_updates_are_refused_naming_the_problem(server: Server, registry: Registry) -> None:
    with hooks(server) as api:
        webhook = api.create("https://hooks.example.com/bad")
        start = registry.verify_audit_log().head_seq
        with pytest.raises(grpc.RpcError) as bad:
            update(api, webhook, ["url", "secret", "group"], url="ftp://x", secret="short",
                   group="groups/Bad Group")  # fmt: skip
        assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert set(violations_of(bad.value)) == {"webhook.url", "webhook.secret", "webhook.group"}
        with pytest.raises(grpc.RpcError) as empty:
            update(api, webhook, [])
        assert violations_of(empty.value) == {"update_mask": "is empty"}
        with pytest.raises(grpc.RpcError) as output_only:
            update(api, webhook, ["cursor"], cursor=1)
        assert reason_of(output_only.value) == "IMMUTABLE_FIELD"
        with pytest.raises(grpc.RpcError) as unknown:
            update(api, webhook, ["paused"])
        assert (
            "'paused' is not a field that can be updated"
            in violations_of(unknown.value)["update_mask"]
        )
        with pytest.raises(grpc.RpcError) as no_group:
            update(api, webhook, ["group"], group="groups/no-such-group-here")
        assert reason_of(no_group.value) == "MODEL_GROUP_NOT_FOUND"
        with pytest.raises(grpc.RpcError) as missing:
            update(api, ws.Webhook(name="webhooks/wh-0000000000"), ["description"])
        assert reason_of(missing.value) == "WEBHOOK_NOT_FOUND"
        assert log_after(registry, start) == []


def test_only_admins_update_and_a_group_admin_cannot_widen_a_webhook(
    server: Server, registry: Registry, unique_group: str
) -> None:
    registry.create_group(unique_group)
    group_admin = server.mint_token("gina", f"admin@{unique_group}")
    deployer = server.mint_token("dora", "deployer")
    with hooks(server) as api, hooks(server, group_admin) as gina, hooks(server, deployer) as dora:
        webhook = api.create("https://hooks.example.com/g", group=f"groups/{unique_group}")
        assert update(gina, webhook, ["description"], description="mine").description == "mine"
        with pytest.raises(grpc.RpcError) as widen:
            update(gina, webhook, ["group"], group="")
        assert reason_of(widen.value) == "MISSING_PERMISSION"
        with pytest.raises(grpc.RpcError) as refused:
            update(dora, webhook, ["description"], description="hers")
        assert reason_of(refused.value) == "MISSING_PERMISSION"
        tenant_wide = update(api, webhook, ["group"], group="")
        assert tenant_wide.group == ""
