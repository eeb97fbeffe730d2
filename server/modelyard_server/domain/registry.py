"""The registry's use cases for groups and versions: authorize, check, change, log."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from google.protobuf.message import Message
from modelyard.v1 import resources_pb2 as pb

from modelyard_server.domain import names, validation
from modelyard_server.domain.changes import Change, Mutation, must, write
from modelyard_server.domain.clock import new_etag, now_us, timestamp
from modelyard_server.domain.errors import (
    Aborted,
    AlreadyExists,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    invalid_fields,
)
from modelyard_server.domain.filters import parse_filter, parse_order_by
from modelyard_server.domain.pages import decode_token, encode_token, fingerprint, page_size
from modelyard_server.domain.principal import Permission, Principal
from modelyard_server.domain.schemas import GROUPS, VERSIONS
from modelyard_server.domain.store import LogDraft, Store, Writer

M = TypeVar("M", bound=Message)
DEFAULT_PAGE = 50

GROUP_MUTABLE = {"description", "tags"}
VERSION_MUTABLE = {"description", "tags", "model_card"}
VERSION_IMMUTABLE = {
    "artifact",
    "inference_image",
    "metrics",
    "hyperparameters",
    "lineage",
    "schema",
}
VERSION_OUTPUT_ONLY = {
    "approvers",
    "last_decision",
    "stage_time",
    "production_end_time",
    "name",
    "version",
    "approval_status",
    "stage",
    "aliases",
    "created_by",
    "create_time",
    "update_time",
    "etag",
}


def group_not_found(group: str) -> NotFound:
    return NotFound(
        "MODEL_GROUP_NOT_FOUND",
        f"model group 'groups/{group}' does not exist",
        metadata={"resource": names.group_name(group)},
    )


def version_not_found(ref: names.VersionRef) -> NotFound:
    return NotFound(
        "MODEL_VERSION_NOT_FOUND",
        f"model version '{ref.name}' does not exist",
        metadata={"resource": ref.name},
    )


def alias_not_found(ref: names.AliasRef) -> NotFound:
    return NotFound(
        "ALIAS_NOT_FOUND", f"alias '{ref.name}' does not exist", metadata={"resource": ref.name}
    )


def duplicate_artifact(group: str, sha256: str, existing: int) -> AlreadyExists:
    existing_name = names.version_name(group, existing)
    return AlreadyExists(
        "DUPLICATE_ARTIFACT",
        f"an artifact with sha256 {sha256} is already registered as "
        f"'{existing_name}'; use that version instead of registering it again",
        metadata={"existing_version": existing_name},
    )


def references_missing(missing: Sequence[str]) -> FailedPrecondition:
    return FailedPrecondition(
        "REFERENCED_VERSION_NOT_FOUND",
        f"the lineage names versions that do not exist: {', '.join(missing)}",
        metadata={"missing": ",".join(missing)},
    )


def registered(
    version: pb.ModelVersion, group: str, number: int, subject: str, now: int
) -> pb.ModelVersion:
    """Returns the version as the registry records it: numbered, pending, in stage NONE."""
    created = pb.ModelVersion()
    created.CopyFrom(version)
    for field in VERSION_OUTPUT_ONLY:
        created.ClearField(field)  # type: ignore[arg-type]
    if created.artifact.format == pb.ARTIFACT_FORMAT_UNSPECIFIED:
        created.artifact.format = pb.ARTIFACT_FORMAT_OTHER
    created.name = names.version_name(group, number)
    created.version = number
    created.approval_status = pb.APPROVAL_STATUS_PENDING_MANUAL_APPROVAL
    created.stage = pb.STAGE_NONE
    created.created_by = subject
    created.create_time.CopyFrom(timestamp(now))
    created.update_time.CopyFrom(timestamp(now))
    created.stage_time.CopyFrom(timestamp(now))
    created.etag = new_etag()
    return created


def check_etag(sent: str, current: str, name: str) -> None:
    if sent and sent != current:
        raise Aborted(
            "STALE_ETAG",
            f"'{name}' changed since you read it (etag {sent}, now {current}); read it again and retry",
            metadata={"resource": name, "current_etag": current},
        )


def mask_paths(
    paths: Sequence[str],
    mutable: set[str],
    immutable: set[str],
    output_only: set[str],
    map_fields: set[str],
    message_fields: set[str],
) -> list[str]:
    """Returns the update mask's paths if each names a field that may change."""
    if not paths:
        raise InvalidArgument(
            "INVALID_FIELD",
            "update_mask is required: name the fields to change, e.g. 'description'",
            violations=[FieldViolation("update_mask", "is empty")],
        )
    for path in paths:
        head, dot, rest = path.partition(".")
        if head in output_only:
            raise InvalidArgument(
                "IMMUTABLE_FIELD", f"'{path}' is output only and cannot be updated"
            )
        if head in immutable:
            raise InvalidArgument(
                "IMMUTABLE_FIELD",
                f"'{path}' describes how the model was made and is immutable; register a new version instead",
            )
        if (
            head not in mutable
            or (dot and head not in map_fields | message_fields)
            or (dot and not rest)
        ):
            allowed = ", ".join(sorted(mutable))
            raise invalid_fields(
                [
                    FieldViolation(
                        "update_mask", f"'{path}' is not a field that can be updated ({allowed})"
                    )
                ]
            )
    return list(paths)


