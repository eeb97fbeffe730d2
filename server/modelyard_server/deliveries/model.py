"""What a webhook delivery is: which entries a webhook receives, how a delivery is signed,
when a failed one is tried again, and the queue of records the worker works from."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

from modelyard_server.log.chain import LogEntry


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
        """How long a claimed attempt may run before another worker may try it again: the
        attempt's own timeout, and as much again (at least 5 s) for the claim to reach it.
        After a crash, this is how long the deliveries it had claimed wait."""
        return int((self.timeout_seconds + max(5.0, self.timeout_seconds)) * 1_000_000)


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
    """How an attempt went: `ok` for a 2xx answer; else the status (0: none) and why, in a
    few words (never text that names internal hosts and ports); `final` when trying again
    cannot help (the address is refused), so the delivery is FAILED at once."""

    ok: bool
    status: int = 0
    error: str = ""
    final: bool = False


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
