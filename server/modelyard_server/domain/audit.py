"""Reading and verifying the log.

Verification proves three things, reading one snapshot of the tenant off the event loop
(statements in a worker thread on SQLite, hashing and replaying in worker threads):
- the chain: every entry's keyed hash matches its content and its predecessor's hash;
- extension: a signed checkpoint's seq still holds the checkpoint's hash;
- the state: replaying the entries' snapshots gives the stored groups, versions, aliases
  and policies, so a row changed without a log entry is named.

It is incremental: the server remembers (in memory, out of reach of whoever can write the
database) the head and the replayed state it verified last, and goes on from there after
checking that the entry at that head is unchanged and that no entry below it is missing
(an index-only count). A problem found that way is checked again from seq 1 so that the
first bad seq is named. An entry below the head edited in place, hash column untouched,
is seen by a full check only (VerifyAuditLog full=true).
One verification per tenant runs at a time; the next caller goes on from its result.
"""

from __future__ import annotations

import asyncio
import hmac
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace

from modelyard.v1 import errors_pb2 as reasons

from modelyard_server.domain import names
from modelyard_server.domain.clock import now_us
from modelyard_server.domain.errors import FailedPrecondition, InvalidArgument
from modelyard_server.domain.pages import PageTokens, fit, page_size
from modelyard_server.domain.principal import Permission, Principal
from modelyard_server.domain.repositories import AuditQuery, AuditSnapshot, Store
from modelyard_server.log.chain import GENESIS_HASH, ChainVerifier, LogEntry, Verdict, entry_hash
from modelyard_server.log.checkpoints import AuditKeys, Checkpoint, sign, signature_holds
from modelyard_server.log.replay import Replay, Seen, StateCheck

DEFAULT_PAGE = 100
VERIFY_BATCH = 500


@dataclass(frozen=True)
class Anchor:
    """What the last successful verification proved: the head, and the state it implies."""

    seq: int
    hash: str
    replay: Replay
    seen: dict[str, Seen]


@dataclass(frozen=True)
class AuditVerdict:
    """The outcome of a verification."""

    chain: Verdict
    resource: str = ""  # the first resource whose state differs from the log's
    after_seq: int = 0  # where the chain check started

    @property
    def ok(self) -> bool:
        return self.chain.ok and not self.resource


