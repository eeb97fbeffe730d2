"""modelyard.v1.WebhookService: webhooks and the record of their deliveries."""

from __future__ import annotations

import json
from typing import Any

import grpc
from google.protobuf import empty_pb2, json_format
from modelyard.v1 import webhook_service_pb2 as ws
from modelyard.v1 import webhook_service_pb2_grpc as ws_grpc

from modelyard_server.api.auth import current_principal
from modelyard_server.api.convert import action_names, audit_event, mutation
from modelyard_server.api.errors import rpc
from modelyard_server.domain.webhooks import Webhooks, visible_entry
from modelyard_server.log.chain import LogEntry

Context = grpc.aio.ServicerContext[Any, Any]


def delivery_body(webhook: str, delivery: str, entry: LogEntry) -> bytes:
    """Returns the JSON a delivery POSTs: the webhook, the delivery and the event (proto JSON),
    which shows webhook URLs cut to their host: a receiver administers no webhook."""
    event = json_format.MessageToDict(audit_event(visible_entry(None, entry)))
    payload = {"webhook": webhook, "delivery": delivery, "event": event}
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


class WebhookServicer(ws_grpc.WebhookServiceServicer):
    def __init__(self, webhooks: Webhooks) -> None:
        self.webhooks = webhooks

    @rpc
    async def CreateWebhook(self, request: ws.CreateWebhookRequest, context: Context) -> ws.Webhook:
        change = mutation("CreateWebhook", request, request.request_id)
        return await self.webhooks.create(
            change,
            request.webhook,
            action_names(list(request.webhook.actions), "webhook.actions"),
        )

    @rpc
    async def GetWebhook(self, request: ws.GetWebhookRequest, context: Context) -> ws.Webhook:
        return await self.webhooks.get(current_principal(), request.name)

    @rpc
    async def ListWebhooks(
        self, request: ws.ListWebhooksRequest, context: Context
    ) -> ws.ListWebhooksResponse:
        webhooks, token = await self.webhooks.page(
            current_principal(), request.group, request.page_size, request.page_token
        )
        return ws.ListWebhooksResponse(webhooks=webhooks, next_page_token=token)

    @rpc
    async def UpdateWebhook(self, request: ws.UpdateWebhookRequest, context: Context) -> ws.Webhook:
        change = mutation("UpdateWebhook", request, request.request_id)
        return await self.webhooks.update(
            change,
            request.webhook,
            request.update_mask.paths,
            action_names(list(request.webhook.actions), "webhook.actions"),
        )

    @rpc
    async def DeleteWebhook(
        self, request: ws.DeleteWebhookRequest, context: Context
    ) -> empty_pb2.Empty:
        change = mutation("DeleteWebhook", request, request.request_id)
        await self.webhooks.delete(change, request.name, request.etag)
        return empty_pb2.Empty()

    @rpc
    async def ListWebhookDeliveries(
        self, request: ws.ListWebhookDeliveriesRequest, context: Context
    ) -> ws.ListWebhookDeliveriesResponse:
        deliveries, token = await self.webhooks.deliveries(
            current_principal(),
            request.parent,
            request.state,
            request.page_size,
            request.page_token,
        )
        return ws.ListWebhookDeliveriesResponse(deliveries=deliveries, next_page_token=token)

    @rpc
    async def RedeliverWebhookDelivery(
        self, request: ws.RedeliverWebhookDeliveryRequest, context: Context
    ) -> ws.WebhookDelivery:
        return await self.webhooks.redeliver(current_principal(), request.name)
