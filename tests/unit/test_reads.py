"""Reads on SQLite reuse their connections and run their point queries through the driver:
each read still sees everything committed before it began, and what the driver returns is
what SQLAlchemy returns."""

from __future__ import annotations

from pathlib import Path

import pytest
from modelyard.v1 import resources_pb2 as pb
from modelyard.v1 import token_service_pb2 as ts

from tests.support.inprocess import Domain, domain_errors, open_domain, prepared_reads


async def test_a_read_sees_a_change_committed_since_the_previous_read(domain: Domain) -> None:
    admin = domain.mutation("admin", "admin")
    reader = domain.principal("admin", "admin")
    registry = domain.registry
    await registry.groups.create(admin, "fraud", pb.ModelGroup())
    version = pb.ModelVersion(artifact=pb.Artifact(uri="s3://m/1", sha256="a" * 64, size_bytes=1))
    await registry.versions.create(admin, "groups/fraud", version)
    first = await registry.versions.get(reader, "groups/fraud/versions/1")
    assert first.description == ""

    patch = pb.ModelVersion(name=first.name, description="retrained", etag=first.etag)
    await registry.versions.update(admin, patch, ["description"])
    assert (await registry.versions.get(reader, first.name)).description == "retrained"

    alias = pb.Alias(name="groups/fraud/aliases/champion", version=first.name)
    with pytest.raises(domain_errors.NotFound):
        await registry.versions.get(reader, alias.name)
    await registry.aliases.set(admin, alias)
    assert (await registry.versions.get(reader, alias.name)).name == first.name


async def test_a_token_revoked_after_it_was_used_fails_on_the_next_call(domain: Domain) -> None:
    admin = domain.mutation("admin", "admin")
    tokens = domain.registry.tokens
    created = await tokens.create(admin, ts.Token(subject="leaver", roles=["viewer"]))
    found = await tokens.authenticate(created.secret)
    assert found is not None and found.subject == "leaver"
    assert found.roles == frozenset({"viewer"})

    await tokens.revoke(admin, created.token.name)
    with pytest.raises(domain_errors.Unauthenticated) as refused:
        await tokens.authenticate(created.secret)
    assert refused.value.reason_name == "TOKEN_REVOKED"


async def test_a_token_revoked_by_another_process_fails_on_the_next_call(
    domain: Domain, tmp_path: Path
) -> None:
    """A revocation that another process (a worker, `modelyard-server token revoke`) commits
    is seen by the very next authentication, however often the token was found before."""
    admin = domain.mutation("admin", "admin")
    leaver = ts.Token(subject="leaver", roles=["viewer"])
    created = await domain.registry.tokens.create(admin, leaver)
    for _ in range(3):  # found, then found again while nothing changed
        found = await domain.registry.tokens.authenticate(created.secret)
        assert found is not None and found.subject == "leaver"

    async with open_domain(tmp_path / "registry.db") as other:
        await other.registry.tokens.revoke(other.mutation("admin", "admin"), created.token.name)
    with pytest.raises(domain_errors.Unauthenticated) as refused:
        await domain.registry.tokens.authenticate(created.secret)
    assert refused.value.reason_name == "TOKEN_REVOKED"


@pytest.mark.parametrize("one_snapshot", [True, False])
async def test_prepared_reads_return_what_sqlalchemy_returns(
    any_domain: Domain, one_snapshot: bool
) -> None:
    """Prepared reads run by the driver itself: SQLite's in reads and lookups, asyncpg's in
    PostgreSQL's lookups (autocommit); every other connection runs them through SQLAlchemy."""
    domain = any_domain
    admin = domain.mutation("admin", "admin")
    registry = domain.registry
    roles = ["viewer", "deployer@fraud"]
    created = await registry.tokens.create(admin, ts.Token(subject="ann", roles=roles))
    await registry.groups.create(admin, "fraud", pb.ModelGroup())
    version = pb.ModelVersion(artifact=pb.Artifact(uri="s3://m/1", sha256="a" * 64, size_bytes=1))
    await registry.versions.create(admin, "groups/fraud", version)
    alias = pb.Alias(name="groups/fraud/aliases/champion", version="groups/fraud/versions/1")
    await registry.aliases.set(admin, alias)
    for query, params in prepared_reads(domain.tenant, created.secret, "fraud"):
        async with domain.engines.reading(one_snapshot=one_snapshot) as conn:
            expected = [tuple(row) for row in await conn.execute(query.statement, params)]
            assert await query.rows(conn, params) == expected
            assert len(expected) == 1, query.sqlite.sql


async def fail_inside_a_read(domain: Domain) -> None:
    async with domain.store.reader(domain.tenant) as unit:
        await unit.groups.get("fraud")
        raise RuntimeError("the use case failed")


async def test_a_read_that_fails_leaves_no_connection_in_its_transaction(domain: Domain) -> None:
    admin = domain.mutation("admin", "admin")
    await domain.registry.groups.create(admin, "fraud", pb.ModelGroup())
    reader = domain.principal("admin", "admin")
    with pytest.raises(RuntimeError):
        await fail_inside_a_read(domain)
    for _ in range(3):
        assert (await domain.registry.groups.get(reader, "groups/fraud")).name == "groups/fraud"
    assert not any(read.driver.in_transaction for read in domain.engines.idle_reads)


async def test_a_reader_sees_one_snapshot_while_changes_commit(any_domain: Domain) -> None:
    """An overview's counts and its production version come from one moment, on
    PostgreSQL as on SQLite: what commits between a reader's statements is not seen by the
    later ones, and the next reader sees it."""
    domain = any_domain
    admin = domain.mutation("admin", "admin")
    groups = domain.registry.groups
    await groups.create(admin, "fraud", pb.ModelGroup(description="first"))
    async with domain.store.reader(domain.tenant) as unit:
        seen = await unit.groups.get("fraud")
        assert seen is not None and seen.description == "first"
        patch = pb.ModelGroup(name="groups/fraud", description="second")
        await groups.update(admin, patch, ["description"])
        assert await unit.groups.get("fraud") == seen
    async with domain.store.reader(domain.tenant) as unit:
        found = await unit.groups.get("fraud")
        assert found is not None and found.description == "second"
