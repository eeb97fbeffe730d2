"""Aliases: movable names for versions (`champion`), some of them protected by the policy."""

from __future__ import annotations

from modelyard.v1 import resources_pb2 as pb

from modelyard_server.domain import labels, lookup, names, stages
from modelyard_server.domain.changes import Change, Changes, Mutation, Unchanged, nothing, resource
from modelyard_server.domain.clock import new_etag, timestamp
from modelyard_server.domain.errors import FieldViolation, invalid_fields, quote
from modelyard_server.domain.fields import check_etag
from modelyard_server.domain.pages import PageTokens, page_size
from modelyard_server.domain.principal import Permission, Principal
from modelyard_server.domain.repositories import Store, UnitOfWork
from modelyard_server.log.drafts import LogDraft, Related

DEFAULT_PAGE = 50


class Aliases:
    """Setting, reading and deleting aliases; moving one relabels both versions in one change."""

    def __init__(self, store: Store, changes: Changes, tokens: PageTokens) -> None:
        self.store = store
        self.changes = changes
        self.tokens = tokens

    async def set(self, mutation: Mutation, alias: pb.Alias) -> pb.Alias:
        """Returns the alias, created or moved to `alias.version`."""
        ref = names.parse_alias_name(alias.name, "alias.name", for_write=True)
        target = names.parse_version_name(alias.version, "alias.version")
        if target.group != ref.group:
            raise invalid_fields(
                [FieldViolation("alias.version", f"must be a version of group {quote(ref.group)}")]
            )
        mutation.principal.authorize(Permission.READ, ref.group)

        async def apply(unit: UnitOfWork, now: int) -> LogDraft | Unchanged:
            policy = await lookup.policy(unit, ref.group)
            mutation.principal.require_role(policy.promoter_roles, "move aliases", ref.group)
            version = await lookup.version(unit, target)
            if ref.alias in policy.protected_aliases:
                stages.require_approved(
                    version, f"pointed at by protected alias {quote(ref.alias)}"
                )
            before = await unit.aliases.get(ref.group, ref.alias)
            if before is not None:
                check_etag(alias.etag, before.etag, before.name)
                if before.version == version.name:
                    return Unchanged(before)
            after = pb.Alias(
                name=ref.name,
                version=version.name,
                updated_by=mutation.principal.subject,
                update_time=timestamp(now),
                etag=new_etag(),
            )
            related = []
            if before is not None:
                old = await unit.versions.get(
                    ref.group, names.parse_version_name(before.version).number
                )
                if old is not None:
                    related.append(await labels.relabel(unit, ref.group, old, remove=ref.name))
            related.append(await labels.relabel(unit, ref.group, version, add=ref.name))
            await unit.aliases.save(ref.group, after, version.version)
            return mutation.draft(
                pb.ACTION_ALIAS_SET,
                after.name,
                ref.group,
                version.version,
                before,
                after,
                now,
                tuple(related),
            )

        return await self.changes.run(mutation, Change(apply, resource(pb.Alias)))

    async def get(self, principal: Principal, name: str) -> pb.Alias:
        ref = names.parse_alias_name(name)
        principal.authorize(Permission.READ, ref.group)
        async with self.store.lookup(principal.tenant) as unit:
            return await lookup.alias(unit, ref)

    async def page(
        self, principal: Principal, parent: str, size: int, token: str
    ) -> tuple[list[pb.Alias], str]:
        """Returns one page of a group's aliases, by name, and the token of the next page."""
        group = names.parse_group_name(parent, "parent")
        principal.authorize(Permission.READ, group)
        query = self.tokens.query(principal.tenant, "aliases", parent)
        limit = page_size(size, DEFAULT_PAGE)
        after = query.resume_after(token)
        after_alias = str(after[0]) if after else None
        async with self.store.lookup(principal.tenant) as unit:
            await lookup.require_group(unit, group)
            aliases = await unit.aliases.page(group, limit + 1, after_alias)
        resume = (aliases[limit - 1].name.rsplit("/", 1)[1],) if len(aliases) > limit else None
        return aliases[:limit], query.token(resume)

    async def delete(self, mutation: Mutation, name: str, etag: str) -> None:
        ref = names.parse_alias_name(name)
        mutation.principal.authorize(Permission.READ, ref.group)

        async def apply(unit: UnitOfWork, now: int) -> LogDraft:
            policy = await lookup.policy(unit, ref.group)
            mutation.principal.require_role(policy.promoter_roles, "delete aliases", ref.group)
            before = await lookup.alias(unit, ref)
            check_etag(etag, before.etag, before.name)
            target = names.parse_version_name(before.version)
            related: Related = ()
            version = await unit.versions.get(ref.group, target.number)
            if version is not None:
                related = (await labels.relabel(unit, ref.group, version, remove=ref.name),)
            await unit.aliases.delete(ref.group, ref.alias)
            return mutation.draft(
                pb.ACTION_ALIAS_DELETED,
                before.name,
                ref.group,
                target.number or 0,
                before,
                None,
                now,
                related,
            )

        await self.changes.run(mutation, Change(apply, nothing))
