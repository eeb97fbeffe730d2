"""A change's log entry before it is chained, and the one place where it becomes a hashed entry."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from google.protobuf.message import Message
from modelyard.v1 import resources_pb2 as pb

from modelyard_server.log.chain import ChainKey, LogEntry, entry_hash, related_snapshot, snapshot

# Other resources a change altered: (resource name, before, after).
Related = tuple[tuple[str, Message | None, Message | None], ...]


def action_name(action: pb.Action.ValueType) -> str:
    """Returns the name the log stores for an action (`STAGE_CHANGED`)."""
    return pb.Action.Name(action).removeprefix("ACTION_")


def action_of(name: str) -> pb.Action.ValueType:
    """Returns the action a log entry names (`STAGE_CHANGED`)."""
    return pb.Action.Value(f"ACTION_{name}")


@dataclass(frozen=True)
class LogDraft:
    """The one log entry a change writes, before the log gives it seq and hashes."""

    action: pb.Action.ValueType
    resource: str
    group: str
    version: int
    before: Message | None
    after: Message | None
    actor: str
    time_us: int
    reason: str = ""
    request_id: str = ""
    request_digest: str = ""
    related: Related = ()


def chain_entry(key: ChainKey, tenant: str, seq: int, prev_hash: str, draft: LogDraft) -> LogEntry:
    """Returns the entry a draft becomes at `seq`, chained to the entry before it."""
    entry = LogEntry(
        tenant=tenant,
        seq=seq,
        time_us=draft.time_us,
        actor=draft.actor,
        action=action_name(draft.action),
        resource=draft.resource,
        group=draft.group,
        version=draft.version,
        before=snapshot(draft.before),
        after=snapshot(draft.after),
        reason=draft.reason,
        request_id=draft.request_id,
        request_digest=draft.request_digest,
        prev_hash=prev_hash,
        hash="",
        related=related_snapshot(list(draft.related)),
    )
    return replace(entry, hash=entry_hash(key, entry))


def chain_entries(
    key: ChainKey, tenant: str, head: tuple[int, str], drafts: Sequence[LogDraft]
) -> list[LogEntry]:
    """Returns the drafts chained one after the other onto the head (seq, hash)."""
    seq, prev_hash = head
    entries = []
    for draft in drafts:
        entry = chain_entry(key, tenant, seq + 1, prev_hash, draft)
        entries.append(entry)
        seq, prev_hash = entry.seq, entry.hash
    return entries