def apply_mask(target: Message, patch: Message, paths: Sequence[str], map_fields: set[str]) -> None:
    """Copies the masked fields of `patch` onto `target`; `tags.k` sets or removes one key."""
    for path in paths:
        head, _, rest = path.partition(".")
        if head in map_fields and rest:
            source, dest = getattr(patch, head), getattr(target, head)
            if rest in source:
                dest[rest] = source[rest]
            elif rest in dest:
                del dest[rest]
        elif rest:
            sub_target, sub_patch = getattr(target, head), getattr(patch, head)
            descriptor = sub_target.DESCRIPTOR.fields_by_name.get(rest)
            if descriptor is None:
                raise invalid_fields(
                    [FieldViolation("update_mask", f"'{path}' names no field of {head}")]
                )
            sub_target.ClearField(rest)
            if descriptor.is_repeated:
                getattr(sub_target, rest).extend(getattr(sub_patch, rest))
            elif descriptor.message_type is not None:
                if sub_patch.HasField(rest):
                    getattr(sub_target, rest).CopyFrom(getattr(sub_patch, rest))
            else:
                setattr(sub_target, rest, getattr(sub_patch, rest))
        else:
            target.ClearField(head)
            value = getattr(patch, head)
            if head in map_fields:
                getattr(target, head).update(value)
            elif target.DESCRIPTOR.fields_by_name[head].is_repeated:
                getattr(target, head).extend(value)
            elif isinstance(value, Message):
                if patch.HasField(head):
                    getattr(target, head).CopyFrom(value)
            else:
                setattr(target, head, value)


