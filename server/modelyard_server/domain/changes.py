"""A change: one unit of work that writes state and exactly one log entry, and its reply.

A change has two steps. `apply` reads, checks and writes inside the unit of work, and
returns the draft of its log entry. `respond` builds the caller's reply from what was
committed: the entry's `after` and `related` snapshots. A retried request_id skips `apply`
and answers with `respond` over the entry the first call wrote, so the first call and every
replay give the same reply.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from google.protobuf import json_format
from google.protobuf.message import Message
from modelyard.v1 import errors_pb2 as reasons
from modelyard.v1 import resources_pb2 as pb

from modelyard_server.domain import validation
from modelyard_server.domain.errors import InvalidArgument, quote
from modelyard_server.domain.principal import Principal
from modelyard_server.domain.repositories import Store, UnitOfWork
from modelyard_server.log.chain import LogEntry
from modelyard_server.log.drafts import LogDraft, Related

M = TypeVar("M", bound=Message)
R = TypeVar("R")


@dataclass(frozen=True)
class Mutation:
    """Who asks for a change, why, and the idempotency key and fingerprint of their request."""

    principal: Principal
    request_id: str = ""
    request_digest: str = ""
    reason: str = ""

    def draft(
        self,
        action: pb.Action.ValueType,
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

    def version_draft(
        self,
        action: pb.Action.ValueType,
        before: pb.ModelVersion | None,
        after: pb.ModelVersion | None,
        time_us: int,
        related: Related = (),
    ) -> LogDraft:
        """Returns the log entry of a change to one version (and to the `related` others)."""
        version = after if after is not None else before
        assert version is not None, "a change to a version has it before or after"
        group = version.name.split("/")[1]
        return self.draft(
            action, version.name, group, version.version, before, after, time_us, related
        )


@dataclass(frozen=True)
class Unchanged:
    """What `apply` returns when the state already is what the caller asked for: nothing is
    written or logged, and the reply shows `current`."""

    current: Message


class Committed:
    """What a reply is built from: the resource a change left, and the others it moved.

    Made from the draft in memory on the first call and from the stored entry on a replay;
    both give the same messages.
    """

    def __init__(
        self,
        after: Message | str | None,
        related: Sequence[tuple[str, Message | dict[str, object] | None]],
    ) -> None:
        self._after = after
        self._related = related

    @classmethod
    def of_draft(cls, draft: LogDraft) -> Committed:
        return cls(draft.after, [(name, after) for name, _, after in draft.related])

    @classmethod
    def of_entry(cls, entry: LogEntry) -> Committed:
        related = json.loads(entry.related) if entry.related else []
        return cls(entry.after, [(item["resource"], item["after"]) for item in related])

    def after(self, kind: type[M]) -> M:
        """Returns the resource as the change left it."""
        value = self._after
        if isinstance(value, kind):
            return value
        assert isinstance(value, str), "a change that deletes has no resource to reply with"
        return json_format.Parse(value, kind(), ignore_unknown_fields=True)

    def related(self, kind: type[M], collection: str) -> Iterator[M]:
        """Yields the other resources of one collection (e.g. "versions") the change left,
        in the order it moved them; deleted ones are skipped."""
        for name, value in self._related:
            if value is None or name.split("/")[-2] != collection:
                continue
            if isinstance(value, dict):
                yield json_format.ParseDict(value, kind(), ignore_unknown_fields=True)
            else:
                assert isinstance(value, kind)
                yield value


Apply = Callable[[UnitOfWork, int], Awaitable[LogDraft | Unchanged]]


@dataclass(frozen=True)
class Change(Generic[R]):
    """A mutation's two steps: `apply(unit of work, now)` writes and drafts the log entry;
    `respond` builds the reply from what was committed."""

    apply: Apply
    respond: Callable[[Committed], R]


def resource(kind: type[M]) -> Callable[[Committed], M]:
    """Returns the `respond` step of a change whose reply is the resource it wrote."""
    return lambda committed: committed.after(kind)


def nothing(committed: Committed) -> None:
    """The `respond` step of a delete: the reply is empty."""
    return None


class Changes:
    """Runs changes: one unit of work, at most one log entry, idempotent by request_id."""

    def __init__(self, store: Store, clock: Callable[[], int]) -> None:
        self.store = store
        self.clock = clock

    async def run(self, mutation: Mutation, change: Change[R]) -> R:
        """Returns the change's reply; a retried request_id replays the first call's."""
        validation.check_request_id(mutation.request_id)
        async with self.store.writer(mutation.principal.tenant) as unit:
            if mutation.request_id:
                prior = await unit.log.replay(mutation.request_id)
                if prior is not None:
                    # Only its own caller may replay a request: another's retry of the same
                    # id must not return, unauthorized, what the first caller was allowed.
                    if (
                        prior.request_digest != mutation.request_digest
                        or prior.actor != mutation.principal.subject
                    ):
                        raise InvalidArgument(
                            reasons.REQUEST_ID_REUSED,
                            f"request_id {quote(mutation.request_id)} was already used for a "
                            "different request; use a new request_id for a new request",
                        )
                    return change.respond(Committed.of_entry(prior))
            applied = await change.apply(unit, self.clock())
            if isinstance(applied, Unchanged):
                return change.respond(Committed(applied.current, ()))
            await unit.log.append([applied])
            return change.respond(Committed.of_draft(applied))
