"""Webhooks: registering them, and the operator's view of their deliveries.

Deliveries are made from the committed log by the worker in deliveries/, so a webhook never
sees a change that did not commit and never misses one that did. Nothing here speaks HTTP
or SQL.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Collection, Sequence
from dataclasses import replace
from typing import Any, Protocol
from urllib.parse import urlsplit

from modelyard.v1 import errors_pb2 as reasons
from modelyard.v1 import resources_pb2 as pb
from modelyard.v1 import webhook_service_pb2 as ws

from modelyard_server.deliveries.destinations import PUBLIC_ONLY, Destinations, Refused, ip_literal
from modelyard_server.deliveries.secrets import WebhookSecrets
from modelyard_server.domain import lookup, names
from modelyard_server.domain.changes import Change, Changes, Mutation, nothing, resource
from modelyard_server.domain.clock import new_etag, timestamp
from modelyard_server.domain.errors import (
    FieldViolation,
    InvalidArgument,
    NotFound,
    invalid_fields,
    quote,
)
from modelyard_server.domain.fields import FieldRules, check_etag
from modelyard_server.domain.names import webhook_name
from modelyard_server.domain.pages import PageTokens, page_size
from modelyard_server.domain.principal import Permission, Principal
from modelyard_server.domain.repositories import Store, UnitOfWork
from modelyard_server.domain.validation import Checker
from modelyard_server.log.chain import LogEntry
from modelyard_server.log.drafts import LogDraft

MIN_SECRET = 16
MAX_SECRET = 256
MAX_URL = 2048
MAX_DESCRIPTION = 4096
DEFAULT_PAGE = 50


def webhook_not_found(webhook_id: str) -> NotFound:
    return NotFound(
        reasons.WEBHOOK_NOT_FOUND,
        f"webhook {quote(webhook_name(webhook_id))} does not exist",
        metadata={"resource": webhook_name(webhook_id)},
    )


# What UpdateWebhook may change; the rest is output only.
FIELDS = FieldRules(
    mutable=frozenset({"url", "secret", "group", "actions", "description"}),
    output_only=frozenset({"name", "cursor", "created_by", "create_time", "etag", "update_time"}),
)


class DeliveryRecords(Protocol):
    """The record of a tenant's deliveries, as operators list and redeliver them."""

    async def deliveries(
        self, tenant: str, webhook_id: str, state: int, limit: int, before_seq: int | None
    ) -> list[ws.WebhookDelivery]:
        """Returns a webhook's deliveries, newest event first."""
        ...

    async def redeliver(self, tenant: str, webhook_id: str, seq: int, now: int) -> bool:
        """Makes a delivery PENDING and due now, with a fresh retry budget; False if none."""
        ...


