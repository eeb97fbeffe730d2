"""Webhook receivers for the tests: a real HTTP endpoint on loopback that records what it
is sent, the WebhookService through its generated stub, and the receiver's signature check."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TypedDict

import grpc
from modelyard.v1 import webhook_service_pb2 as ws
from modelyard.v1 import webhook_service_pb2_grpc

from tests.support.servers import Server

SECRET = "s3cret-s3cret-s3cret"


class RetrySettings(TypedDict):
    """Server settings of webhook retries, as ServerFactory takes them."""

    webhook_backoff_seconds: str
    webhook_max_attempts: str


# Server settings that give up on a delivery after 3 attempts 0.1 s apart.
FAST_RETRIES: RetrySettings = {"webhook_backoff_seconds": "0.1", "webhook_max_attempts": "3"}


@dataclass
class Delivery:
    """One POST the endpoint received."""

    headers: dict[str, str]
    body: bytes

    @property
    def payload(self) -> dict[str, object]:
        result: dict[str, object] = json.loads(self.body)
        return result

    @property
    def seq(self) -> int:
        event = self.payload["event"]
        assert isinstance(event, dict)
        return int(event["seq"])


@dataclass
class Endpoint:
    """An HTTP server on loopback that records each POST and answers with `status` (500 to
    the next `failures` POSTs first)."""

    status: int = 204
    failures: int = 0
    received: list[Delivery] = field(default_factory=list)
    url: str = ""

    def seqs(self) -> list[int]:
        return [d.seq for d in self.received]

    def answered(self) -> list[int]:
        """The seqs of the POSTs answered 2xx, each once."""
        return sorted({d.seq for d in self.received if d.headers.get("x-answer", "")[:1] == "2"})


@contextmanager
def endpoint() -> Iterator[Endpoint]:
    """Yields a receiver listening on a loopback port of its own; shuts it down after."""
    state = Endpoint()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            status = state.status
            if state.failures > 0:
                state.failures -= 1
                status = 500
            headers = {k.lower(): v for k, v in self.headers.items()}
            headers["x-answer"] = str(status)
            state.received.append(Delivery(headers, body))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/hooks"
    # A short poll: shutdown() waits for serve_forever to look, 0.5 s by default.
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


@dataclass
class Hooks:
    """The WebhookService through its generated stub, as one principal."""

    stub: webhook_service_pb2_grpc.WebhookServiceStub
    metadata: tuple[tuple[str, str], ...]

    def create(
        self, url: str, *, group: str = "", secret: str = SECRET, **fields: object
    ) -> ws.Webhook:
        webhook = ws.Webhook(url=url, group=group, secret=secret, **fields)  # type: ignore[arg-type]
        request = ws.CreateWebhookRequest(webhook=webhook)
        return self.stub.CreateWebhook(request, metadata=self.metadata, timeout=10)

    def deliveries(self, webhook: str, state: int = 0) -> list[ws.WebhookDelivery]:
        request = ws.ListWebhookDeliveriesRequest(parent=webhook, state=state)  # type: ignore[arg-type]
        return list(self.stub.ListWebhookDeliveries(request, metadata=self.metadata).deliveries)

    def delivered(self, webhook: str) -> list[int]:
        """The seqs of the webhook's SUCCEEDED deliveries, oldest first."""
        return sorted(d.seq for d in self.deliveries(webhook, ws.DELIVERY_STATE_SUCCEEDED))


@contextmanager
def hooks(server: Server, token: str | None = None) -> Iterator[Hooks]:
    """Yields the WebhookService of `server`, as the admin unless `token` is given."""
    with grpc.insecure_channel(server.address) as channel:
        yield Hooks(
            webhook_service_pb2_grpc.WebhookServiceStub(channel),
            (("authorization", f"Bearer {token or server.token}"),),
        )


def signed_correctly(delivery: Delivery, secret: str = SECRET) -> bool:
    """Checks the signature as a receiver would: HMAC-SHA256 over id.timestamp.body."""
    signed = (
        f"{delivery.headers['webhook-id']}.{delivery.headers['webhook-timestamp']}.".encode()
        + delivery.body
    )
    expected = base64.b64encode(hmac.new(secret.encode(), signed, hashlib.sha256).digest())
    scheme, _, given = delivery.headers["webhook-signature"].partition(",")
    return scheme == "v1" and hmac.compare_digest(given.encode(), expected)
