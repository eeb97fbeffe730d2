"""Binds the database to the key its log is chained with.

The first start with a key records the key's fingerprint. Every later start (and every
command that writes the log) compares: a replica or a restored server given another key
file would otherwise write entries that nobody can verify.

A database written before the chain was keyed holds entries chained with plain sha256. The
first keyed start checks that older chain and re-chains it under the key, in one
transaction, before anything else writes; a chain already broken is refused, never
re-chained (that would launder the break). From then on every entry is keyed, so one rule
verifies the whole log. Operators should take a signed checkpoint right after upgrading:
it pins the re-chained head outside the database.
"""

from __future__ import annotations

from sqlalchemy import bindparam, select, text, update

from modelyard_server.domain.clock import now_us
from modelyard_server.keyring import Keyring
from modelyard_server.log.chain import (
    CHAIN_PURPOSE,
    GENESIS_HASH,
    ChainKey,
    entry_form,
    unkeyed_hash,
)
from modelyard_server.log.checkpoints import CHECKPOINT_PURPOSE, AuditKeys
from modelyard_server.store.engine import Conn, Engines
from modelyard_server.store.log import entry_of
from modelyard_server.store.tables import HEADS, KEY_FINGERPRINTS, LOG

KEY_ROW = "server"
BATCH = 1000
FINGERPRINT = select(KEY_FINGERPRINTS.c.fingerprint).where(KEY_FINGERPRINTS.c.name == KEY_ROW)
HEADS_ALL = select(HEADS.c.tenant, HEADS.c.seq, HEADS.c.hash).order_by(HEADS.c.tenant)
ENTRIES = (
    select(*LOG.c)
    .where(LOG.c.tenant == bindparam("b_tenant"), LOG.c.seq > bindparam("b_after"))
    .order_by(LOG.c.seq)
    .limit(BATCH)
)
REHASH = (
    update(LOG)
    .where(LOG.c.tenant == bindparam("b_tenant"), LOG.c.seq == bindparam("b_seq"))
    .values(prev_hash=bindparam("b_prev"), hash=bindparam("b_hash"))
)
SET_HEAD = (
    update(HEADS)
    .where(HEADS.c.tenant == bindparam("b_tenant"))
    .values(seq=bindparam("b_seq"), hash=bindparam("b_hash"))
)


def chain_key(keyring: Keyring) -> ChainKey:
    """Returns the key the log is chained with."""
    return ChainKey(keyring.derive(CHAIN_PURPOSE))


def audit_keys(keyring: Keyring) -> AuditKeys:
    """Returns the keys that verify the log and sign its checkpoints."""
    return AuditKeys(chain_key(keyring), keyring.signing_key(CHECKPOINT_PURPOSE))


class KeyMismatch(Exception):
    """The database was chained with another key than the one given."""

    def __init__(self, recorded: str, given: str) -> None:
        super().__init__(recorded, given)
        self.recorded = recorded
        self.given = given


class UnkeyedChainBroken(Exception):
    """A log written before keying is already broken: keying it would hide the break."""

    def __init__(self, tenant: str, seq: int) -> None:
        super().__init__(tenant, seq)
        self.tenant = tenant
        self.seq = seq


async def bind_key(engines: Engines, keyring: Keyring) -> int:
    """Checks the keyring against the fingerprint the database records; on the first keyed
    start, records it and re-chains the older entries. Returns how many entries it keyed.
    Raises KeyMismatch or UnkeyedChainBroken."""
    async with engines.reading() as conn:
        recorded = await conn.scalar(FINGERPRINT)
    if recorded is not None:
        _check(recorded, keyring)
        return 0
    async with engines.writing() as conn:
        if engines.postgres is not None:  # replicas starting together: one keys the log
            await conn.execute(text("SELECT pg_advisory_xact_lock(727275)"))
        recorded = await conn.scalar(FINGERPRINT)
        if recorded is not None:
            _check(recorded, keyring)
            return 0
        keyed = await _rechain(conn, chain_key(keyring))
        row = {"name": KEY_ROW, "fingerprint": keyring.fingerprint, "create_time_us": now_us()}
        await conn.execute(KEY_FINGERPRINTS.insert(), row)
    return keyed


def _check(recorded: str, keyring: Keyring) -> None:
    if recorded != keyring.fingerprint:
        raise KeyMismatch(recorded, keyring.fingerprint)


async def _rechain(conn: Conn, key: ChainKey) -> int:
    keyed = 0
    heads = [(row.tenant, row.seq, row.hash) for row in (await conn.execute(HEADS_ALL)).all()]
    for tenant, head_seq, head_hash in heads:
        old_prev, new_prev, seq = GENESIS_HASH, GENESIS_HASH, 0
        while True:
            params = {"b_tenant": tenant, "b_after": seq}
            entries = [entry_of(row) for row in (await conn.execute(ENTRIES, params)).all()]
            if not entries:
                break
            changes = []
            for entry in entries:
                form = entry_form(entry)
                intact = (
                    entry.seq == seq + 1
                    and entry.prev_hash == old_prev
                    and unkeyed_hash(old_prev, form) == entry.hash
                )
                if not intact:
                    raise UnkeyedChainBroken(tenant, seq + 1)
                new_hash = key.link(new_prev, form)
                changes.append(
                    {"b_tenant": tenant, "b_seq": entry.seq, "b_prev": new_prev, "b_hash": new_hash}
                )
                old_prev, new_prev, seq = entry.hash, new_hash, entry.seq
            await conn.execute(REHASH, changes)
            keyed += len(changes)
        if (head_seq, head_hash) != (seq, old_prev):  # the newest entries were removed
            raise UnkeyedChainBroken(tenant, seq + 1)
        await conn.execute(SET_HEAD, {"b_tenant": tenant, "b_seq": seq, "b_hash": new_prev})
    return keyed
