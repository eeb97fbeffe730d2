"""What the registry needs from storage. store/ implements it with SQLAlchemy."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from google.protobuf.message import Message
from modelyard.v1 import resources_pb2 as pb
from modelyard.v1 import webhook_service_pb2 as ws

from modelyard_server.domain.filters import Node, Ordering
from modelyard_server.log.chain import LogEntry

T = TypeVar("T")

# The values of the sort key of the last item of a page, for keyset pagination.
Key = tuple[int | float | str | None, ...]


@dataclass(frozen=True)
class LogDraft:
    """The one log entry a change writes, before the store gives it seq, time and hashes."""

    action: str
    resource: str
    group: str
    version: int
    before: Message | None
    after: Message | None
    actor: str
    time_us: int
    reason: str = ""
    request_id: str = ""
    request_digest: str = ""
    # Other resources the change altered: (resource name, before, after).
    related: tuple[tuple[str, Message | None, Message | None], ...] = ()


@dataclass(frozen=True)
class Slice(Generic[T]):
    """A page of items as the store returns it: the items, and the key after which to resume."""

    items: list[T]
    resume_after: Key | None


@dataclass(frozen=True)
class AuditQuery:
    resource: str = ""
    group: str = ""
    actor: str = ""
    actions: tuple[str, ...] = ()
    start_us: int = 0
    end_us: int = 0
    newest_first: bool = False


class Reader(Protocol):
    """Reads within one tenant."""

    async def group(self, group: str) -> pb.ModelGroup | None: ...

    async def version(self, group: str, number: int | None) -> pb.ModelVersion | None:
        """Returns a version; number None means the newest existing one."""
        ...

    async def list_groups(
        self, where: Node | None, order: Ordering, limit: int, after: Key | None
    ) -> Slice[pb.ModelGroup]: ...

    async def list_versions(
        self, group: str | None, where: Node | None, order: Ordering, limit: int, after: Key | None
    ) -> Slice[pb.ModelVersion]: ...

    async def list_log(
        self, query: AuditQuery, limit: int, after_seq: int | None
    ) -> list[LogEntry]: ...

    async def log_range(self, after_seq: int, limit: int) -> list[LogEntry]:
        """Returns up to `limit` entries with seq > after_seq, in seq order."""
        ...

    async def chain_head(self) -> tuple[int, str]: ...

    async def policy(self, group: str) -> pb.ApprovalPolicy | None:
        """Returns the group's stored policy; None until it is first updated."""
        ...

    async def versions_in_stage(self, group: str, stage: int) -> list[pb.ModelVersion]: ...

    async def former_production(self, group: str, limit: int) -> list[pb.ModelVersion]:
        """Returns versions that have left production, the most recent to leave first."""
        ...

    async def alias(self, group: str, alias: str) -> pb.Alias | None: ...

    async def version_by_alias(self, group: str, alias: str) -> pb.ModelVersion | None:
        """Returns the version the alias points at, or None if there is no such alias."""
        ...

    async def list_aliases(self, group: str, limit: int, after: str | None) -> list[pb.Alias]: ...

    async def webhook(self, webhook_id: str) -> ws.Webhook | None:
        """Returns a webhook (without its secret), or None."""
        ...

    async def list_webhooks(
        self, group: str | None, limit: int, after: Key | None
    ) -> Slice[ws.Webhook]:
        """Returns webhooks oldest first: a group's, or every one of the tenant (None)."""
        ...


class Writer(Reader, Protocol):
    """One unit of work: a transaction that holds the tenant's log lock until it commits."""

    async def replay(self, request_id: str) -> LogEntry | None:
        """Returns the entry an earlier request with this id wrote, if any."""
        ...

    async def insert_group(self, group: pb.ModelGroup) -> None: ...

    async def update_group(self, group: pb.ModelGroup) -> None: ...

    async def delete_group(self, group: str) -> None:
        """Deletes the group and every version in it."""
        ...

    async def count_versions(self, group: str, *, stage: int | None = None) -> int: ...

    async def missing_versions(self, names: Sequence[str]) -> list[str]:
        """Returns those of the version names that do not exist."""
        ...

    async def existing_artifacts(self, group: str, sha256s: Sequence[str]) -> dict[str, int]:
        """Returns which of the digests are registered in the group, and as which version."""
        ...

    async def insert_versions(self, group: str, versions: Sequence[pb.ModelVersion]) -> None: ...

    async def update_version(self, group: str, version: pb.ModelVersion) -> None: ...

    async def delete_version(self, group: str, number: int) -> None: ...

    async def save_policy(self, group: str, policy: pb.ApprovalPolicy) -> None: ...

    async def save_alias(self, group: str, alias: pb.Alias, number: int) -> None:
        """Creates or moves an alias (number is the version it points at)."""
        ...

    async def delete_alias(self, group: str, alias: str) -> None: ...

    async def insert_webhook(self, webhook: ws.Webhook, secret: str, actions: list[str]) -> None:
        """Stores a new webhook; `actions` are log action names ([]: all)."""
        ...

    async def update_webhook(
        self, webhook: ws.Webhook, secret: str | None, actions: list[str] | None
    ) -> None:
        """Stores a webhook's new state (its cursor stays); a new secret and new action
        names ([]: all) unless None."""
        ...

    async def delete_webhook(self, webhook_id: str) -> None:
        """Deletes a webhook and its delivery records."""
        ...

    async def append(self, draft: LogDraft) -> LogEntry:
        """Appends the change's log entry; the transaction commits when the block exits."""
        ...

    async def append_many(self, drafts: Sequence[LogDraft]) -> list[LogEntry]:
        """Appends the entries of several changes, in order (a bulk import's batch)."""
        ...


class Store(Protocol):
    def reader(self, tenant: str) -> AbstractAsyncContextManager[Reader]: ...

    def writer(self, tenant: str) -> AbstractAsyncContextManager[Writer]: ...
