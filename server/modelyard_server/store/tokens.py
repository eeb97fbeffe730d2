"""Bearer tokens: created by operators, looked up by their SHA-256."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import bindparam, func, select

from modelyard_server.domain.clock import now_us
from modelyard_server.domain.principal import Principal, parse_role_binding
from modelyard_server.store.engine import Engines
from modelyard_server.store.tables import TOKENS

TOKEN_PREFIX = "myd_"
INSERT = TOKENS.insert()
COUNT = select(func.count()).select_from(TOKENS)
PRINCIPAL = select(TOKENS.c.tenant, TOKENS.c.subject, TOKENS.c.roles).where(
    TOKENS.c.token_sha256 == bindparam("b_digest")
)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_token(engines: Engines, *, tenant: str, subject: str, roles: list[str]) -> str:
    """Returns a new bearer token for the subject; only its digest is stored."""
    for binding in roles:
        parse_role_binding(binding)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    async with engines.writing() as conn:
        await conn.execute(
            INSERT,
            {
                "token_sha256": token_digest(token),
                "tenant": tenant,
                "subject": subject,
                "roles": sorted(roles),
                "create_time_us": now_us(),
            },
        )
    return token


async def count_tokens(engines: Engines) -> int:
    async with engines.reading() as conn:
        return int(await conn.scalar(COUNT) or 0)


async def principal_of(engines: Engines, token: str) -> Principal | None:
    """Returns who the token belongs to, or None if the server does not know it."""
    async with engines.reading() as conn:
        row = (await conn.execute(PRINCIPAL, {"b_digest": token_digest(token)})).first()
    if row is None:
        return None
    return Principal(subject=row.subject, tenant=row.tenant, roles=frozenset(row.roles))
