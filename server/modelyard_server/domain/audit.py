"""Reading and verifying the log."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from modelyard_server.domain import names
from modelyard_server.domain.pages import PageTokens, fit, page_size
from modelyard_server.domain.principal import Permission, Principal
from modelyard_server.domain.repositories import AuditQuery, Store
from modelyard_server.log.chain import ChainVerifier, LogEntry, Verdict

DEFAULT_PAGE = 100
VERIFY_BATCH = 200


class Audit:
    """The audit trail of a tenant: filtered listing and chain verification."""

    def __init__(self, store: Store, tokens: PageTokens) -> None:
        self.store = store
        self.tokens = tokens

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

    async def verify(self, principal: Principal) -> Verdict:
        """Walks the whole chain and returns the first broken entry, if any.

        Entries are read in batches from one snapshot, and each batch is hashed in a worker
        thread: a long log never holds up the other calls (health checks included).
        """
        principal.authorize(Permission.READ)
        verifier = ChainVerifier()
        async with self.store.reader(principal.tenant) as reader:
            head_seq, head_hash = await reader.log.head()
            after = 0
            while after < head_seq and verifier.broken is None:
                batch = await reader.log.range(after, VERIFY_BATCH)
                batch = [entry for entry in batch if entry.seq <= head_seq]
                if not batch:
                    break
                await asyncio.to_thread(verifier.feed_all, batch)
                after = batch[-1].seq
        return verifier.verdict(head_seq, head_hash)


def entry_size(entry: LogEntry) -> int:
    """Returns about how many bytes the entry takes in a response."""
    return 512 + sum(len(text or "") for text in (entry.before, entry.after, entry.related))


def _group_of(resource: str) -> str | None:
    if not resource:
        return None
    parts = resource.split("/")
    return parts[1] if len(parts) >= 2 and parts[0] == "groups" and parts[1] else None
