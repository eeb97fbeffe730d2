"""Bulk import: many versions registered in large batches, each with its own log entry."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence

from modelyard.v1 import resources_pb2 as pb

from modelyard_server.domain import names, validation
from modelyard_server.domain.changes import Mutation
from modelyard_server.domain.clock import new_etag, timestamp
from modelyard_server.domain.principal import Permission, Principal
from modelyard_server.domain.registration import register
from modelyard_server.domain.repositories import Store


class Import:
    """`modelyard-server import`: the documented way to load a registry from elsewhere."""

    def __init__(self, store: Store, clock: Callable[[], int]) -> None:
        self.store = store
        self.clock = clock

    async def run(
        self,
        principal: Principal,
        group_id: str,
        versions: Iterable[pb.ModelVersion],
        batch_size: int = 1000,
    ) -> int:
        """Returns how many versions were registered from `versions`, in order, in batches.

        Each version is registered as by `create`, with its own log entry; a batch of them
        commits atomically, so an import that fails keeps every batch before the bad one.
        The group is created if it does not exist.
        """
        names.check_group_id(group_id, "group")
        principal.authorize(Permission.REGISTER, group_id)
        count = 0
        source = iter(versions)
        while batch := tuple(itertools.islice(source, batch_size)):
            for i, version in enumerate(batch):
                validation.check_version(version, prefix=f"versions[{count + i}]")
            await self._import_batch(principal, group_id, batch, create_group=count == 0)
            count += len(batch)
        return count

    async def _import_batch(
        self,
        principal: Principal,
        group_id: str,
        batch: Sequence[pb.ModelVersion],
        create_group: bool,
    ) -> None:
        mutation = Mutation(principal)
        async with self.store.writer(principal.tenant) as unit:
            now = self.clock()
            drafts = []
            if create_group and await unit.groups.get(group_id) is None:
                group = pb.ModelGroup(
                    name=names.group_name(group_id),
                    created_by=principal.subject,
                    create_time=timestamp(now),
                    update_time=timestamp(now),
                    etag=new_etag(),
                )
                await unit.groups.insert(group)
                drafts.append(
                    mutation.draft(
                        pb.ACTION_MODEL_GROUP_CREATED, group.name, group_id, 0, None, group, now
                    )
                )
            created = await register(unit, group_id, batch, principal.subject, now)
            drafts.extend(
                mutation.version_draft(pb.ACTION_MODEL_VERSION_CREATED, None, v, now)
                for v in created
            )
            await unit.log.append(drafts)
