"""Webhooks through the SDK, against a real server and a real HTTP endpoint on loopback:
registering, listing, the record of a failing delivery, redelivery and deletion."""

from __future__ import annotations

import pytest
from modelyard import (
    Action,
    AsyncRegistry,
    DeliveryState,
    Registry,
    StaleEtag,
    Webhook,
    WebhookDeliveryNotFound,
    WebhookNotFound,
)

from tests.support.events import wait_until
from tests.support.factory import BACKENDS, ServerFactory
from tests.support.servers import Server
from tests.support.versions import register
from tests.support.webhooks import FAST_RETRIES, SECRET, endpoint


def test_a_webhook_is_created_listed_fetched_by_id_or_name_and_deleted(
    registry: Registry, unique_group: str
) -> None:
    registry.create_group(unique_group)
    webhook = registry.create_webhook(
        "https://hooks.example.com/modelyard",
        secret=SECRET,
        group=f"groups/{unique_group}",
        actions=["stage_changed", Action.ALIAS_SET],
        description="deploy bot",
    )
    assert webhook.name.startswith("webhooks/wh-") and webhook.secret == ""
    assert webhook.group == f"groups/{unique_group}" and webhook.created_by == "admin"
    assert list(webhook.actions) == [Action.STAGE_CHANGED, Action.ALIAS_SET]
    webhook_id = webhook.name.removeprefix("webhooks/")
    assert registry.get_webhook(webhook_id) == registry.get_webhook(webhook.name) == webhook

    other = registry.create_webhook(
        "https://hooks.example.com/b", secret=SECRET, group=unique_group
    )
    pager = registry.list_webhooks(group=unique_group, page_size=1)
    assert [w.name for w in pager] == [webhook.name, other.name]  # oldest first
    sizes = [len(page.webhooks) for page in pager.pages]
    assert sizes[:2] == [1, 1] and sum(sizes) == 2
    assert webhook.name in {w.name for w in registry.list_webhooks()}

    changed = registry.update_webhook(
        Webhook(name=webhook_id, group="", secret="rotated-rotated-rotated-1", etag=webhook.etag),
        update_mask=["group", "secret"],
    )
    assert changed.group == "" and changed.secret == "" and changed.etag != webhook.etag
    with pytest.raises(StaleEtag):
        registry.update_webhook(
            Webhook(name=webhook.name, url="https://hooks.example.com/c", etag=webhook.etag),
            update_mask=["url"],
        )
    with pytest.raises(StaleEtag):
        registry.delete_webhook(webhook_id, etag=webhook.etag)
    registry.delete_webhook(webhook_id, etag=changed.etag)
    with pytest.raises(WebhookNotFound):
        registry.get_webhook(webhook.name)
    assert [w.name for w in registry.list_webhooks(group=unique_group)] == [other.name]
    registry.delete_webhook(other.name)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_failing_delivery_is_listed_failed_after_its_retries_and_redelivered(
    server_factory: ServerFactory, backend: str
) -> None:
    with (
        server_factory(backend, **FAST_RETRIES) as fast_server,
        Registry(fast_server.address, token=fast_server.token) as registry,
        endpoint() as receiver,
    ):
        registry.create_group("flaky")
        webhook = registry.create_webhook(receiver.url, secret=SECRET, group="flaky")
        receiver.status = 503
        version = register(registry, "flaky")

        def failed() -> list[str]:
            return [d.name for d in registry.list_webhook_deliveries(webhook.name, state="failed")]

        wait_until(lambda: len(failed()) == 1, what="the delivery to fail")
        [delivery] = registry.list_webhook_deliveries(webhook.name)
        assert delivery.state == DeliveryState.FAILED
        assert delivery.attempts == 3 and delivery.last_response_code == 503
        assert delivery.last_error == "HTTP 503" and delivery.resource == version.name
        assert len(receiver.received) == 3
        succeeded = DeliveryState.SUCCEEDED
        assert list(registry.list_webhook_deliveries(webhook.name, state=succeeded)) == []

        receiver.status = 200
        again = registry.redeliver(delivery.name)
        assert again.name == delivery.name
        assert again.state == DeliveryState.PENDING and again.attempts == 0
        wait_until(
            lambda: (
                [d.seq for d in registry.list_webhook_deliveries(webhook.name, state=succeeded)]
                == [delivery.seq]
            ),
            what="the redelivery",
        )
        assert (
            len(receiver.received) == 4 and receiver.received[-1].body == receiver.received[0].body
        )

        webhook_id = webhook.name.removeprefix("webhooks/")
        again = registry.redeliver(webhook_id, delivery.seq)  # by webhook id and seq
        assert again.name == delivery.name
        with pytest.raises(WebhookDeliveryNotFound):
            registry.redeliver(webhook.name, delivery.seq + 1000)

        registry.delete_webhook(webhook.name)
        with pytest.raises(WebhookNotFound):
            registry.list_webhook_deliveries(webhook.name)


async def test_the_async_registry_manages_webhooks_too(server: Server, unique_group: str) -> None:
    async with AsyncRegistry(server.address, token=server.token) as registry:
        await registry.create_group(unique_group)
        webhook = await registry.create_webhook(
            "https://hooks.example.com/async", secret=SECRET, group=unique_group
        )
        assert await registry.get_webhook(webhook.name) == webhook
        pager = await registry.list_webhooks(group=unique_group)
        assert [w.name async for w in pager] == [webhook.name]
        assert len([page async for page in pager.pages]) == 1
        deliveries = await registry.list_webhook_deliveries(webhook.name, state="pending")
        assert [d async for d in deliveries] == []
        with pytest.raises(WebhookDeliveryNotFound):
            await registry.redeliver(webhook.name, 1)
        await registry.delete_webhook(webhook.name, etag=webhook.etag)
        with pytest.raises(WebhookNotFound):
            await registry.get_webhook(webhook.name)


def test_bad_webhook_arguments_are_refused_before_any_call(registry: Registry) -> None:
    with pytest.raises(ValueError, match="not a delivery name"):
        registry.redeliver("wh-1a2b3c4d5e")
    with pytest.raises(ValueError, match="unknown state 'lost'; use one of: pending"):
        registry.list_webhook_deliveries("wh-1a2b3c4d5e", state="lost")
    with pytest.raises(TypeError, match="actions must be a list"):
        registry.create_webhook("https://x.example.com", secret=SECRET, actions="alias_set")
    with pytest.raises(ValueError, match="a webhook is required"):
        registry.get_webhook("")