class Audit:
    """The audit trail of a tenant: filtered listing, verification and checkpoints."""

    def __init__(self, store: Store, tokens: PageTokens, keys: AuditKeys) -> None:
        self.store = store
        self.tokens = tokens
        self.keys = keys
        self.anchors: dict[str, Anchor] = {}
        self.locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def page(
        self,
        principal: Principal,
        query: AuditQuery,
        size: int,
        token: str,
        size_of: Callable[[LogEntry], int] = lambda entry: entry_size(entry),
    ) -> tuple[list[LogEntry], str]:
        """Returns one page of entries in seq order and the token of the next page. The page
        ends early where its entries (measured by `size_of`, in bytes as the response
        carries them) would pass pages.MAX_PAGE_BYTES; it holds at least one entry."""
        scope = _group_of(query.resource)
        principal.authorize(Permission.READ, scope)
        if query.resource and query.resource == names.group_name(scope or ""):
            # A group's trail includes its versions.
            query = AuditQuery(**{**query.__dict__, "resource": "", "group": scope or ""})
        tokens = self.tokens.query(principal.tenant, "audit", repr(query))
        limit = page_size(size, DEFAULT_PAGE)
        after = tokens.resume_after(token)
        after_seq = int(after[0]) if after and isinstance(after[0], int) else None
        async with self.store.reader(principal.tenant) as reader:
            entries = await reader.log.page(query, limit + 1, after_seq)
        count = fit(size_of(e) for e in entries[:limit])
        resume = (entries[count - 1].seq,) if len(entries) > count else None
        return entries[:count], tokens.token(resume)

    async def verify(
        self, principal: Principal, *, full: bool = False, checkpoint: Checkpoint | None = None
    ) -> AuditVerdict:
        """Verifies the tenant's log (from seq 1 when `full`, else from the head verified
        last) and, if given, that it extends the checkpoint; returns the first problem."""
        principal.authorize(Permission.READ)
        if checkpoint is not None:
            self._check_signature(checkpoint, principal.tenant)
        tenant = principal.tenant
        async with self.locks[tenant]:
            last = self.anchors.get(tenant)
            # What stored rows looked like is a function of their bytes: a full check may
            # reuse it too, and parses only the rows that changed.
            seen = last.seen if last is not None else {}
            anchor = None if full else last
            verdict, proven = await self._verify(tenant, anchor, checkpoint, seen)
            if not verdict.ok and anchor is not None:  # name the first bad seq precisely
                verdict, proven = await self._verify(tenant, None, checkpoint, seen)
            if proven is not None:
                self.anchors[tenant] = proven
            return verdict

    async def checkpoint(self, principal: Principal) -> Checkpoint:
        """Returns the tenant's head, signed, once the log up to it verifies."""
        verdict = await self.verify(principal)
        if not verdict.ok:
            where = verdict.resource or f"seq {verdict.chain.first_broken_seq}"
            raise FailedPrecondition(
                reasons.AUDIT_LOG_BROKEN,
                f"the audit log fails verification at {where} ({verdict.chain.problem}); "
                "no checkpoint is signed for it: run VerifyAuditLog and investigate",
                metadata={"at": where},
            )
        head = verdict.chain
        return sign(self.keys.signing, principal.tenant, head.head_seq, head.head_hash, now_us())

    def _check_signature(self, checkpoint: Checkpoint, tenant: str) -> None:
        if not signature_holds(checkpoint, self.keys.public_key):
            raise InvalidArgument(
                reasons.AUDIT_CHECKPOINT_INVALID,
                "the checkpoint's signature does not hold under this server's key: it was "
                "edited, or another registry signed it; pass one this registry signed",
            )
        if checkpoint.tenant != tenant:
            raise InvalidArgument(
                reasons.AUDIT_CHECKPOINT_INVALID,
                f"the checkpoint is tenant {checkpoint.tenant!r}'s, not yours; pass one of "
                "your tenant's",
            )

    async def _verify(
        self,
        tenant: str,
        anchor: Anchor | None,
        checkpoint: Checkpoint | None,
        seen: dict[str, Seen],
    ) -> tuple[AuditVerdict, Anchor | None]:
        async with self.store.audit_snapshot(tenant) as snapshot:
            head_seq, head_hash = await snapshot.log.head()
            start = (anchor.seq, anchor.hash) if anchor is not None else (0, GENESIS_HASH)
            broken = await self._check_anchor(snapshot, anchor, head_seq, head_hash)
            if broken is not None:
                return AuditVerdict(broken, after_seq=start[0]), None
            verifier = ChainVerifier(self.keys.chain, start)
            replay = anchor.replay.fork() if anchor is not None else Replay()
            after = start[0]
            while after < head_seq:
                batch = await snapshot.log.range(after, VERIFY_BATCH)
                batch = [entry for entry in batch if entry.seq <= head_seq]
                if not batch:
                    break
                if not await asyncio.to_thread(_feed, verifier, replay, batch):
                    break
                after = batch[-1].seq
            chain = verifier.verdict(head_seq, head_hash)
            if chain.ok and checkpoint is not None:
                chain = await _extends(snapshot, checkpoint, chain)
            if not chain.ok:
                return AuditVerdict(chain, after_seq=start[0]), None
            check = StateCheck(replay, seen)
            for kind in snapshot.state.kinds:
                after_id = 0
                while rows := await snapshot.state.rows(kind, after_id, VERIFY_BATCH):
                    await asyncio.to_thread(check.feed, rows)
                    after_id = rows[-1].id
            difference = await asyncio.to_thread(check.first_difference)
        if difference is not None:
            resource, problem = difference
            chain = replace(chain, ok=False, problem=f"{resource}: {problem}")
            return AuditVerdict(chain, resource, start[0]), None
        return AuditVerdict(chain, after_seq=start[0]), Anchor(
            head_seq, head_hash, replay, check.seen
        )

    async def _check_anchor(
        self, snapshot: AuditSnapshot, anchor: Anchor | None, head_seq: int, head_hash: str
    ) -> Verdict | None:
        """Returns why the log no longer extends the head verified last, or None."""
        if anchor is None:
            return None
        problem = ""
        if head_seq < anchor.seq:
            problem = f"the log ends at seq {head_seq}, but seq {anchor.seq} was verified before"
        elif await snapshot.log.count_through(anchor.seq) != anchor.seq:
            problem = f"entries up to seq {anchor.seq} were removed since they were verified"
        elif anchor.seq > 0:
            entries = await snapshot.log.range(anchor.seq - 1, 1)
            entry = entries[0] if entries else None
            if (
                entry is None
                or entry.seq != anchor.seq
                or entry.hash != anchor.hash
                or not hmac.compare_digest(entry_hash(self.keys.chain, entry), entry.hash)
            ):
                problem = f"seq {anchor.seq} is no longer the entry verified before"
        if not problem:
            return None
        return Verdict(False, 0, head_seq, head_hash, min(anchor.seq, head_seq + 1), problem)


def _feed(verifier: ChainVerifier, replay: Replay, batch: list[LogEntry]) -> bool:
    if not verifier.feed_all(batch):
        return False
    replay.apply_all(batch)
    return True


async def _extends(snapshot: AuditSnapshot, checkpoint: Checkpoint, chain: Verdict) -> Verdict:
    """Returns the chain's verdict, broken if the log does not extend the checkpoint."""
    seq = checkpoint.seq
    if seq > chain.head_seq:
        problem = (
            f"the log ends at seq {chain.head_seq}, before the checkpoint's seq {seq}: "
            "entries the checkpoint covers were removed"
        )
        return replace(chain, ok=False, first_broken_seq=chain.head_seq + 1, problem=problem)
    if seq == 0:
        return chain
    entries = await snapshot.log.range(seq - 1, 1)
    if not entries or entries[0].seq != seq or entries[0].hash != checkpoint.hash:
        problem = (
            f"seq {seq} does not carry the checkpoint's hash: the log was rewritten since "
            "the checkpoint was signed"
        )
        return replace(chain, ok=False, first_broken_seq=seq, problem=problem)
    return chain


def entry_size(entry: LogEntry) -> int:
    """Returns about how many bytes the entry takes in a response."""
    return 512 + sum(len(text or "") for text in (entry.before, entry.after, entry.related))


def _group_of(resource: str) -> str | None:
    if not resource:
        return None
    parts = resource.split("/")
    return parts[1] if len(parts) >= 2 and parts[0] == "groups" and parts[1] else None
