"""Model versions: register (one at a time or in bulk), read, list, update and delete them."""

from __future__ import annotations

from collections.abc import Sequence

from modelyard.v1 import artifact_service_pb2 as arts
from modelyard.v1 import errors_pb2 as reasons
from modelyard.v1 import resources_pb2 as pb

from modelyard_server.domain import contracts, dependents, lookup, names, validation
from modelyard_server.domain.artifacts import attach_files
from modelyard_server.domain.changes import Change, Changes, Mutation, nothing, resource
from modelyard_server.domain.clock import new_etag, timestamp
from modelyard_server.domain.errors import FailedPrecondition, quote
from modelyard_server.domain.fields import FieldRules, check_etag
from modelyard_server.domain.filters import parse_filter, parse_order_by
from modelyard_server.domain.pages import PageTokens, page_size
from modelyard_server.domain.principal import Permission, Principal
from modelyard_server.domain.registration import OUTPUT_ONLY, register
from modelyard_server.domain.repositories import Encoded, Store, UnitOfWork
from modelyard_server.domain.schemas import VERSIONS
from modelyard_server.log.drafts import LogDraft

DEFAULT_PAGE = 50
FIELDS = FieldRules(
    mutable=frozenset({"description", "tags", "model_card"}),
    immutable=frozenset(
        {"artifact", "inference_image", "metrics", "hyperparameters", "lineage", "schema"}
    ),
    output_only=OUTPUT_ONLY,
    maps=frozenset({"tags"}),
    messages=frozenset({"model_card"}),
)


def check_not_held(version: pb.ModelVersion) -> None:
    """Raises VERSION_ON_LEGAL_HOLD if the version is under legal hold."""
    if version.HasField("legal_hold"):
        hold = version.legal_hold
        raise FailedPrecondition(
            reasons.VERSION_ON_LEGAL_HOLD,
            f"'{version.name}' is under legal hold ({hold.reason}, set by {hold.set_by}); "
            "an admin must clear the hold before it can be deleted",
            metadata={"resource": version.name},
        )


class Versions:
    """Model versions: every change is one transaction with exactly one log entry."""

    def __init__(self, store: Store, changes: Changes, tokens: PageTokens) -> None:
        self.store = store
        self.changes = changes
        self.tokens = tokens

    async def create(
        self,
        mutation: Mutation,
        parent: str,
        version: pb.ModelVersion,
        files: Sequence[arts.ArtifactFile] = (),
    ) -> pb.ModelVersion:
        """Returns the registered version, numbered by the server. With `files`, its artifact
        is the one they make up, each a blob the group holds."""
        group_id = names.parse_group_name(parent, "parent")
        validation.check_version(version, files=files)
        mutation.principal.authorize(Permission.REGISTER, group_id)

        async def apply(unit: UnitOfWork, now: int) -> LogDraft:
            sent = version
            if files:
                await lookup.group(unit, group_id)
                sent = pb.ModelVersion()
                sent.CopyFrom(version)
                await attach_files(unit, group_id, sent, files)
            subject = mutation.principal.subject
            [created] = await register(unit, group_id, [sent], subject, now, held=bool(files))
            if files:
                await unit.blobs.attach(group_id, created.version, files)
            return mutation.version_draft(pb.ACTION_MODEL_VERSION_CREATED, None, created, now)

        return await self.changes.run(mutation, Change(apply, resource(pb.ModelVersion)))

    async def get(self, principal: Principal, name: str) -> pb.ModelVersion:
        """Returns a version named by number, `latest`, or an alias (`groups/g/aliases/champion`)."""
        ref = names.parse_readable_version(name)
        principal.authorize(Permission.READ, ref.group)
        async with self.store.lookup(principal.tenant) as unit:
            return await lookup.readable_version(unit, ref)

    async def compare_schemas(
        self, principal: Principal, base: str, candidate: str
    ) -> contracts.Comparison:
        """Returns both versions (aliases resolved) and what differs between their schemas."""
        refs = [
            names.parse_readable_version(base, "base"),
            names.parse_readable_version(candidate, "candidate"),
        ]
        for ref in refs:
            principal.authorize(Permission.READ, ref.group)
        async with self.store.reader(principal.tenant) as unit:
            old, new = [await lookup.readable_version(unit, ref) for ref in refs]
        return contracts.compared(old, new)

    async def page(
        self,
        principal: Principal,
        parent: str,
        size: int,
        token: str,
        filter_text: str,
        order_by: str,
    ) -> tuple[Encoded[pb.ModelVersion], str]:
        """Returns one page of versions and the token of the next (empty on the last page)."""
        group_id = names.parse_group_name(parent, "parent", allow_all=True)
        scope = None if group_id == names.ALL_GROUPS else group_id
        principal.authorize(Permission.READ, scope)
        where = parse_filter(filter_text, VERSIONS)
        order = parse_order_by(order_by, VERSIONS)
        query = self.tokens.query(principal.tenant, "versions", parent, filter_text, order_by)
        limit = page_size(size, DEFAULT_PAGE)
        after = query.resume_after(token)
        async with self.store.lookup(principal.tenant) as unit:
            if scope is not None:
                await lookup.require_group(unit, scope)
            page = await unit.versions.page(scope, where, order, limit, after)
        return page.items, query.token(page.resume_after)

    async def update(
        self, mutation: Mutation, patch: pb.ModelVersion, paths: Sequence[str]
    ) -> pb.ModelVersion:
        ref = names.parse_version_name(patch.name, "model_version.name")
        FIELDS.check(paths)
        validation.check_version_update(patch)
        mutation.principal.authorize(Permission.REGISTER, ref.group)

        async def apply(unit: UnitOfWork, now: int) -> LogDraft:
            before = await lookup.version(unit, ref)
            check_etag(patch.etag, before.etag, before.name)
            after = pb.ModelVersion()
            after.CopyFrom(before)
            FIELDS.apply(after, patch, paths)
            validation.check_version_update(after)
            after.update_time.CopyFrom(timestamp(now))
            after.etag = new_etag()
            await unit.versions.update(ref.group, after)
            return mutation.version_draft(pb.ACTION_MODEL_VERSION_UPDATED, before, after, now)

        return await self.changes.run(mutation, Change(apply, resource(pb.ModelVersion)))

    async def delete(
        self, mutation: Mutation, name: str, etag: str, *, force: bool = False
    ) -> None:
        """Deletes a version unless it is in production, under legal hold, named by an alias,
        or (without `force`) needed by a production version."""
        ref = names.parse_version_name(name)
        validation.check_reason(mutation.reason)
        mutation.principal.authorize(Permission.ADMIN, ref.group)

        async def apply(unit: UnitOfWork, now: int) -> LogDraft:
            before = await lookup.version(unit, ref)
            check_etag(etag, before.etag, before.name)
            if before.aliases:
                raise FailedPrecondition(
                    reasons.VERSION_REFERENCED,
                    f"aliases {', '.join(before.aliases)} point at {quote(before.name)}; move or delete them first",
                    metadata={"resource": before.name, "aliases": ",".join(before.aliases)},
                )
            if before.stage == pb.STAGE_PRODUCTION:
                raise FailedPrecondition(
                    reasons.VERSION_IN_PRODUCTION,
                    f"{quote(before.name)} is in production; roll back or archive it before deleting it",
                    metadata={"resource": before.name},
                )
            check_not_held(before)
            logged = await dependents.guard(unit, before, mutation, force, "delete")
            await unit.versions.delete(ref.group, before.version)
            return logged.version_draft(pb.ACTION_MODEL_VERSION_DELETED, before, None, now)

        await self.changes.run(mutation, Change(apply, nothing))
