"""The webhook delivery worker: follows the log, POSTs signed deliveries, retries failures.

Woken with the event hub (after a commit, a NOTIFY from another replica, or by its poll),
it turns new log entries into delivery records, then claims the deliveries that are due
and POSTs them, a few at a time, each with its own deadline. The records are the truth:
a restarted worker, or one on another replica, carries on from them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping

from modelyard_server.deliveries.attempts import post_http
from modelyard_server.deliveries.model import (
    Claim,
    DeliveryQueue,
    Outcome,
    RetrySchedule,
    signature,
    wants,
)
from modelyard_server.deliveries.secrets import SecretUnreadable, WebhookSecrets
from modelyard_server.domain.clock import now_us
from modelyard_server.log.chain import LogEntry

log = logging.getLogger("modelyard.webhooks")

# The body of a delivery: (webhook name, delivery name, entry) -> JSON bytes.
RenderBody = Callable[[str, str, LogEntry], bytes]
# One POST: (url, headers, body, timeout seconds) -> outcome. Blocking; run in a thread.
Post = Callable[[str, Mapping[str, str], bytes, float], Outcome]

BATCH = 500
# Rounds start at most this often, however often commits wake the worker: a burst of
# commits is handled in one round, and the writers' hot path pays nothing for it.
MIN_ROUND_SECONDS = 0.05


class DeliveryWorker:
    """Delivers every webhook's events, at most `concurrency` POSTs at a time."""

    def __init__(
        self,
        queue: DeliveryQueue,
        render_body: RenderBody,
        schedule: RetrySchedule,
        *,
        poll_seconds: float = 1.0,
        concurrency: int = 8,
        post: Post = post_http,
        secrets: WebhookSecrets,
    ) -> None:
        self.queue = queue
        self.render_body = render_body
        self.schedule = schedule
        self.poll_seconds = poll_seconds
        self.post = post
        self.secrets = secrets
        self.slots = concurrency
        self.in_flight: set[asyncio.Task[None]] = set()
        self.busy: set[int] = set()  # webhooks (by key) with an attempt in flight
        self.wakeup = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def wake(self, tenant: str | None = None) -> None:
        """Tells the worker that entries may have committed or deliveries become due."""
        self.wakeup.set()

    def start(self) -> None:
        self.task = asyncio.create_task(self._run(), name="webhook deliveries")

    async def stop(self) -> None:
        """Stops claiming; attempts in flight are abandoned to their leases."""
        tasks = [t for t in (self.task, *self.in_flight) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _run(self) -> None:
        pause = 0.1
        while True:
            await asyncio.sleep(MIN_ROUND_SECONDS)
            self.wakeup.clear()
            try:
                await self._round()
                pause = 0.1
                due = await self.queue.next_due()
            except Exception as error:  # the database went away: retry, deliveries are kept
                log.warning("webhook deliveries paused (retrying in %.1fs): %s", pause, error)
                await asyncio.sleep(pause)
                pause = min(pause * 2, self.poll_seconds * 5)
                continue
            wait = self.poll_seconds
            if due is not None:
                wait = min(wait, max(0.0, (due - now_us()) / 1e6))
            try:
                async with asyncio.timeout(wait):
                    await self.wakeup.wait()
            except TimeoutError:
                pass

    async def _round(self) -> None:
        while await self.queue.enqueue(wants, now_us(), BATCH) > 0:
            pass
        free = self.slots - len(self.in_flight)
        claims = await self.queue.claim(now_us(), self.schedule.lease_us, free * 4, self.busy)
        by_webhook: dict[int, list[Claim]] = {}
        for claim in claims:  # in seq order
            by_webhook.setdefault(claim.webhook_key, []).append(claim)
        for key, queued in by_webhook.items():
            self.busy.add(key)
            task = asyncio.create_task(self._deliver_in_order(key, queued))
            self.in_flight.add(task)
            task.add_done_callback(self.in_flight.discard)

    async def _deliver_in_order(self, key: int, claims: list[Claim]) -> None:
        """Delivers one webhook's claims one after the other, so that its endpoint receives
        events in seq order (unless an attempt fails and is retried later)."""
        try:
            for claim in claims:
                await self._deliver(claim)
        finally:
            self.busy.discard(key)
            self.wake()

    async def _deliver(self, claim: Claim) -> None:
        if claim.attempt > self.schedule.max_attempts:
            # Claimed again and again, its attempts never finished (the worker died in them).
            outcome = Outcome(False, 0, "no attempt finished", final=True)
        else:
            try:
                outcome = await self._attempt(claim)
            except Exception:  # a bug must not leave the delivery PENDING forever
                log.exception("delivery %s attempt %d went wrong", claim.delivery, claim.attempt)
                outcome = Outcome(False, 0, "the attempt could not be made")
        now = now_us()
        retry_at = None
        if not outcome.ok and not outcome.final:
            retry_at = self.schedule.next_attempt_us(claim.attempt, now)
        if not outcome.ok:
            log.info(
                "delivery %s attempt %d failed: %s", claim.delivery, claim.attempt, outcome.error
            )
        try:
            await self.queue.finish(claim, outcome, retry_at, now)
        except Exception as error:  # the lease runs out and the attempt is made again
            log.warning("cannot record delivery %s: %s", claim.delivery, error)

    async def _attempt(self, claim: Claim) -> Outcome:
        """Makes one attempt at a delivery: signs it and POSTs it in a thread."""
        webhook_id = claim.webhook.removeprefix("webhooks/")
        try:
            secret = self.secrets.open(claim.secret, webhook_id)
        except SecretUnreadable as error:
            return Outcome(False, 0, str(error), final=True)
        body = self.render_body(claim.webhook, claim.delivery, claim.entry)
        sent_at = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "modelyard-webhooks",
            "webhook-id": claim.delivery,
            "webhook-timestamp": str(sent_at),
            "webhook-signature": signature(secret, claim.delivery, sent_at, body),
        }
        return await asyncio.to_thread(
            self.post, claim.url, headers, body, self.schedule.timeout_seconds
        )
