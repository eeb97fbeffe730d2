"""Bearer tokens: issuing, listing and revoking them, and turning a presented secret into a
principal.

A token's secret is made here and shown once; only its SHA-256 is stored. Every call looks
its token up (one read by primary key), so a revocation that committed is seen by the next
call on every replica and worker: no cache can let a revoked token through.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from google.protobuf.duration_pb2 import Duration
from modelyard.v1 import errors_pb2 as reasons
from modelyard.v1 import resources_pb2 as pb
from modelyard.v1 import token_service_pb2 as ts

from modelyard_server.domain.changes import Change, Changes, Mutation, Unchanged, resource
from modelyard_server.domain.clock import timestamp
from modelyard_server.domain.errors import FieldViolation, NotFound, Unauthenticated, invalid_fields
from modelyard_server.domain.pages import PageTokens, page_size
from modelyard_server.domain.principal import Permission, Principal, parse_role_binding
from modelyard_server.domain.repositories import Store, UnitOfWork
from modelyard_server.domain.validation import Checker, time_us
from modelyard_server.log.drafts import LogDraft

log = logging.getLogger("modelyard.auth")

SECRET_PREFIX = "myd_"
TOKEN_ID = re.compile(r"tk-[0-9a-f]{16}")
MAX_SUBJECT = 256
DEFAULT_PAGE = 50
# last_use_time is written at most this often per token: a read stays a read.
TOUCH_EVERY_US = 60_000_000
MICROS = 1_000_000


def token_digest(secret: str) -> str:
    """Returns what the store keeps of a secret: its SHA-256, in hex."""
    return hashlib.sha256(secret.encode()).hexdigest()


def token_name(token_id: str) -> str:
    return f"tokens/{token_id}"


def parse_token_name(name: str, field: str = "name") -> str:
    """Returns the id of `tokens/{token}`."""
    prefix, _, token_id = name.partition("/")
    if prefix != "tokens" or not TOKEN_ID.fullmatch(token_id):
        raise invalid_fields(
            [FieldViolation(field, f"'{name}' is not a token name: expected tokens/tk-<16 hex>")]
        )
    return token_id


def new_token(
    subject: str, roles: list[str], created_by: str, now: int, expire_us: int | None
) -> tuple[ts.Token, str]:
    """Returns a new token and its secret."""
    token = ts.Token(
        name=token_name(f"tk-{secrets.token_hex(8)}"),
        subject=subject,
        roles=sorted(roles),
        created_by=created_by,
        create_time=timestamp(now),
    )
    if expire_us is not None:
        token.expire_time.CopyFrom(timestamp(expire_us))
    return token, SECRET_PREFIX + secrets.token_urlsafe(32)


def when(us: int) -> str:
    """Returns a time as messages show it: `2026-11-29T05:34:44Z`."""
    moment = datetime.fromtimestamp(us / MICROS, UTC).replace(microsecond=0)
    return moment.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class IssuedToken:
    """What authentication finds for a presented secret."""

    token_id: str
    tenant: str
    subject: str
    roles: frozenset[str]
    expire_time_us: int | None
    revoke_time_us: int | None
    last_use_time_us: int | None


class TokenIndex(Protocol):
    """Every tenant's tokens by the digest of their secret."""

    async def find(self, digest: str) -> IssuedToken | None: ...

    async def touch(self, digest: str, now: int) -> None:
        """Records that the token was used at `now`."""
        ...


def check_new_token(token: ts.Token, ttl: Duration | None, now: int) -> int | None:
    """Returns the expiry a request asks for (None: the server's default); INVALID_FIELD
    naming every problem of the token to issue."""
    check = Checker()
    subject = token.subject
    if not subject.strip():
        check.fail("token.subject", "is required: who the token identifies, e.g. alice")
    elif len(subject) > MAX_SUBJECT:
        check.fail("token.subject", f"is {len(subject)} characters long; the limit is 256")
    elif not subject.isprintable() or subject != subject.strip():
        check.fail("token.subject", "must be printable, without leading or trailing spaces")
    if not token.roles:
        check.fail("token.roles", "is required: e.g. viewer, or deployer@fraud for one group")
    for i, binding in enumerate(token.roles):
        try:
            parse_role_binding(binding)
        except ValueError as error:
            check.fail(f"token.roles[{i}]", str(error))
    expire: int | None = None
    if token.HasField("expire_time") and ttl is not None:
        check.fail("ttl", "give token.expire_time or ttl, not both")
    elif token.HasField("expire_time"):
        expire = time_us(token.expire_time, "token.expire_time")
        if expire <= now:
            check.fail("token.expire_time", f"{when(expire)} is not in the future")
    elif ttl is not None:
        seconds = ttl.seconds + ttl.nanos / 1e9
        if seconds <= 0 or ttl.seconds > 100 * 366 * 86400:
            check.fail("ttl", "must be more than 0 seconds and at most 100 years")
        else:
            expire = now + ttl.seconds * MICROS + ttl.nanos // 1000
    check.raise_if_any()
    return expire


