"""Model groups: create, read, list, update and delete them."""

from __future__ import annotations

from collections.abc import Sequence

from modelyard.v1 import errors_pb2 as reasons
from modelyard.v1 import resources_pb2 as pb

from modelyard_server.domain import dependents, lookup, names, validation
from modelyard_server.domain.changes import Change, Changes, Mutation, nothing, resource
from modelyard_server.domain.clock import new_etag, timestamp
from modelyard_server.domain.errors import AlreadyExists, FailedPrecondition, quote
from modelyard_server.domain.fields import FieldRules, check_etag
from modelyard_server.domain.filters import parse_filter, parse_order_by
from modelyard_server.domain.pages import PageTokens, page_size
from modelyard_server.domain.principal import Permission, Principal
from modelyard_server.domain.repositories import Encoded, Store, UnitOfWork
from modelyard_server.domain.schemas import GROUPS
from modelyard_server.log.drafts import LogDraft

DEFAULT_PAGE = 50
FIELDS = FieldRules(
    mutable=frozenset({"description", "tags"}),
    output_only=frozenset(
        {"name", "latest_version", "created_by", "create_time", "update_time", "etag"}
    ),
    maps=frozenset({"tags"}),
)


class Groups:
    """Model groups: every change is one transaction with exactly one log entry."""

    def __init__(self, store: Store, changes: Changes, tokens: PageTokens) -> None:
        self.store = store
        self.changes = changes
        self.tokens = tokens

    async def create(
        self, mutation: Mutation, group_id: str, group: pb.ModelGroup
    ) -> pb.ModelGroup:
        """Returns the new group."""
        names.check_group_id(group_id, "model_group_id")
        validation.check_group(group)
        mutation.principal.authorize(Permission.REGISTER, group_id)

        async def apply(unit: UnitOfWork, now: int) -> LogDraft:
            if await unit.groups.get(group_id) is not None:
                raise AlreadyExists(
                    reasons.MODEL_GROUP_ALREADY_EXISTS,
                    f"model group 'groups/{group_id}' already exists",
                    metadata={"resource": names.group_name(group_id)},
                )
            created = pb.ModelGroup(
                name=names.group_name(group_id),
                description=group.description,
                tags=dict(group.tags),
                latest_version=0,
                created_by=mutation.principal.subject,
                create_time=timestamp(now),
                update_time=timestamp(now),
                etag=new_etag(),
            )
            await unit.groups.insert(created)
            return mutation.draft(
                pb.ACTION_MODEL_GROUP_CREATED, created.name, group_id, 0, None, created, now
            )

        return await self.changes.run(mutation, Change(apply, resource(pb.ModelGroup)))

    async def get(self, principal: Principal, name: str) -> pb.ModelGroup:
        group_id = names.parse_group_name(name)
        principal.authorize(Permission.READ, group_id)
        async with self.store.lookup(principal.tenant) as unit:
            return await lookup.group(unit, group_id)

    async def page(
        self, principal: Principal, size: int, token: str, filter_text: str, order_by: str
    ) -> tuple[Encoded[pb.ModelGroup], str]:
        """Returns one page of groups and the token of the next (empty on the last page)."""
        principal.authorize(Permission.READ)
        where = parse_filter(filter_text, GROUPS)
        order = parse_order_by(order_by, GROUPS)
        query = self.tokens.query(principal.tenant, "groups", filter_text, order_by)
        limit = page_size(size, DEFAULT_PAGE)
        after = query.resume_after(token)
        async with self.store.lookup(principal.tenant) as unit:
            page = await unit.groups.page(where, order, limit, after)
        return page.items, query.token(page.resume_after)

    async def update(
        self, mutation: Mutation, patch: pb.ModelGroup, paths: Sequence[str]
    ) -> pb.ModelGroup:
        group_id = names.parse_group_name(patch.name, "model_group.name")
        FIELDS.check(paths)
        validation.check_group(patch)
        mutation.principal.authorize(Permission.REGISTER, group_id)

        async def apply(unit: UnitOfWork, now: int) -> LogDraft:
            before = await lookup.group(unit, group_id)
            check_etag(patch.etag, before.etag, before.name)
            after = pb.ModelGroup()
            after.CopyFrom(before)
            FIELDS.apply(after, patch, paths)
            validation.check_group(after)
            after.update_time.CopyFrom(timestamp(now))
            after.etag = new_etag()
            await unit.groups.update(after)
            return mutation.draft(
                pb.ACTION_MODEL_GROUP_UPDATED, after.name, group_id, 0, before, after, now
            )

        return await self.changes.run(mutation, Change(apply, resource(pb.ModelGroup)))

    async def delete(self, mutation: Mutation, name: str, etag: str, force: bool) -> None:
        group_id = names.parse_group_name(name)
        mutation.principal.authorize(Permission.ADMIN, group_id)

        async def apply(unit: UnitOfWork, now: int) -> LogDraft:
            before = await lookup.group(unit, group_id)
            check_etag(etag, before.etag, before.name)
            count = await unit.versions.count(group_id)
            if count and not force:
                raise FailedPrecondition(
                    reasons.MODEL_GROUP_NOT_EMPTY,
                    f"{quote(before.name)} still has {count} versions; delete them first or pass force",
                    metadata={"resource": before.name, "versions": str(count)},
                )
            if await unit.versions.count(group_id, stage=pb.STAGE_PRODUCTION):
                raise FailedPrecondition(
                    reasons.VERSION_IN_PRODUCTION,
                    f"{quote(before.name)} has a version in production; archive it before deleting the group",
                    metadata={"resource": before.name},
                )
            serving = [
                d.name
                for d in await dependents.group_dependents(unit, group_id)
                if d.stage == pb.STAGE_PRODUCTION
            ]
            if count and serving:
                raise FailedPrecondition(
                    reasons.HAS_DEPENDENTS,
                    f"production versions depend on versions of '{before.name}': "
                    f"{', '.join(serving[:10])}; retire them before deleting the group",
                    metadata={"resource": before.name, "dependents": ",".join(serving)},
                )
            held = await unit.versions.held(group_id)
            if held:
                raise FailedPrecondition(
                    reasons.VERSION_ON_LEGAL_HOLD,
                    f"versions {', '.join(map(str, held))} of '{before.name}' are under legal "
                    "hold; an admin must clear the holds before the group can be deleted",
                    metadata={"resource": before.name},
                )
            # Its webhooks go with it, so that a new group that reuses the id does not
            # inherit them: the deleted ones are related changes of the entry.
            webhooks = await unit.webhooks.bound_to(group_id)
            for webhook in webhooks:
                await unit.webhooks.delete(webhook.name.removeprefix("webhooks/"))
            # Likewise the tokens' roles bound to it (`deployer@fraud`): they granted this
            # group, not whatever group is made with its id later.
            unbound = await unit.tokens.unbind_group(group_id)
            await unit.groups.delete(group_id)
            return mutation.draft(
                pb.ACTION_MODEL_GROUP_DELETED,
                before.name,
                group_id,
                0,
                before,
                None,
                now,
                (
                    *((webhook.name, webhook, None) for webhook in webhooks),
                    *((token.name, token, after) for token, after in unbound),
                ),
            )

        await self.changes.run(mutation, Change(apply, nothing))
