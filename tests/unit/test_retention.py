"""Retention over simulated months, on a real store with an injected clock: exactly the
expected versions are archived and deleted, never a protected one; and a run racing a
promotion and registrations leaves a state and a log that agree (on both backends)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from google.protobuf import json_format
from modelyard.v1 import resources_pb2 as pb
from modelyard.v1 import retention_service_pb2 as rets

from tests.support.inprocess import AuditQuery, Domain, LogEntry, Mutation, open_domain

DAY_US = 86_400 * 1_000_000
START_US = 1_767_225_600 * 1_000_000  # 2026-01-01T00:00:00Z
ARCHIVE, DELETE, KEEP = (
    rets.RETENTION_OUTCOME_ARCHIVE,
    rets.RETENTION_OUTCOME_DELETE,
    rets.RETENTION_OUTCOME_KEEP,
)


class Clock:
    """Simulated time: starts on 2026-01-01 and moves only when told to."""

    def __init__(self) -> None:
        self.now = START_US

    def __call__(self) -> int:
        return self.now

    def day(self, day: float) -> None:
        self.now = START_US + int(day * DAY_US)


class Registry:
    """The registry's use cases as an admin and a reviewer call them."""

    def __init__(self, domain: Domain) -> None:
        self.domain = domain
        self.admin = domain.mutation("admin", "admin")
        self.ann = domain.mutation("ann", "approver")
        self.registry = domain.registry

    def why(self, reason: str) -> Mutation:
        return self.domain.mutation("admin", "admin", reason=reason)

    async def group(self, group: str) -> None:
        await self.registry.groups.create(self.admin, group, pb.ModelGroup())

    async def register(self, group: str, *needs: str) -> str:
        version = pb.ModelVersion(
            artifact=pb.Artifact(
                uri=f"s3://models/{uuid.uuid4().hex}", sha256=uuid.uuid4().hex * 2, size_bytes=1
            ),
            lineage=pb.Lineage(depends_on=list(needs)),
        )
        created = await self.registry.versions.create(self.admin, f"groups/{group}", version)
        return created.name

    async def stage(self, name: str, stage: int) -> None:
        await self.registry.lifecycle.transition(self.admin, name, stage, False, "")

    async def staged(self, group: str, *needs: str) -> str:
        name = await self.register(group, *needs)
        await self.registry.approvals.approve(self.ann, name, "")
        await self.stage(name, pb.STAGE_STAGING)
        return name

    async def policy(self, group: str, **rules: int) -> None:
        await self.registry.retention.update_policy(
            self.admin,
            json_format.ParseDict(
                {"name": f"groups/{group}/retentionPolicy", **rules}, rets.RetentionPolicy()
            ),
            list(rules),
        )

    async def plan(self, group: str) -> dict[int, tuple[int, str]]:
        principal = self.domain.principal("viewer", "viewer")
        _, actions = await self.registry.retention.plan(principal, f"groups/{group}")
        return {int(a.version.rsplit("/", 1)[1]): (a.outcome, a.reason) for a in actions}

    async def apply(self, group: str) -> list[tuple[int, int]]:
        principal = self.domain.principal("admin", "admin")
        done = await self.registry.retention.apply(principal, f"groups/{group}")
        return [(int(a.version.rsplit("/", 1)[1]), a.outcome) for a in done]

    async def versions(self, group: str) -> dict[int, pb.ModelVersion]:
        principal = self.domain.principal("admin", "admin")
        found, _ = await self.registry.versions.page(principal, f"groups/{group}", 1000, "", "", "")
        return {v.version: v for v in found}

    async def log(self, group: str) -> list[LogEntry]:
        """Returns the log entries of the group's versions, in seq order."""
        async with self.domain.store.reader(self.domain.tenant) as unit:
            entries = await unit.log.page(AuditQuery(group=group), 10_000, None)
        return [e for e in entries if "/versions/" in e.resource]


@pytest.fixture
async def clocked(tmp_path: Path) -> AsyncIterator[tuple[Registry, Clock]]:
    clock = Clock()
    async with open_domain(tmp_path / "registry.db", clock=clock) as domain:
        yield Registry(domain), clock


