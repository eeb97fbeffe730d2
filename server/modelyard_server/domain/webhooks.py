"""Webhooks: registering them, what they receive, how deliveries are signed and retried.

Deliveries are made from the committed log: a worker follows it with a cursor per webhook
(events/deliveries.py), so a webhook never sees a change that did not commit and never
misses one that did. Nothing here speaks HTTP or SQL.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from modelyard.v1 import resources_pb2 as pb
from modelyard.v1 import webhook_service_pb2 as ws

from modelyard_server.domain import names
from modelyard_server.domain.changes import Mutation, must, write
from modelyard_server.domain.clock import new_etag, now_us, timestamp
from modelyard_server.domain.errors import FieldViolation, NotFound, invalid_fields
from modelyard_server.domain.pages import decode_token, encode_token, fingerprint, page_size
from modelyard_server.domain.principal import Permission, Principal
from modelyard_server.domain.registry import check_etag, group_not_found, mask_paths
from modelyard_server.domain.store import LogDraft, Store, Writer
from modelyard_server.domain.validation import Checker
from modelyard_server.log.chain import LogEntry

MIN_SECRET = 16
MAX_SECRET = 256
MAX_URL = 2048
MAX_DESCRIPTION = 4096
DEFAULT_PAGE = 50
WEBHOOK_ID = re.compile(r"[a-z][a-z0-9-]{0,62}")


def webhook_name(webhook_id: str) -> str:
    return f"webhooks/{webhook_id}"


def delivery_name(webhook_id: str, seq: int) -> str:
    return f"webhooks/{webhook_id}/deliveries/{seq}"


def parse_webhook_name(name: str, field: str = "name") -> str:
    """Returns the id of `webhooks/{webhook}`."""
    parts = name.split("/")
    if len(parts) != 2 or parts[0] != "webhooks" or not WEBHOOK_ID.fullmatch(parts[1]):
        raise invalid_fields(
            [FieldViolation(field, f"'{name}' is not a webhook name: expected webhooks/{{id}}")]
        )
    return parts[1]


def parse_delivery_name(name: str, field: str = "name") -> tuple[str, int]:
    """Returns the webhook id and the seq of `webhooks/{webhook}/deliveries/{seq}`."""
    parts = name.split("/")
    if (
        len(parts) != 4
        or parts[0] != "webhooks"
        or not WEBHOOK_ID.fullmatch(parts[1])
        or parts[2] != "deliveries"
        or not parts[3].isdigit()
        or len(parts[3]) > 18
    ):
        raise invalid_fields(
            [
                FieldViolation(
                    field,
                    f"'{name}' is not a delivery name: expected webhooks/{{id}}/deliveries/{{seq}}",
                )
            ]
        )
    return parts[1], int(parts[3])


def webhook_not_found(webhook_id: str) -> NotFound:
    return NotFound(
        "WEBHOOK_NOT_FOUND",
        f"webhook '{webhook_name(webhook_id)}' does not exist",
        metadata={"resource": webhook_name(webhook_id)},
    )


#: What UpdateWebhook may change; the rest is output only.
WEBHOOK_MUTABLE = {"url", "secret", "group", "actions", "description"}
WEBHOOK_OUTPUT_ONLY = {"name", "cursor", "created_by", "create_time", "etag", "update_time"}


def check_webhook(
    webhook: ws.Webhook, actions: Sequence[str], fields: Collection[str] = WEBHOOK_MUTABLE
) -> None:
    """Raises INVALID_FIELD naming every problem of a webhook to create, or of the `fields`
    an update sets."""
    check = Checker()
    url = webhook.url
    if "url" not in fields:
        pass
    elif not url:
        check.fail("webhook.url", "is required: the http:// or https:// URL to POST to")
    elif len(url) > MAX_URL:
        check.fail("webhook.url", f"is {len(url)} characters long; the limit is {MAX_URL}")
    else:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            check.fail("webhook.url", f"'{url}' is not an http:// or https:// URL with a host")
    if "secret" in fields and not MIN_SECRET <= len(webhook.secret) <= MAX_SECRET:
        check.fail(
            "webhook.secret",
            f"must be {MIN_SECRET} to {MAX_SECRET} characters (it is {len(webhook.secret)}); "
            "use a random string, e.g. from `openssl rand -hex 32`",
        )
    if "group" in fields and webhook.group and not names.GROUP_ID.fullmatch(webhook.group):
        check.fail("webhook.group", f"'{webhook.group}' is not a group id: {names.GROUP_ID_RULE}")
    if "description" in fields:
        check.text("webhook.description", webhook.description, MAX_DESCRIPTION)
    if "actions" in fields and len(actions) > len(pb.Action.keys()):
        check.fail("webhook.actions", "lists more actions than there are")
    check.raise_if_any()


def wants(group: str, actions: Sequence[str], entry: LogEntry) -> bool:
    """Returns whether a webhook of `group` ("" for all) with these actions receives the entry."""
    if group and entry.group != group:
        return False
    return not actions or entry.action in actions


def signature(secret: str, delivery_id: str, timestamp_s: int, body: bytes) -> str:
    """Returns the `webhook-signature` header: `v1,` and the base64 HMAC-SHA256, keyed with
    the secret, of `{delivery_id}.{timestamp}.{body}`."""
    signed = f"{delivery_id}.{timestamp_s}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


@dataclass(frozen=True)
class RetrySchedule:
    """When a failed delivery is tried again: the pause doubles from `backoff_seconds`, up to
    an hour, until `max_attempts` have failed."""

    backoff_seconds: float = 10.0
    max_attempts: int = 8
    timeout_seconds: float = 10.0

    def next_attempt_us(self, attempts: int, now: int) -> int | None:
        """Returns when to try again after `attempts` failures, or None to give up."""
        if attempts >= self.max_attempts:
            return None
        pause = min(self.backoff_seconds * 2 ** (attempts - 1), 3600.0)
        return now + int(pause * 1_000_000)

    @property
    def lease_us(self) -> int:
        """How long a claimed attempt may run before another worker may try it again."""
        return int((self.timeout_seconds + 30) * 1_000_000)


@dataclass(frozen=True)
class Claim:
    """One attempt at a delivery, taken by a worker: where to POST what, and the key."""

    id: int
    webhook_key: int  # the store's key of the webhook
    webhook: str  # `webhooks/{id}`
    delivery: str  # `webhooks/{id}/deliveries/{seq}`
    url: str
    secret: str
    entry: LogEntry
    attempt: int  # counting from 1 since creation or redelivery


@dataclass(frozen=True)
class Outcome:
    """How an attempt went: `ok` for a 2xx answer; else the status (0: none) and why."""

    ok: bool
    status: int = 0
    error: str = ""


class DeliveryQueue(Protocol):
    """The deliveries' records: made from the log, claimed by workers, listed, redelivered."""

    async def enqueue(
        self, wanted: Callable[[str, Sequence[str], LogEntry], bool], now: int, batch: int
    ) -> int:
        """Turns log entries after each webhook's cursor into PENDING deliveries and moves the
        cursors on; returns how many entries it read (0: every webhook is at the head)."""
        ...

    async def claim(
        self, now: int, lease_us: int, limit: int, skip: Collection[int]
    ) -> list[Claim]:
        """Takes up to `limit` due deliveries for one attempt each, in seq order, except
        those of the webhooks in `skip` (by key). A webhook's deliveries are attempted one
        after the other, so the k-th of them in the batch is leased for k+1 leases."""
        ...

    async def finish(self, claim: Claim, outcome: Outcome, retry_at: int | None, now: int) -> None:
        """Records an attempt: SUCCEEDED, PENDING until `retry_at`, or FAILED when None."""
        ...

    async def next_due(self) -> int | None:
        """Returns when the earliest PENDING delivery is due, if there is one."""
        ...

    async def deliveries(
        self, tenant: str, webhook_id: str, state: int, limit: int, before_seq: int | None
    ) -> list[ws.WebhookDelivery]:
        """Returns a webhook's deliveries, newest event first."""
        ...

    async def redeliver(self, tenant: str, webhook_id: str, seq: int, now: int) -> bool:
        """Makes a delivery PENDING and due now, with a fresh retry budget; False if none."""
        ...