class Tokens:
    """Issuing, listing and revoking the tenant's tokens (admin of the tenant only), and
    authenticating a presented secret."""

    def __init__(
        self,
        store: Store,
        changes: Changes,
        index: TokenIndex,
        page_tokens: PageTokens,
        *,
        lifetime_seconds: float = 0,
        clock: Callable[[], int],
    ) -> None:
        self.store = store
        self.changes = changes
        self.index = index
        self.page_tokens = page_tokens
        self.lifetime_us = int(lifetime_seconds * MICROS) or None
        self.clock = clock
        # When this process last wrote each token's last_use_time, by digest.
        self.touched: dict[str, int] = {}

    def default_expiry(self, now: int) -> int | None:
        """Returns when a token issued at `now` expires unless asked otherwise (None: never)."""
        return None if self.lifetime_us is None else now + self.lifetime_us

    async def create(
        self,
        mutation: Mutation,
        token: ts.Token,
        ttl: Duration | None = None,
        *,
        never: bool = False,
    ) -> ts.CreateTokenResponse:
        """Returns the new token and its secret, which nothing shows again. It expires when
        `token.expire_time` or `ttl` says, else after the server's default lifetime; `never`
        (the operator's command only) issues one that does not expire."""
        now = self.clock()
        expire = check_new_token(token, ttl, now)
        mutation.principal.authorize(Permission.ADMIN)
        if expire is None and not never:
            expire = self.default_expiry(now)
        issued, secret = new_token(
            token.subject, list(token.roles), mutation.principal.subject, now, expire
        )

        async def apply(unit: UnitOfWork, now: int) -> LogDraft:
            await unit.tokens.insert(issued, token_digest(secret))
            return mutation.draft(pb.ACTION_TOKEN_CREATED, issued.name, "", 0, None, issued, now)

        def respond(committed: object) -> ts.CreateTokenResponse:
            return ts.CreateTokenResponse(token=issued, secret=secret)

        return await self.changes.run(mutation, Change(apply, respond))

    async def page(
        self, principal: Principal, size: int, page_token: str
    ) -> tuple[list[ts.Token], str]:
        """Returns a page of the tenant's tokens, oldest first, and the next page's token."""
        principal.authorize(Permission.ADMIN)
        query = self.page_tokens.query(principal.tenant, "tokens")
        limit = page_size(size, DEFAULT_PAGE)
        after = query.resume_after(page_token)
        async with self.store.reader(principal.tenant) as unit:
            found = await unit.tokens.page(limit, after)
        return found.items, query.token(found.resume_after)

    async def revoke(self, mutation: Mutation, name: str) -> ts.Token:
        """Returns the token, revoked: from the moment this returns, it authenticates no call."""
        token_id = parse_token_name(name)
        mutation.principal.authorize(Permission.ADMIN)

        async def apply(unit: UnitOfWork, now: int) -> LogDraft | Unchanged:
            before = await unit.tokens.get(token_id)
            if before is None:
                raise NotFound(
                    reasons.TOKEN_NOT_FOUND,
                    f"token '{name}' does not exist; `modelyard tokens list` shows the tokens",
                    metadata={"resource": name},
                )
            if before.HasField("revoke_time"):
                return Unchanged(before)
            await unit.tokens.revoke(token_id, now, mutation.principal.subject)
            after = ts.Token()
            after.CopyFrom(before)
            after.revoke_time.CopyFrom(timestamp(now))
            after.revoked_by = mutation.principal.subject
            return mutation.draft(pb.ACTION_TOKEN_REVOKED, name, "", 0, before, after, now)

        return await self.changes.run(mutation, Change(apply, resource(ts.Token)))

    async def authenticate(self, secret: str) -> Principal | None:
        """Returns who the secret identifies; None if no token has it. Raises Unauthenticated
        (TOKEN_EXPIRED, TOKEN_REVOKED) for a token that no longer works."""
        digest = token_digest(secret)
        found = await self.index.find(digest)
        if found is None:
            return None
        now = self.clock()
        name = token_name(found.token_id)
        if found.revoke_time_us is not None:
            raise Unauthenticated(
                reasons.TOKEN_REVOKED,
                f"the bearer token {name} was revoked at {when(found.revoke_time_us)}; "
                "ask an admin of the registry for a new one",
                metadata={"token": name},
            )
        if found.expire_time_us is not None and now >= found.expire_time_us:
            raise Unauthenticated(
                reasons.TOKEN_EXPIRED,
                f"the bearer token {name} expired at {when(found.expire_time_us)}; "
                "ask an admin of the registry for a new one",
                metadata={"token": name},
            )
        await self._touch(digest, found.last_use_time_us, now)
        return Principal(subject=found.subject, tenant=found.tenant, roles=found.roles)

    async def _touch(self, digest: str, stored: int | None, now: int) -> None:
        """Records the token's use, at most once a minute per token and process; a failure
        to record it does not fail the call."""
        last = max(stored or 0, self.touched.get(digest, 0))
        if now - last < TOUCH_EVERY_US:
            return
        if len(self.touched) > 10_000:
            self.touched.clear()
        self.touched[digest] = now
        try:
            await self.index.touch(digest, now)
        except Exception:  # the database may be busy; the next minute tries again
            log.warning("could not record a token's last use; it is tried again later")