async def test_retention_over_months_archives_and_deletes_exactly_the_unprotected(
    clocked: tuple[Registry, Clock],
) -> None:
    r, clock = clocked
    g, app = f"g-{uuid.uuid4().hex[:8]}", f"app-{uuid.uuid4().hex[:8]}"
    await r.group(g)
    await r.group(app)
    await r.staged(g)  # 1: never promoted: archived after 30 days, deleted 90 later
    aliased = await r.staged(g)  # 2: an alias points at it
    held = await r.staged(g)  # 3: under legal hold
    shelved = await r.register(g)  # 4: archived on day 0: deleted after 90 days
    await r.stage(shelved, pb.STAGE_ARCHIVED)
    needed = await r.staged(g)  # 5: a production version of another group depends on it
    former = await r.staged(g)  # 6: in production, then replaced: the rollback target
    await r.stage(former, pb.STAGE_PRODUCTION)
    serving = await r.staged(g)  # 7: in production
    await r.staged(g)  # 8 and 9: the newest two
    await r.staged(g)
    await r.registry.aliases.set(
        r.admin, pb.Alias(name=f"groups/{g}/aliases/challenger", version=aliased)
    )
    await r.registry.holds.set(r.why("case 2026-17"), held)
    await r.stage(await r.staged(app, needed), pb.STAGE_PRODUCTION)
    clock.day(5)
    await r.stage(serving, pb.STAGE_PRODUCTION)
    await r.policy(g, keep_newest=2, archive_staging_after_days=30, delete_archived_after_days=90)

    clock.day(29)
    assert await r.plan(g) == {}
    assert await r.apply(g) == []

    clock.day(31)
    plan = await r.plan(g)
    assert {n: outcome for n, (outcome, _) in plan.items()} == {
        1: ARCHIVE,
        2: KEEP,
        3: KEEP,
        5: KEEP,
        8: KEEP,
        9: KEEP,
    }
    assert "not promoted within 30 days" in plan[1][1]
    assert "aliases point at it" in plan[2][1]
    assert "legal hold: case 2026-17" in plan[3][1]
    assert "PRODUCTION version depends on it" in plan[5][1]
    assert "newest 2" in plan[8][1]
    assert await r.apply(g) == [(1, ARCHIVE)]
    assert await r.apply(g) == []  # nothing left to do: a second run changes nothing

    clock.day(91)
    assert await r.apply(g) == [(4, DELETE)]
    clock.day(96)
    assert (await r.plan(g))[6][0] == KEEP  # archived on day 5, but rollback restores it
    assert await r.apply(g) == []
    clock.day(122)
    assert await r.apply(g) == [(1, DELETE)]
    clock.day(365)
    assert await r.apply(g) == []

    left = await r.versions(g)
    assert sorted(left) == [2, 3, 5, 6, 7, 8, 9]
    assert left[7].stage == pb.STAGE_PRODUCTION
    assert left[6].stage == pb.STAGE_ARCHIVED
    assert {left[n].stage for n in (2, 3, 5, 8, 9)} == {pb.STAGE_STAGING}
    by_retention = [(e.action, e.version) for e in await r.log(g) if e.actor == "retention"]
    assert by_retention == [
        ("STAGE_CHANGED", 1),
        ("MODEL_VERSION_DELETED", 4),
        ("MODEL_VERSION_DELETED", 1),
    ]
    first = next(e for e in await r.log(g) if e.actor == "retention")
    assert "not promoted within 30 days (applied by admin)" in first.reason


async def test_archived_versions_keep_their_bytes_for_the_hold_period(
    clocked: tuple[Registry, Clock],
) -> None:
    r, clock = clocked
    g = f"g-{uuid.uuid4().hex[:8]}"
    await r.group(g)
    await r.stage(await r.register(g), pb.STAGE_ARCHIVED)
    await r.policy(g, delete_archived_after_days=30, artifact_hold_days=2557)
    clock.day(2556)
    outcome, why = (await r.plan(g))[1]
    assert outcome == KEEP
    assert "artifact hold" in why and "2033-01-01" in why
    assert await r.apply(g) == []
    clock.day(2557)
    assert await r.apply(g) == [(1, DELETE)]