class Registry:
    """Groups and versions: every change is one transaction with exactly one log entry."""

    def __init__(self, store: Store, clock: Callable[[], int] = now_us) -> None:
        self.store = store
        self.clock = clock

    async def write(
        self, mutation: Mutation, result_type: type[M] | None, change: Change[M]
    ) -> M | None:
        return await write(self.store, self.clock, mutation, result_type, change)

    # Groups

    async def create_group(
        self, mutation: Mutation, group_id: str, group: pb.ModelGroup
    ) -> pb.ModelGroup:
        """Returns the new group."""
        names.check_group_id(group_id, "model_group_id")
        validation.check_group(group)
        mutation.principal.authorize(Permission.REGISTER, group_id)

        async def change(writer: Writer, now: int) -> tuple[LogDraft, pb.ModelGroup]:
            if await writer.group(group_id) is not None:
                raise AlreadyExists(
                    "MODEL_GROUP_ALREADY_EXISTS",
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
            await writer.insert_group(created)
            return mutation.draft(
                "MODEL_GROUP_CREATED", created.name, group_id, 0, None, created, now
            ), created

        return await must(self.write(mutation, pb.ModelGroup, change))

    async def get_group(self, principal: Principal, name: str) -> pb.ModelGroup:
        group_id = names.parse_group_name(name)
        principal.authorize(Permission.READ, group_id)
        async with self.store.reader(principal.tenant) as reader:
            group = await reader.group(group_id)
        if group is None:
            raise group_not_found(group_id)
        return group

    async def list_groups(
        self, principal: Principal, size: int, token: str, filter_text: str, order_by: str
    ) -> tuple[list[pb.ModelGroup], str]:
        """Returns one page of groups and the token of the next (empty on the last page)."""
        principal.authorize(Permission.READ)
        where = parse_filter(filter_text, GROUPS)
        order = parse_order_by(order_by, GROUPS)
        query = fingerprint("groups", filter_text, order_by)
        limit = page_size(size, DEFAULT_PAGE)
        after = decode_token(token, query)
        async with self.store.reader(principal.tenant) as reader:
            page = await reader.list_groups(where, order, limit, after)
        return page.items, encode_token(page.resume_after, query)

    async def update_group(
        self, mutation: Mutation, patch: pb.ModelGroup, paths: Sequence[str]
    ) -> pb.ModelGroup:
        group_id = names.parse_group_name(patch.name, "model_group.name")
        mask_paths(
            paths,
            GROUP_MUTABLE,
            set(),
            {"name", "latest_version", "created_by", "create_time", "update_time", "etag"},
            {"tags"},
            set(),
        )
        validation.check_group(patch)
        mutation.principal.authorize(Permission.REGISTER, group_id)

        async def change(writer: Writer, now: int) -> tuple[LogDraft, pb.ModelGroup]:
            before = await writer.group(group_id)
            if before is None:
                raise group_not_found(group_id)
            check_etag(patch.etag, before.etag, before.name)
            after = pb.ModelGroup()
            after.CopyFrom(before)
            apply_mask(after, patch, paths, {"tags"})
            validation.check_group(after)
            after.update_time.CopyFrom(timestamp(now))
            after.etag = new_etag()
            await writer.update_group(after)
            return mutation.draft(
                "MODEL_GROUP_UPDATED", after.name, group_id, 0, before, after, now
            ), after

        return await must(self.write(mutation, pb.ModelGroup, change))

    async def delete_group(self, mutation: Mutation, name: str, etag: str, force: bool) -> None:
        group_id = names.parse_group_name(name)
        mutation.principal.authorize(Permission.ADMIN, group_id)

        async def change(writer: Writer, now: int) -> tuple[LogDraft, None]:
            before = await writer.group(group_id)
            if before is None:
                raise group_not_found(group_id)
            check_etag(etag, before.etag, before.name)
            count = await writer.count_versions(group_id)
            if count and not force:
                raise FailedPrecondition(
                    "MODEL_GROUP_NOT_EMPTY",
                    f"'{before.name}' still has {count} versions; delete them first or pass force",
                    metadata={"resource": before.name, "versions": str(count)},
                )
            in_production = await writer.count_versions(group_id, stage=pb.STAGE_PRODUCTION)
            if in_production:
                raise FailedPrecondition(
                    "VERSION_IN_PRODUCTION",
                    f"'{before.name}' has a version in production; archive it before deleting the group",
                    metadata={"resource": before.name},
                )
            await writer.delete_group(group_id)
            return mutation.draft(
                "MODEL_GROUP_DELETED", before.name, group_id, 0, before, None, now
            ), None

        await self.write(mutation, None, change)

    # Versions

    async def create_version(
        self, mutation: Mutation, parent: str, version: pb.ModelVersion
    ) -> pb.ModelVersion:
        """Returns the registered version, numbered by the server."""
        group_id = names.parse_group_name(parent, "parent")
        validation.check_version(version)
        mutation.principal.authorize(Permission.REGISTER, group_id)

        async def change(writer: Writer, now: int) -> tuple[LogDraft, pb.ModelVersion]:
            group = await writer.group(group_id)
            if group is None:
                raise group_not_found(group_id)
            sha = version.artifact.sha256
            existing = await writer.existing_artifacts(group_id, [sha])
            if sha in existing:
                raise duplicate_artifact(group_id, sha, existing[sha])
            references = [*version.lineage.parent_versions, *version.lineage.depends_on]
            missing = await writer.missing_versions(references) if references else []
            if missing:
                raise references_missing(missing)
            created = registered(
                version, group_id, group.latest_version + 1, mutation.principal.subject, now
            )
            group.latest_version = created.version
            await writer.update_group(group)
            await writer.insert_versions(group_id, [created])
            draft = mutation.draft(
                "MODEL_VERSION_CREATED", created.name, group_id, created.version, None, created, now
            )
            return draft, created

        return await must(self.write(mutation, pb.ModelVersion, change))

    async def import_versions(
        self,
        principal: Principal,
        group_id: str,
        versions: Iterable[pb.ModelVersion],
        batch_size: int = 1000,
    ) -> int:
        """Returns how many versions were registered from `versions`, in order, in batches.

        Each version is registered as by create_version, with its own log entry; a batch of
        them commits atomically, so an import that fails keeps every batch before the bad one.
        The group is created if it does not exist.
        """
        names.check_group_id(group_id, "group")
        principal.authorize(Permission.REGISTER, group_id)
        async with self.store.reader(principal.tenant) as reader:
            exists = await reader.group(group_id) is not None
        if not exists:
            await self.create_group(Mutation(principal), group_id, pb.ModelGroup())
        count = 0
        source = iter(versions)
        while batch := tuple(itertools.islice(source, batch_size)):
            for i, version in enumerate(batch):
                validation.check_version(version, prefix=f"versions[{count + i}]")
            await self._import_batch(principal, group_id, batch)
            count += len(batch)
        return count

    async def _import_batch(
        self, principal: Principal, group_id: str, batch: Sequence[pb.ModelVersion]
    ) -> None:
        async with self.store.writer(principal.tenant) as writer:
            now = self.clock()
            group = await writer.group(group_id)
            if group is None:
                raise group_not_found(group_id)
            shas = [v.artifact.sha256 for v in batch]
            existing = await writer.existing_artifacts(group_id, shas)
            seen: dict[str, int] = {}
            created: list[pb.ModelVersion] = []
            for version in batch:
                sha = version.artifact.sha256
                if sha in existing or sha in seen:
                    raise duplicate_artifact(group_id, sha, existing.get(sha) or seen[sha])
                number = group.latest_version + len(created) + 1
                seen[sha] = number
                created.append(registered(version, group_id, number, principal.subject, now))
            new_names = {v.name for v in created}
            references = {
                r for v in batch for r in (*v.lineage.parent_versions, *v.lineage.depends_on)
            }
            missing = (
                await writer.missing_versions(sorted(references - new_names)) if references else []
            )
            if missing:
                raise references_missing(missing)
            group.latest_version = created[-1].version
            await writer.update_group(group)
            await writer.insert_versions(group_id, created)
            mutation = Mutation(principal)
            await writer.append_many(
                [
                    mutation.draft(
                        "MODEL_VERSION_CREATED", v.name, group_id, v.version, None, v, now
                    )
                    for v in created
                ]
            )

    async def get_version(self, principal: Principal, name: str) -> pb.ModelVersion:
        """Returns a version named by number, `latest`, or an alias (`groups/g/aliases/champion`)."""
        if names.is_alias_name(name):
            return await self._version_by_alias(principal, names.parse_alias_name(name))
        ref = names.parse_version_name(name, allow_latest=True)
        principal.authorize(Permission.READ, ref.group)
        async with self.store.reader(principal.tenant) as reader:
            version = await reader.version(ref.group, ref.number)
            if version is None and await reader.group(ref.group) is None:
                raise group_not_found(ref.group)
        if version is None:
            raise version_not_found(ref)
        return version

    async def _version_by_alias(self, principal: Principal, ref: names.AliasRef) -> pb.ModelVersion:
        principal.authorize(Permission.READ, ref.group)
        async with self.store.reader(principal.tenant) as reader:
            version = await reader.version_by_alias(ref.group, ref.alias)
            if version is None and await reader.group(ref.group) is None:
                raise group_not_found(ref.group)
        if version is None:
            raise alias_not_found(ref)
        return version

    async def list_versions(
        self,
        principal: Principal,
        parent: str,
        size: int,
        token: str,
        filter_text: str,
        order_by: str,
    ) -> tuple[list[pb.ModelVersion], str]:
        """Returns one page of versions and the token of the next (empty on the last page)."""
        group_id = names.parse_group_name(parent, "parent", allow_all=True)
        scope = None if group_id == names.ALL_GROUPS else group_id
        principal.authorize(Permission.READ, scope)
        where = parse_filter(filter_text, VERSIONS)
        order = parse_order_by(order_by, VERSIONS)
        query = fingerprint("versions", parent, filter_text, order_by)
        limit = page_size(size, DEFAULT_PAGE)
        after = decode_token(token, query)
        async with self.store.reader(principal.tenant) as reader:
            if scope is not None and await reader.group(scope) is None:
                raise group_not_found(scope)
            page = await reader.list_versions(scope, where, order, limit, after)
        return page.items, encode_token(page.resume_after, query)

    async def update_version(
        self, mutation: Mutation, patch: pb.ModelVersion, paths: Sequence[str]
    ) -> pb.ModelVersion:
        ref = names.parse_version_name(patch.name, "model_version.name")
        mask_paths(
            paths, VERSION_MUTABLE, VERSION_IMMUTABLE, VERSION_OUTPUT_ONLY, {"tags"}, {"model_card"}
        )
        validation.check_version_update(patch)
        mutation.principal.authorize(Permission.REGISTER, ref.group)

        async def change(writer: Writer, now: int) -> tuple[LogDraft, pb.ModelVersion]:
            before = await self._version(writer, ref)
            check_etag(patch.etag, before.etag, before.name)
            after = pb.ModelVersion()
            after.CopyFrom(before)
            apply_mask(after, patch, paths, {"tags"})
            validation.check_version_update(after)
            after.update_time.CopyFrom(timestamp(now))
            after.etag = new_etag()
            await writer.update_version(ref.group, after)
            return mutation.draft(
                "MODEL_VERSION_UPDATED", after.name, ref.group, after.version, before, after, now
            ), after

        return await must(self.write(mutation, pb.ModelVersion, change))

    async def delete_version(self, mutation: Mutation, name: str, etag: str) -> None:
        ref = names.parse_version_name(name)
        mutation.principal.authorize(Permission.ADMIN, ref.group)

        async def change(writer: Writer, now: int) -> tuple[LogDraft, None]:
            before = await self._version(writer, ref)
            check_etag(etag, before.etag, before.name)
            if before.aliases:
                raise FailedPrecondition(
                    "VERSION_REFERENCED",
                    f"aliases {', '.join(before.aliases)} point at '{before.name}'; move or delete them first",
                    metadata={"resource": before.name, "aliases": ",".join(before.aliases)},
                )
            if before.stage == pb.STAGE_PRODUCTION:
                raise FailedPrecondition(
                    "VERSION_IN_PRODUCTION",
                    f"'{before.name}' is in production; roll back or archive it before deleting it",
                    metadata={"resource": before.name},
                )
            await writer.delete_version(ref.group, before.version)
            return mutation.draft(
                "MODEL_VERSION_DELETED", before.name, ref.group, before.version, before, None, now
            ), None

        await self.write(mutation, None, change)

    @staticmethod
    async def _version(writer: Writer, ref: names.VersionRef) -> pb.ModelVersion:
        version = await writer.version(ref.group, ref.number)
        if version is None:
            if await writer.group(ref.group) is None:
                raise group_not_found(ref.group)
            raise version_not_found(ref)
        return version
