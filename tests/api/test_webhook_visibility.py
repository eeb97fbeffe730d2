"""Who sees what of a webhook in the log: its URL's path and query string often carry a
token of the receiver's, so only those who administer the webhook see them; and a webhook
bound to a group goes when its group goes, so that a new group of the same id inherits
nothing."""

from __future__ import annotations

import json

import grpc
import pytest
from modelyard import Action, AuditEvent, Registry
from modelyard.v1 import resources_pb2 as pb
from modelyard.v1 import webhook_service_pb2 as ws

from tests.support.events import log_after, read, wait_until
from tests.support.servers import Server
from tests.support.status import reason_of
from tests.support.versions import register
from tests.support.webhooks import endpoint, hooks

TOKEN = "receiver-token-3c2b1a"
URL = f"https://hooks.example.com/modelyard/{TOKEN}?key={TOKEN}"
CUT = "https://hooks.example.com/…"


def urls_in(event: AuditEvent) -> list[str]:
    """The webhook URLs an event shows, in its snapshots and its related changes."""
    snapshots = [event.before, event.after]
    for change in event.related:
        snapshots += [change.before, change.after]
    return [s["url"] for s in snapshots if s is not None and "url" in s]


def test_viewers_see_a_webhook_url_cut_to_its_host_in_audit_and_watch(
    server: Server, registry: Registry, unique_group: str
) -> None:
    registry.create_group(unique_group)
    with hooks(server) as api:
        webhook = api.create(URL, group=f"groups/{unique_group}")
        api.stub.UpdateWebhook(
            ws.UpdateWebhookRequest(
                webhook=ws.Webhook(name=webhook.name, description="moved"),
                update_mask={"paths": ["description"]},  # type: ignore[arg-type]
            ),
            metadata=api.metadata,
        )
    viewer = server.mint_token("vera", "viewer")
    group_admin = server.mint_token("gail", f"admin@{unique_group}")
    start = webhook.cursor - 1
    seen: dict[str, list[AuditEvent]] = {}
    for who, token in (("admin", server.token), ("viewer", viewer), ("gail", group_admin)):
        with Registry(server.address, token=token) as client:
            listed = [
                e
                for e in client.list_audit_events(resource=f"groups/{unique_group}")
                if e.seq > start and e.resource == webhook.name
            ]
            with client.watch(groups=[unique_group], start_after=start) as watch:
                streamed = read(watch, 2)
            assert [e.seq for e in listed] == [e.seq for e in streamed]
            assert [e.action for e in listed] == [Action.WEBHOOK_CREATED, Action.WEBHOOK_UPDATED]
            seen[who] = listed + streamed
    for who in ("admin", "gail"):
        assert all(set(urls_in(e)) == {URL} for e in seen[who])
    for event in seen["viewer"]:
        assert set(urls_in(event)) == {CUT}
        assert TOKEN not in json.dumps([event.before, event.after])
        assert event.resource == webhook.name and event.actor == "admin"


def test_deleting_a_group_deletes_its_webhooks_so_a_new_group_of_that_id_gets_none(
    server: Server, registry: Registry, unique_group: str
) -> None:
    registry.create_group(unique_group)
    with endpoint() as receiver, hooks(server) as api:
        bound = api.create(receiver.url + f"?key={TOKEN}", group=f"groups/{unique_group}")
        tenant_wide = api.create("https://hooks.example.com/all")
        register(registry, unique_group)
        wait_until(lambda: len(api.delivered(bound.name)) == 1, what="the first delivery")
        registry.delete_group(unique_group, force=True)
        with pytest.raises(grpc.RpcError) as gone:
            api.stub.GetWebhook(ws.GetWebhookRequest(name=bound.name), metadata=api.metadata)
        assert reason_of(gone.value) == "WEBHOOK_NOT_FOUND"
        assert (
            api.stub.GetWebhook(
                ws.GetWebhookRequest(name=tenant_wide.name), metadata=api.metadata
            ).name
            == tenant_wide.name
        )

        [deleted] = [
            e for e in log_after(registry, bound.cursor) if e.action == Action.MODEL_GROUP_DELETED
        ]
        [change] = [c for c in deleted.related if c.resource == bound.name]
        assert change.after is None and change.before is not None
        assert change.before["url"] == bound.url
        viewer = server.mint_token("vic", "viewer")
        with Registry(server.address, token=viewer) as client:
            [seen] = [e for e in client.list_audit_events() if e.seq == deleted.seq]
            assert urls_in(seen) == [receiver.url.partition("/hooks")[0] + "/…"]

        received = len(receiver.received)
        registry.create_group(unique_group)  # the same id, a new group
        version = register(registry, unique_group)
        [*_, last] = log_after(registry, deleted.seq)
        assert last.resource == version.name
        wait_until(
            lambda: any(d.seq == last.seq for d in api.deliveries(tenant_wide.name)),
            what="the tenant-wide webhook to take the new version",
        )
        assert len(receiver.received) == received  # nothing for the deleted webhook


def test_a_receiver_sees_other_webhooks_urls_cut_to_their_host(server: Server) -> None:
    with endpoint() as receiver, hooks(server) as api:
        watcher = api.create(receiver.url, actions=[pb.ACTION_WEBHOOK_CREATED])
        other = api.create(URL)
        wait_until(lambda: len(api.delivered(watcher.name)) >= 1, what="the delivery")
        [delivery] = [
            d
            for d in receiver.received
            if d.payload["event"]["resource"] == other.name  # type: ignore[index]
        ]
        assert TOKEN not in delivery.body.decode()
        assert delivery.payload["event"]["after"]["url"] == CUT  # type: ignore[index]
