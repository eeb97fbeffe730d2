"""Dependencies between versions (`lineage.depends_on`): impact analysis, the depends_on
filter, and the guard that keeps what a production version needs, through the SDK."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from modelyard import Action, ApprovalPolicy, Lineage, Registry, Stage, errors

from tests.support.servers import Server
from tests.support.versions import register


@dataclass
class Chain:
    """An app version depends on a ranker version, which depends on an encoder version."""

    encoder: str
    ranker: str
    app: str

    def version(self, group: str, number: int = 1) -> str:
        return f"groups/{group}/versions/{number}"


def staged(registry: Registry, group: str, *needs: str) -> str:
    """Registers an approved version in STAGING that depends on `needs`; returns its name."""
    version = register(registry, group, lineage=Lineage(depends_on=list(needs)))
    registry.approve(version.name, reason="reviewed")
    registry.transition(version.name, Stage.STAGING)
    return version.name


def make_chain(registry: Registry) -> Chain:
    """The chain, with the app's version in PRODUCTION and the others in STAGING."""
    suffix = uuid.uuid4().hex[:8]
    made = Chain(f"encoder-{suffix}", f"ranker-{suffix}", f"app-{suffix}")
    for group in (made.encoder, made.ranker, made.app):
        registry.create_group(group)
        registry.update_approval_policy(
            ApprovalPolicy(name=f"groups/{group}/approvalPolicy", allow_self_approval=True),
            update_mask=["allow_self_approval"],
        )
    staged(registry, made.encoder)
    staged(registry, made.ranker, made.version(made.encoder))
    registry.promote(staged(registry, made.app, made.version(made.ranker)))
    return made


def test_impact_analysis_lists_the_whole_chain_with_stages(registry: Registry) -> None:
    chain = make_chain(registry)
    found = registry.list_dependents(chain.encoder, 1)
    assert [(d.version, d.stage, d.depends_on, d.depth) for d in found] == [
        (chain.version(chain.ranker), Stage.STAGING, chain.version(chain.encoder), 1),
        (chain.version(chain.app), Stage.PRODUCTION, chain.version(chain.ranker), 2),
    ]
    assert registry.list_dependents(chain.app, 1) == []


def test_the_filter_finds_the_direct_dependents_of_a_version(registry: Registry) -> None:
    chain = make_chain(registry)
    wanted = f'depends_on = "{chain.version(chain.encoder)}"'
    found = list(registry.list_versions("-", filter=wanted))
    assert [v.name for v in found] == [chain.version(chain.ranker)]
    others = f'depends_on != "{chain.version(chain.encoder)}"'
    assert chain.version(chain.ranker) not in {
        v.name for v in registry.list_versions(chain.ranker, filter=others)
    }
    with pytest.raises(errors.InvalidFilter, match="version name"):
        list(registry.list_versions("-", filter='depends_on = "encoder/1"'))


def test_archiving_the_bottom_of_a_chain_under_production_is_refused(registry: Registry) -> None:
    chain = make_chain(registry)
    with pytest.raises(errors.HasDependents) as refused:
        registry.transition(chain.version(chain.encoder), Stage.ARCHIVED)
    assert refused.value.metadata["dependents"] == chain.version(chain.app)
    assert chain.version(chain.app) in str(refused.value)
    assert registry.get_version(chain.encoder, 1).stage == Stage.STAGING


def test_rejecting_or_deleting_what_production_needs_is_refused(registry: Registry) -> None:
    chain = make_chain(registry)
    with pytest.raises(errors.HasDependents):
        registry.reject(chain.ranker, 1, reason="bias found")
    with pytest.raises(errors.HasDependents):
        registry.delete_version(chain.encoder, 1)
    assert registry.get_version(chain.encoder, 1).stage == Stage.STAGING


def test_archiving_with_force_needs_a_reason_and_is_logged(registry: Registry) -> None:
    chain = make_chain(registry)
    encoder = chain.version(chain.encoder)
    with pytest.raises(errors.InvalidField, match="reason"):
        registry.transition(encoder, Stage.ARCHIVED, force=True)
    moved = registry.transition(encoder, Stage.ARCHIVED, force=True, reason="CVE-2026-1 in it")
    assert moved.model_version.stage == Stage.ARCHIVED
    entry = next(
        iter(
            registry.list_audit_events(
                resource=encoder, actions=[Action.STAGE_CHANGED], newest_first=True
            )
        )
    )
    assert entry.after is not None and entry.after["stage"] == "STAGE_ARCHIVED"
    assert entry.reason.startswith("CVE-2026-1 in it")
    assert chain.version(chain.app) in entry.reason
    assert entry.actor == "admin"


def test_a_version_no_production_version_needs_archives_freely(registry: Registry) -> None:
    chain = make_chain(registry)
    registry.transition(chain.version(chain.app), Stage.ARCHIVED)
    registry.transition(chain.version(chain.encoder), Stage.ARCHIVED)
    assert registry.get_version(chain.encoder, 1).stage == Stage.ARCHIVED


def test_a_group_whose_versions_production_needs_cannot_be_deleted(registry: Registry) -> None:
    chain = make_chain(registry)
    with pytest.raises(errors.HasDependents) as refused:
        registry.delete_group(chain.encoder, force=True)
    assert refused.value.metadata["dependents"] == chain.version(chain.app)
    registry.transition(chain.version(chain.app), Stage.ARCHIVED)
    registry.delete_group(chain.encoder, force=True)
    with pytest.raises(errors.ModelGroupNotFound):
        registry.get_group(chain.encoder)


def test_a_promotion_that_would_archive_what_production_needs_takes_force(
    registry: Registry,
) -> None:
    chain = make_chain(registry)
    registry.promote(chain.version(chain.encoder))
    second = staged(registry, chain.encoder)
    with pytest.raises(errors.HasDependents):
        registry.promote(second)
    assert registry.get_version(chain.encoder, 1).stage == Stage.PRODUCTION
    registry.promote(second, reason="encoder 2 is compatible", force=True)
    assert registry.get_version(chain.encoder, 1).stage == Stage.ARCHIVED


def test_impact_analysis_shows_only_the_groups_the_caller_may_read(
    registry: Registry, server: Server
) -> None:
    chain = make_chain(registry)
    token = server.mint_token("vic", f"viewer@{chain.encoder}", f"viewer@{chain.ranker}")
    with Registry(server.address, token=token) as vic:
        found = vic.list_dependents(chain.encoder, 1)
        assert [d.version for d in found] == [chain.version(chain.ranker)]
        with pytest.raises(errors.PermissionDenied):
            vic.list_dependents(chain.app, 1)