async def test_a_group_without_a_policy_follows_the_tenant_default(
    clocked: tuple[Registry, Clock],
) -> None:
    r, clock = clocked
    g = f"g-{uuid.uuid4().hex[:8]}"
    await r.group(g)
    await r.staged(g)
    await r.registry.retention.update_policy(
        r.admin,
        rets.RetentionPolicy(name="groups/-/retentionPolicy", archive_staging_after_days=7),
        ["archive_staging_after_days"],
    )
    shown = await r.registry.retention.get_policy(
        r.domain.principal("viewer", "viewer"), f"groups/{g}/retentionPolicy"
    )
    assert shown.inherited and shown.archive_staging_after_days == 7
    clock.day(8)
    assert await r.apply(g) == [(1, ARCHIVE)]


async def test_a_run_racing_a_promotion_and_registrations_leaves_state_and_log_agreeing(
    database_url: str, tmp_path: Path
) -> None:
    clock = Clock()
    async with open_domain(tmp_path / "registry.db", url=database_url, clock=clock) as domain:
        r = Registry(domain)
        g = f"g-{uuid.uuid4().hex[:8]}"
        await r.group(g)
        await r.policy(g, archive_staging_after_days=10)
        for round_ in range(3):
            clock.day(20 * round_)
            staged = [await r.staged(g) for _ in range(4)]
            clock.day(20 * round_ + 11)
            target = staged[2]
            racers = [
                r.apply(g),
                r.stage(target, pb.STAGE_PRODUCTION),
                r.register(g),
                r.register(g),
            ]
            # Each round starts them in another order, so each side gets to go first.
            order = racers[round_:] + racers[:round_]
            started = await asyncio.gather(*order, return_exceptions=True)
            results = started[-round_:] + started[:-round_] if round_ else started
            promoted = not isinstance(results[1], BaseException)
            archived = dict(results[0]) if isinstance(results[0], list) else {}
            number = int(target.rsplit("/", 1)[1])
            # Exactly one of the two won: the promotion, or retention archiving the version
            # first (and then the promotion, from ARCHIVED, is refused).
            assert promoted != (number in archived), (results, archived)
            assert all(not isinstance(x, BaseException) for x in results[2:]), results

        versions = await r.versions(g)
        log = await r.log(g)
        last: dict[str, LogEntry] = {}
        for entry in log:
            last[entry.resource] = entry
            for item in json.loads(entry.related or "[]"):
                last[item["resource"]] = entry
        for name, entry in last.items():
            number = int(name.rsplit("/", 1)[1])
            if entry.action == "MODEL_VERSION_DELETED" and entry.resource == name:
                assert number not in versions
                continue
            state = versions[number]
            if entry.resource == name:
                after = json.loads(entry.after or "{}")
            else:
                [after] = [
                    i["after"] for i in json.loads(entry.related or "[]") if i["resource"] == name
                ]
            assert after["etag"] == state.etag, name
            assert after.get("stage", "STAGE_NONE") == pb.Stage.Name(state.stage), name
        retention = [e for e in log if e.actor == "retention"]
        assert retention, "retention archived nothing"
        assert all(json.loads(e.before or "{}")["stage"] == "STAGE_STAGING" for e in retention)
        assert sum(v.stage == pb.STAGE_PRODUCTION for v in versions.values()) <= 1
        seqs = [e.seq for e in log]
        assert seqs == sorted(seqs)


async def test_the_sweeper_applies_every_groups_policy_as_retention(
    clocked: tuple[Registry, Clock],
) -> None:
    r, clock = clocked
    own, inheriting, untouched = (f"g{i}-{uuid.uuid4().hex[:8]}" for i in range(3))
    for group in (own, inheriting, untouched):
        await r.group(group)
        await r.staged(group)
    await r.policy(own, archive_staging_after_days=3)
    await r.policy(untouched, archive_staging_after_days=0)
    await r.registry.retention.update_policy(
        r.admin,
        rets.RetentionPolicy(name="groups/-/retentionPolicy", archive_staging_after_days=5),
        ["archive_staging_after_days"],
    )
    clock.day(6)
    assert await r.registry.retention.sweep([r.domain.tenant]) == 2
    for group, stage in (
        (own, pb.STAGE_ARCHIVED),
        (inheriting, pb.STAGE_ARCHIVED),
        (untouched, pb.STAGE_STAGING),
    ):
        assert (await r.versions(group))[1].stage == stage, group
    [entry] = [e for e in await r.log(inheriting) if e.actor == "retention"]
    assert entry.reason.endswith("(by the sweeper)")
    assert await r.registry.retention.sweep([r.domain.tenant]) == 0
