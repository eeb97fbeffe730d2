"""A change: one unit of work that writes state and exactly one log entry, idempotently."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from google.protobuf import json_format
from google.protobuf.message import Message

from modelyard_server.domain import validation
from modelyard_server.domain.errors import InvalidArgument
from modelyard_server.domain.principal import Principal
from modelyard_server.domain.store import LogDraft, Store, Writer

M = TypeVar("M", bound=Message)
Related = tuple[tuple[str, Message | None, Message | None], ...]
Change = Callable[[Writer, int], Awaitable[tuple[LogDraft | None, M | None]]]


@dataclass(frozen=True)
class Mutation:
    """Who asks for a change, why, and the idempotency key and fingerprint of their request."""

    principal: Principal
    request_id: str = ""
    request_digest: str = ""
    reason: str = ""

    def draft(
        self,
        action: str,
        resource: str,
        group: str,
        version: int,
        before: Message | None,
        after: Message | None,
        time_us: int,
        related: Related = (),
    ) -> LogDraft:
        """Returns the log entry of a change made by this mutation's caller."""
        return LogDraft(
            action=action,
            resource=resource,
            group=group,
            version=version,
            before=before,
            after=after,
            actor=self.principal.subject,
            time_us=time_us,
            reason=self.reason,
            request_id=self.request_id,
            request_digest=self.request_digest,
            related=related,
        )


async def write(
    store: Store,
    clock: Callable[[], int],
    mutation: Mutation,
    result_type: type[M] | None,
    change: Change[M],
) -> M | None:
    """Runs `change` in one unit of work and logs it; a retried request_id replays the first result.

    A change that returns no draft changed nothing and writes no log entry.
    """
    validation.check_request_id(mutation.request_id)
    async with store.writer(mutation.principal.tenant) as writer:
        if mutation.request_id:
            prior = await writer.replay(mutation.request_id)
            if prior is not None:
                if prior.request_digest != mutation.request_digest:
                    raise InvalidArgument(
                        "REQUEST_ID_REUSED",
                        f"request_id '{mutation.request_id}' was already used for a different request; "
                        "use a new request_id for a new request",
                    )
                if result_type is None or prior.after is None:
                    return None
                return json_format.Parse(prior.after, result_type())
        draft, result = await change(writer, clock())
        if draft is not None:
            await writer.append(draft)
        return result


async def must(result: Awaitable[M | None]) -> M:
    """Returns the result of a change that always yields a resource (all but deletes)."""
    value = await result
    assert value is not None, "only deletes return nothing"
    return value
