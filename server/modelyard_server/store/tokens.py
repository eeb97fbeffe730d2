"""Bearer tokens: the rows of a tenant's tokens, and the lookup of a presented secret's digest.

Only the SHA-256 of a secret is stored; nothing here ever sees the secret itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from modelyard.v1 import token_service_pb2 as ts
from sqlalchemy import RowMapping, and_, bindparam, func, or_, select, update

from modelyard_server.domain.clock import timestamp
from modelyard_server.domain.repositories import Key, Slice
from modelyard_server.domain.tokens import IssuedToken, token_name
from modelyard_server.store.engine import Conn, Engines
from modelyard_server.store.prepared import PreparedRead
from modelyard_server.store.tables import TOKENS

COUNT = select(func.count()).select_from(TOKENS)
# The one query every authenticated call makes: by primary key, prepared, so it stays cheap.
FIND = PreparedRead(
    select(
        TOKENS.c.token_id,
        TOKENS.c.tenant,
        TOKENS.c.subject,
        TOKENS.c.roles,
        TOKENS.c.expire_time_us,
        TOKENS.c.revoke_time_us,
        TOKENS.c.last_use_time_us,
    ).where(TOKENS.c.token_sha256 == bindparam("b_digest"))
)
TOUCH = (
    update(TOKENS)
    .where(TOKENS.c.token_sha256 == bindparam("b_digest"))
    .values(last_use_time_us=bindparam("b_now"))
)
# What a listing shows: never the digest.
SHOWN: Sequence[Any] = (
    TOKENS.c.token_id,
    TOKENS.c.subject,
    TOKENS.c.roles,
    TOKENS.c.created_by,
    TOKENS.c.create_time_us,
    TOKENS.c.expire_time_us,
    TOKENS.c.revoke_time_us,
    TOKENS.c.revoked_by,
    TOKENS.c.last_use_time_us,
)
_this = (TOKENS.c.tenant == bindparam("b_tenant")) & (TOKENS.c.token_id == bindparam("b_token"))
GET = select(*SHOWN).where(_this)
REVOKE = update(TOKENS).where(_this)


def token_of(row: RowMapping) -> ts.Token:
    token = ts.Token(
        name=token_name(row["token_id"]),
        subject=row["subject"],
        roles=sorted(row["roles"]),
        created_by=row["created_by"],
        create_time=timestamp(row["create_time_us"]),
        revoked_by=row["revoked_by"] or "",
    )
    for field, us in (
        ("expire_time", row["expire_time_us"]),
        ("revoke_time", row["revoke_time_us"]),
        ("last_use_time", row["last_use_time_us"]),
    ):
        if us is not None:
            getattr(token, field).CopyFrom(timestamp(us))
    return token


def token_row(tenant: str, token: ts.Token, digest: str) -> dict[str, Any]:
    """Returns the row of a new token: its digest, never its secret."""
    return {
        "token_sha256": digest,
        "tenant": tenant,
        "token_id": token.name.removeprefix("tokens/"),
        "subject": token.subject,
        "roles": sorted(token.roles),
        "created_by": token.created_by,
        "create_time_us": token.create_time.ToMicroseconds(),
        "expire_time_us": (
            token.expire_time.ToMicroseconds() if token.HasField("expire_time") else None
        ),
    }


class SqlTokens:
    """The tokens of one tenant (implements domain's TokenRepository)."""

    def __init__(self, conn: Conn, tenant: str) -> None:
        self.conn = conn
        self.tenant = tenant

    async def get(self, token_id: str) -> ts.Token | None:
        params = {"b_tenant": self.tenant, "b_token": token_id}
        row = (await self.conn.execute(GET, params)).mappings().first()
        return None if row is None else token_of(row)

    async def page(self, limit: int, after: Key | None) -> Slice[ts.Token]:
        query = select(*SHOWN).where(TOKENS.c.tenant == self.tenant)
        if after is not None and len(after) == 2:
            created, token_id = after
            if isinstance(created, int) and isinstance(token_id, str):
                query = query.where(
                    or_(
                        TOKENS.c.create_time_us > created,
                        and_(TOKENS.c.create_time_us == created, TOKENS.c.token_id > token_id),
                    )
                )
        query = query.order_by(TOKENS.c.create_time_us, TOKENS.c.token_id).limit(limit + 1)
        rows = (await self.conn.execute(query)).mappings().all()
        resume: Key | None = None
        if len(rows) > limit:
            last = rows[limit - 1]
            resume = (last["create_time_us"], last["token_id"])
        return Slice([token_of(row) for row in rows[:limit]], resume)

    async def insert(self, token: ts.Token, digest: str) -> None:
        await self.conn.execute(TOKENS.insert(), token_row(self.tenant, token, digest))

    async def revoke(self, token_id: str, now: int, by: str) -> None:
        await self.conn.execute(
            REVOKE.values(revoke_time_us=now, revoked_by=by),
            {"b_tenant": self.tenant, "b_token": token_id},
        )

    async def unbind_group(self, group: str) -> list[tuple[ts.Token, ts.Token]]:
        """Removes every `role@group` binding from the tenant's tokens; returns each changed
        token before and after. A tenant holds few tokens: they are read whole, and only
        those bound to the group are written."""
        suffix = f"@{group}"
        rows = (
            (await self.conn.execute(select(*SHOWN).where(TOKENS.c.tenant == self.tenant)))
            .mappings()
            .all()
        )
        changed = []
        for row in rows:
            roles = list(row["roles"])
            kept = [role for role in roles if not role.endswith(suffix)]
            if len(kept) == len(roles):
                continue
            await self.conn.execute(
                update(TOKENS).where(_this).values(roles=sorted(kept)),
                {"b_tenant": self.tenant, "b_token": row["token_id"]},
            )
            before = token_of(row)
            after = ts.Token()
            after.CopyFrom(before)
            del after.roles[:]
            after.roles.extend(sorted(kept))
            changed.append((before, after))
        return changed


class SqlTokenIndex:
    """Every tenant's tokens by the digest of their secret: what authentication looks up
    (implements domain's TokenIndex)."""

    def __init__(self, engines: Engines) -> None:
        self.engines = engines

    async def find(self, digest: str) -> IssuedToken | None:
        # Imported here: the unit of work imports this module for the tenant's tokens.
        from modelyard_server.store.unit_of_work import unavailable_on_connection_errors

        with unavailable_on_connection_errors():
            # A lookup: one statement outside a transaction (on PostgreSQL one round trip),
            # which sees every revocation that committed before it began.
            async with self.engines.reading(one_snapshot=False) as conn:
                row = await FIND.first(conn, {"b_digest": digest})
        if row is None:
            return None
        token_id, tenant, subject, roles, expire_us, revoke_us, last_use_us = row
        return IssuedToken(
            token_id=token_id,
            tenant=tenant,
            subject=subject,
            roles=frozenset(roles),
            expire_time_us=expire_us,
            revoke_time_us=revoke_us,
            last_use_time_us=last_use_us,
        )

    async def touch(self, digest: str, now: int) -> None:
        async with self.engines.writing() as conn:
            await conn.execute(TOUCH, {"b_digest": digest, "b_now": now})

    async def count(self) -> int:
        async with self.engines.reading() as conn:
            return int(await conn.scalar(COUNT) or 0)

    async def insert(self, tenant: str, token: ts.Token, digest: str) -> None:
        """Stores a token outside any change: the first admin token, before anyone exists
        to issue one."""
        async with self.engines.writing() as conn:
            await conn.execute(TOKENS.insert(), token_row(tenant, token, digest))