class Webhooks:
    """Webhook registration (changes, logged like any other) and the operator's view of
    deliveries. Everything here needs the admin role, on the webhook's group or tenant-wide."""

    def __init__(
        self,
        store: Store,
        queue: DeliveryQueue,
        wake: Callable[[], None] = lambda: None,
        clock: Callable[[], int] = now_us,
    ) -> None:
        self.store = store
        self.queue = queue
        self.wake = wake
        self.clock = clock

    async def create(
        self, mutation: Mutation, webhook: ws.Webhook, actions: Sequence[str]
    ) -> ws.Webhook:
        """Returns the new webhook (without its secret); it receives what commits after it."""
        check_webhook(webhook, actions)
        mutation.principal.authorize(Permission.ADMIN, webhook.group or None)

        async def change(writer: Writer, now: int) -> tuple[LogDraft, ws.Webhook]:
            if webhook.group and await writer.group(webhook.group) is None:
                raise group_not_found(webhook.group)
            head, _ = await writer.chain_head()
            webhook_id = f"wh-{secrets.token_hex(5)}"
            created = ws.Webhook(
                name=webhook_name(webhook_id),
                url=webhook.url,
                group=webhook.group,
                actions=webhook.actions,
                description=webhook.description,
                cursor=head + 1,  # its own creation is the last entry it skips
                created_by=mutation.principal.subject,
                create_time=timestamp(now),
                etag=new_etag(),
            )
            await writer.insert_webhook(created, webhook.secret, list(actions))
            draft = mutation.draft(
                "WEBHOOK_CREATED", created.name, webhook.group, 0, None, created, now
            )
            return draft, created

        return await must(write(self.store, self.clock, mutation, ws.Webhook, change))

    async def _find(self, principal: Principal, webhook_id: str) -> ws.Webhook:
        async with self.store.reader(principal.tenant) as reader:
            found = await reader.webhook(webhook_id)
        if found is None:
            principal.authorize(Permission.ADMIN)  # others may not learn what exists
            raise webhook_not_found(webhook_id)
        principal.authorize(Permission.ADMIN, found.group or None)
        return found

    async def get(self, principal: Principal, name: str) -> ws.Webhook:
        return await self._find(principal, parse_webhook_name(name))

    async def list_webhooks(
        self, principal: Principal, group: str, size: int, token: str
    ) -> tuple[list[ws.Webhook], str]:
        """Returns a page of webhooks, oldest first, and the token of the next page."""
        if group:
            names.check_group_id(group, "group")
        principal.authorize(Permission.ADMIN, group or None)
        key = fingerprint("webhooks", group)
        limit = page_size(size, DEFAULT_PAGE)
        after = decode_token(token, key)
        async with self.store.reader(principal.tenant) as reader:
            page = await reader.list_webhooks(group or None, limit, after)
        return page.items, encode_token(page.resume_after, key)

    async def update(
        self, mutation: Mutation, patch: ws.Webhook, paths: Sequence[str], actions: Sequence[str]
    ) -> ws.Webhook:
        """Returns the webhook (without its secret) after setting the fields named in `paths`
        from `patch`; `actions` are the patch's actions as log action names."""
        webhook_id = parse_webhook_name(patch.name, "webhook.name")
        mask_paths(paths, WEBHOOK_MUTABLE, set(), WEBHOOK_OUTPUT_ONLY, set(), set())
        fields = set(paths)
        check_webhook(patch, actions, fields)

        async def change(writer: Writer, now: int) -> tuple[LogDraft, ws.Webhook]:
            before = await writer.webhook(webhook_id)
            if before is None:
                mutation.principal.authorize(Permission.ADMIN)
                raise webhook_not_found(webhook_id)
            mutation.principal.authorize(Permission.ADMIN, before.group or None)
            check_etag(patch.etag, before.etag, before.name)
            after = ws.Webhook()
            after.CopyFrom(before)
            if "url" in fields:
                after.url = patch.url
            if "description" in fields:
                after.description = patch.description
            if "actions" in fields:
                after.ClearField("actions")
                after.actions.extend(patch.actions)
            if "group" in fields and patch.group != before.group:
                # Moving it is creating it for the new scope: the caller must be admin there.
                mutation.principal.authorize(Permission.ADMIN, patch.group or None)
                if patch.group and await writer.group(patch.group) is None:
                    raise group_not_found(patch.group)
                after.group = patch.group
            after.update_time.CopyFrom(timestamp(now))
            after.etag = new_etag()
            filters = list(actions) if "actions" in fields else None
            secret = patch.secret if "secret" in fields else None
            await writer.update_webhook(after, secret, filters)
            draft = mutation.draft(
                "WEBHOOK_UPDATED", after.name, after.group, 0, before, after, now
            )
            return draft, after

        return await must(write(self.store, self.clock, mutation, ws.Webhook, change))

    async def delete(self, mutation: Mutation, name: str, etag: str) -> None:
        webhook_id = parse_webhook_name(name)

        async def change(writer: Writer, now: int) -> tuple[LogDraft, None]:
            found = await writer.webhook(webhook_id)
            if found is None:
                mutation.principal.authorize(Permission.ADMIN)
                raise webhook_not_found(webhook_id)
            mutation.principal.authorize(Permission.ADMIN, found.group or None)
            check_etag(etag, found.etag, found.name)
            await writer.delete_webhook(webhook_id)
            draft = mutation.draft("WEBHOOK_DELETED", found.name, found.group, 0, found, None, now)
            return draft, None

        await write(self.store, self.clock, mutation, None, change)

    async def deliveries(
        self, principal: Principal, parent: str, state: int, size: int, token: str
    ) -> tuple[list[ws.WebhookDelivery], str]:
        """Returns a page of a webhook's deliveries, newest event first."""
        webhook_id = parse_webhook_name(parent, "parent")
        if state not in ws.DeliveryState.values():
            raise invalid_fields([FieldViolation("state", f"{state} is not a DeliveryState")])
        await self._find(principal, webhook_id)
        key = fingerprint("deliveries", parent, str(state))
        limit = page_size(size, DEFAULT_PAGE)
        after = decode_token(token, key)
        before = int(after[0]) if after and isinstance(after[0], int) else None
        found = await self.queue.deliveries(principal.tenant, webhook_id, state, limit + 1, before)
        resume = (found[limit - 1].seq,) if len(found) > limit else None
        return found[:limit], encode_token(resume, key)

    async def redeliver(self, principal: Principal, name: str) -> ws.WebhookDelivery:
        """Returns the delivery, PENDING again and due now."""
        webhook_id, seq = parse_delivery_name(name)
        await self._find(principal, webhook_id)
        if not await self.queue.redeliver(principal.tenant, webhook_id, seq, self.clock()):
            raise NotFound(
                "WEBHOOK_DELIVERY_NOT_FOUND",
                f"delivery '{name}' does not exist",
                metadata={"resource": name},
            )
        self.wake()
        [delivery] = await self.queue.deliveries(
            principal.tenant, webhook_id, ws.DELIVERY_STATE_UNSPECIFIED, 1, seq + 1
        )
        return delivery
