"""The canonical form of a log entry and the keyed hash that chains it to its predecessor.

Each entry's hash is HMAC-SHA256 under a key derived from the server's key file (purpose
"audit-chain"), over the previous entry's hash and the entry's canonical bytes. Someone who
can write the database but not read the key file cannot make a changed entry's hash match.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field

from google.protobuf import json_format
from google.protobuf.message import Message

GENESIS_HASH = "0" * 64
CHAIN_PURPOSE = "audit-chain"


@dataclass(frozen=True)
class ChainKey:
    """The key that chains the log (derived from the key file, never stored in the database)."""

    key: bytes = field(repr=False)

    def link(self, prev_hash: str, canonical_form: bytes) -> str:
        """Returns HMAC-SHA256(key, prev_hash || canonical form) as 64 hex digits."""
        return hmac.new(self.key, prev_hash.encode() + canonical_form, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class LogEntry:
    """One committed entry. `before`/`after` are canonical JSON snapshots (None when absent)."""

    tenant: str
    seq: int
    time_us: int
    actor: str
    action: str
    resource: str
    group: str
    version: int
    before: str | None
    after: str | None
    reason: str
    request_id: str
    request_digest: str
    prev_hash: str
    hash: str
    related: str | None = None  # canonical JSON list of {resource, before, after}


def snapshot(message: Message | None) -> str | None:
    """Returns the canonical JSON form of a resource, as stored in before/after."""
    if message is None:
        return None
    as_dict = json_format.MessageToDict(message, preserving_proto_field_name=True)
    return json.dumps(as_dict, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def related_snapshot(changes: list[tuple[str, Message | None, Message | None]]) -> str | None:
    """Returns the canonical JSON of the other resources a change altered, or None if none."""
    if not changes:
        return None
    items = [
        {
            "resource": resource,
            "before": None if before is None else json.loads(snapshot(before) or "null"),
            "after": None if after is None else json.loads(snapshot(after) or "null"),
        }
        for resource, before, after in changes
    ]
    return json.dumps(items, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical(
    *,
    tenant: str,
    seq: int,
    time_us: int,
    actor: str,
    action: str,
    resource: str,
    group: str,
    version: int,
    before: str | None,
    after: str | None,
    reason: str,
    request_id: str,
    request_digest: str,
    related: str | None = None,
) -> bytes:
    """Returns the bytes the entry's hash covers: every field but the hashes, in fixed order."""
    fields: list[object] = [
        tenant,
        seq,
        time_us,
        actor,
        action,
        resource,
        group,
        version,
        before,
        after,
        reason,
        request_id,
        request_digest,
    ]
    if related is not None:  # absent from entries that alter one resource only
        fields.append(related)
    return json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode()


def unkeyed_hash(prev_hash: str, canonical_form: bytes) -> str:
    """Returns sha256(prev_hash || canonical form): how entries were chained before the chain
    was keyed (read only when an older database is keyed, see store/chain_key.py)."""
    return hashlib.sha256(prev_hash.encode() + canonical_form).hexdigest()


def entry_form(entry: LogEntry) -> bytes:
    """Returns the canonical bytes of a stored entry."""
    return canonical(
        tenant=entry.tenant,
        seq=entry.seq,
        time_us=entry.time_us,
        actor=entry.actor,
        action=entry.action,
        resource=entry.resource,
        group=entry.group,
        version=entry.version,
        before=entry.before,
        after=entry.after,
        reason=entry.reason,
        request_id=entry.request_id,
        request_digest=entry.request_digest,
        related=entry.related,
    )


def entry_hash(key: ChainKey, entry: LogEntry) -> str:
    """Recomputes the hash an entry should carry, from its content and its prev_hash."""
    return key.link(entry.prev_hash, entry_form(entry))


@dataclass(frozen=True)
class Verdict:
    """The result of walking the chain: ok, or the first entry that breaks it and why."""

    ok: bool
    checked: int
    head_seq: int
    head_hash: str
    first_broken_seq: int = 0
    problem: str = ""


class ChainVerifier:
    """Walks entries in seq order (fed in batches) and finds the first broken link.

    It starts at the genesis, or after an entry already proven (seq, hash): then it checks
    only that the entries after it extend it.
    """

    def __init__(self, key: ChainKey, after: tuple[int, str] = (0, GENESIS_HASH)) -> None:
        self.key = key
        self.start = after[0]
        self.expected_seq = after[0] + 1
        self.prev_hash = after[1]
        self.checked = 0
        self.broken: Verdict | None = None

    @property
    def seq(self) -> int:
        """The seq of the last entry proven so far."""
        return self.expected_seq - 1

    def feed(self, entry: LogEntry) -> bool:
        """Checks one entry; returns False once the chain is broken."""
        if self.broken is not None:
            return False
        problem = ""
        if entry.seq != self.expected_seq:
            problem = f"seq {self.expected_seq} is missing (next entry found is {entry.seq})"
            broken_seq = self.expected_seq
        elif entry.prev_hash != self.prev_hash:
            problem = "prev_hash does not match the previous entry's hash"
            broken_seq = entry.seq
        elif not hmac.compare_digest(entry_hash(self.key, entry), entry.hash):
            problem = (
                "stored hash does not match the entry's content under the server's key: "
                "the entry was altered"
            )
            broken_seq = entry.seq
        if problem:
            self.broken = Verdict(False, self.checked, entry.seq, entry.hash, broken_seq, problem)
            return False
        self.checked += 1
        self.expected_seq += 1
        self.prev_hash = entry.hash
        return True

    def feed_all(self, entries: list[LogEntry]) -> bool:
        """Checks entries in order until one breaks the chain; returns False once broken."""
        return all(self.feed(entry) for entry in entries)

    def verdict(self, head_seq: int, head_hash: str) -> Verdict:
        """Returns the outcome, given the chain head the store records."""
        if self.broken is not None:
            return Verdict(
                False,
                self.broken.checked,
                head_seq,
                head_hash,
                self.broken.first_broken_seq,
                self.broken.problem,
            )
        if self.seq != head_seq or self.prev_hash != head_hash:
            return Verdict(
                False,
                self.checked,
                head_seq,
                head_hash,
                self.seq + 1,
                "the chain head does not match the last entry: entries were removed or altered",
            )
        return Verdict(True, self.checked, head_seq, head_hash)