def check_webhook(
    webhook: ws.Webhook, actions: Sequence[str], fields: Collection[str] = FIELDS.mutable
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
        problem = url_problem(url)
        if problem is not None:
            check.fail("webhook.url", problem)
    if "secret" in fields and not MIN_SECRET <= len(webhook.secret) <= MAX_SECRET:
        check.fail(
            "webhook.secret",
            f"must be {MIN_SECRET} to {MAX_SECRET} characters (it is {len(webhook.secret)}); "
            "use a random string, e.g. from `openssl rand -hex 32`",
        )
    if "group" in fields and webhook.group:
        try:
            names.parse_group_name(webhook.group, "webhook.group")
        except InvalidArgument as error:
            check.violations.extend(error.violations)
    if "description" in fields:
        check.text("webhook.description", webhook.description, MAX_DESCRIPTION)
    if "actions" in fields and len(actions) > len(pb.Action.keys()):
        check.fail("webhook.actions", "lists more actions than there are")
    check.raise_if_any()


# A host name's labels: letters, digits, '-' (and '_', which some names have), 1-63 each.
HOST_NAME = re.compile(
    r"(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*\.?"
)
PORT = re.compile(r"[0-9]{1,5}")


def url_problem(url: str) -> str | None:
    """Returns what is wrong with a webhook URL, or None: it must be http:// or https://,
    name a host (a name or an IP address) and, if any, a port from 1 to 65535, and carry no
    user name or password (the signature authenticates deliveries)."""
    if any(c.isspace() or not c.isprintable() for c in url):
        return f"{url!r} is not a URL: it contains white space or control characters"
    try:
        parts = urlsplit(url)
    except ValueError as error:  # an unclosed '[' of an IPv6 host
        return f"'{url}' is not a URL: {error}"
    if parts.scheme not in ("http", "https"):
        return f"'{url}' must start with http:// or https://"
    _, at, _ = parts.netloc.rpartition("@")
    if at:
        # Not echoed: the password would end up in the caller's logs.
        return (
            "holds a user name or password (before '@'); deliveries are authenticated by "
            "their signature: leave them out"
        )
    hostname = parts.hostname or ""
    if not hostname:
        return f"'{url}' names no host: write http(s)://HOST[:PORT]/PATH"
    if ip_literal(hostname) is None and not HOST_NAME.fullmatch(hostname):
        return f"'{url}' has no valid host: '{hostname}' is neither a host name nor an IP address"
    _, colon, port = parts.netloc.rpartition("]")[2].partition(":")
    if colon and not (PORT.fullmatch(port) and 1 <= int(port) <= 65535):
        return f"'{url}' has a bad port '{port}': give a number from 1 to 65535, or none"
    return None


class Webhooks:
    """Webhook registration (changes, logged like any other) and the operator's view of
    deliveries. Everything here needs the admin role, on the webhook's group or tenant-wide."""

    def __init__(
        self,
        store: Store,
        changes: Changes,
        records: DeliveryRecords,
        tokens: PageTokens,
        wake: Callable[[], None] = lambda: None,
        *,
        sealer: WebhookSecrets | None = None,
        destinations: Destinations = PUBLIC_ONLY,
    ) -> None:
        self.store = store
        self.changes = changes
        self.tokens = tokens
        self.records = records
        self.wake = wake
        self.sealer = sealer
        self.destinations = destinations

    def _seal(self, secret: str, webhook_id: str) -> str:
        if self.sealer is None:  # assembled without the server's key: a wiring mistake
            raise RuntimeError("webhook secrets are sealed with the server's key: pass a sealer")
        return self.sealer.seal(secret, webhook_id)

    async def _check_destination(self, url: str) -> None:
        """Raises INVALID_FIELD when the URL's host is, or resolves to, an internal address
        the operator did not allow."""
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            await self.destinations.check_url_host(parts.hostname or "", port)
        except Refused as refused:
            raise invalid_fields([FieldViolation("webhook.url", str(refused))]) from None

    async def create(
        self, mutation: Mutation, webhook: ws.Webhook, actions: Sequence[str]
    ) -> ws.Webhook:
        """Returns the new webhook (without its secret); it receives what commits after it."""
        check_webhook(webhook, actions)
        group = scope(webhook.group)
        mutation.principal.authorize(Permission.ADMIN, group)
        await self._check_destination(webhook.url)
        webhook_id = f"wh-{secrets.token_hex(5)}"
        sealed = self._seal(webhook.secret, webhook_id)

        async def apply(unit: UnitOfWork, now: int) -> LogDraft:
            if group is not None:
                await lookup.require_group(unit, group)
            head, _ = await unit.log.head()
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
            await unit.webhooks.insert(created, sealed, list(actions))
            return mutation.draft(
                pb.ACTION_WEBHOOK_CREATED, created.name, group or "", 0, None, created, now
            )

        return await self.changes.run(mutation, Change(apply, resource(ws.Webhook)))

    async def _find(self, principal: Principal, webhook_id: str) -> ws.Webhook:
        async with self.store.reader(principal.tenant) as unit:
            return await _authorized(unit, principal, webhook_id)

    async def get(self, principal: Principal, name: str) -> ws.Webhook:
        return await self._find(principal, names.parse_webhook_name(name))

    async def page(
        self, principal: Principal, group: str, size: int, token: str
    ) -> tuple[list[ws.Webhook], str]:
        """Returns a page of webhooks, oldest first, and the token of the next page."""
        group_id = names.parse_group_name(group, "group") if group else None
        principal.authorize(Permission.ADMIN, group_id)
        query = self.tokens.query(principal.tenant, "webhooks", group)
        limit = page_size(size, DEFAULT_PAGE)
        after = query.resume_after(token)
        async with self.store.reader(principal.tenant) as unit:
            page = await unit.webhooks.page(group_id, limit, after)
        return page.items, query.token(page.resume_after)

    async def update(
        self, mutation: Mutation, patch: ws.Webhook, paths: Sequence[str], actions: Sequence[str]
    ) -> ws.Webhook:
        """Returns the webhook (without its secret) after setting the fields named in `paths`
        from `patch`; `actions` are the patch's actions as log action names."""
        webhook_id = names.parse_webhook_name(patch.name, "webhook.name")
        fields = set(FIELDS.check(paths))
        check_webhook(patch, actions, fields)
        if "url" in fields:
            await self._check_destination(patch.url)
        sealed = self._seal(patch.secret, webhook_id) if "secret" in fields else None

        async def apply(unit: UnitOfWork, now: int) -> LogDraft:
            before = await _authorized(unit, mutation.principal, webhook_id)
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
                moved_to = scope(patch.group)
                mutation.principal.authorize(Permission.ADMIN, moved_to)
                if moved_to is not None:
                    await lookup.require_group(unit, moved_to)
                after.group = patch.group
            after.update_time.CopyFrom(timestamp(now))
            after.etag = new_etag()
            filters = list(actions) if "actions" in fields else None
            await unit.webhooks.update(after, sealed, filters)
            return mutation.draft(
                pb.ACTION_WEBHOOK_UPDATED,
                after.name,
                scope(after.group) or "",
                0,
                before,
                after,
                now,
            )

        return await self.changes.run(mutation, Change(apply, resource(ws.Webhook)))

    async def delete(self, mutation: Mutation, name: str, etag: str) -> None:
        webhook_id = names.parse_webhook_name(name)

        async def apply(unit: UnitOfWork, now: int) -> LogDraft:
            found = await _authorized(unit, mutation.principal, webhook_id)
            check_etag(etag, found.etag, found.name)
            await unit.webhooks.delete(webhook_id)
            return mutation.draft(
                pb.ACTION_WEBHOOK_DELETED, found.name, scope(found.group) or "", 0, found, None, now
            )

        await self.changes.run(mutation, Change(apply, nothing))

    async def deliveries(
        self, principal: Principal, parent: str, state: int, size: int, token: str
    ) -> tuple[list[ws.WebhookDelivery], str]:
        """Returns a page of a webhook's deliveries, newest event first."""
        webhook_id = names.parse_webhook_name(parent, "parent")
        if state not in ws.DeliveryState.values():
            raise invalid_fields([FieldViolation("state", f"{state} is not a DeliveryState")])
        await self._find(principal, webhook_id)
        query = self.tokens.query(principal.tenant, "deliveries", parent, str(state))
        limit = page_size(size, DEFAULT_PAGE)
        after = query.resume_after(token)
        before = int(after[0]) if after and isinstance(after[0], int) else None
        found = await self.records.deliveries(
            principal.tenant, webhook_id, state, limit + 1, before
        )
        resume = (found[limit - 1].seq,) if len(found) > limit else None
        return found[:limit], query.token(resume)

    async def redeliver(self, principal: Principal, name: str) -> ws.WebhookDelivery:
        """Returns the delivery, PENDING again and due now."""
        webhook_id, seq = names.parse_delivery_name(name)
        await self._find(principal, webhook_id)
        now = self.changes.clock()
        if not await self.records.redeliver(principal.tenant, webhook_id, seq, now):
            raise NotFound(
                reasons.WEBHOOK_DELIVERY_NOT_FOUND,
                f"delivery {quote(name)} does not exist",
                metadata={"resource": name},
            )
        self.wake()
        [delivery] = await self.records.deliveries(
            principal.tenant, webhook_id, ws.DELIVERY_STATE_UNSPECIFIED, 1, seq + 1
        )
        return delivery


async def _authorized(unit: UnitOfWork, principal: Principal, webhook_id: str) -> ws.Webhook:
    """Returns the webhook if the principal administers its scope; others may not even learn
    whether it exists."""
    found = await unit.webhooks.get(webhook_id)
    if found is None:
        principal.authorize(Permission.ADMIN)
        raise webhook_not_found(webhook_id)
    principal.authorize(Permission.ADMIN, scope(found.group))
    return found


def scope(group: str) -> str | None:
    """Returns the id of the group a webhook is bound to (`groups/{group}`), or None when it
    receives the whole tenant's entries. The name was checked when the webhook was set."""
    return group.removeprefix("groups/") or None


def visible_entry(principal: Principal | None, entry: LogEntry) -> LogEntry:
    """Returns a log entry as a reader may see it: the URLs of the webhooks it holds (whose
    paths and query strings often carry tokens) are cut to `scheme://host/…` unless the
    reader administers their webhooks (None: a webhook's receiver, who never does)."""
    # Asked for every event of every stream: most entries are answered without parsing.
    holds = entry.action.startswith("WEBHOOK_") or '"webhooks/' in (entry.related or "")
    if not holds:
        return entry
    if principal is not None and Permission.ADMIN in principal.permissions(entry.group or None):
        return entry
    related = json.loads(entry.related) if entry.related else []
    for item in related:
        if item["resource"].startswith("webhooks/"):
            item["before"], item["after"] = _cut(item["before"]), _cut(item["after"])
    before, after = entry.before, entry.after
    if entry.action.startswith("WEBHOOK_"):
        before, after = _cut_snapshot(before), _cut_snapshot(after)
    return replace(
        entry,
        before=before,
        after=after,
        related=json.dumps(related, sort_keys=True, separators=(",", ":")) if related else None,
    )


def reduced_url(url: str) -> str:
    """Returns `scheme://host[:port]/…`: where a webhook delivers, without what it sends."""
    try:
        parts = urlsplit(url)
        host = parts.netloc.rpartition("@")[2]
    except ValueError:
        return "…"
    return f"{parts.scheme}://{host}/…"


def _cut(snapshot: dict[str, Any] | None) -> dict[str, Any] | None:
    if snapshot is not None and "url" in snapshot:
        snapshot = {**snapshot, "url": reduced_url(str(snapshot["url"]))}
    return snapshot


def _cut_snapshot(snapshot: str | None) -> str | None:
    if snapshot is None:
        return None
    cut = _cut(json.loads(snapshot))
    return json.dumps(cut, sort_keys=True, separators=(",", ":"))
