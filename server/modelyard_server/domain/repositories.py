"""What the use cases need from storage: one repository per resource, behind a unit of work.

store/ implements these with SQLAlchemy Core; nothing here knows SQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from functools import cached_property
from typing import Generic, Protocol, TypeVar, overload

from modelyard.v1 import artifact_service_pb2 as arts
from modelyard.v1 import resources_pb2 as pb
from modelyard.v1 import retention_service_pb2 as rets
from modelyard.v1 import token_service_pb2 as ts
from modelyard.v1 import webhook_service_pb2 as ws

from modelyard_server.domain.filters import Node, Ordering
from modelyard_server.domain.manifests import Digest
from modelyard_server.log.chain import LogEntry
from modelyard_server.log.drafts import LogDraft
from modelyard_server.log.replay import StateRow

T = TypeVar("T")

# A version as (group id, number).
VersionKey = tuple[str, int]


@dataclass(frozen=True)
class DependencyEdge:
    """One `lineage.depends_on` entry: `dependent` (in `stage`) names `target`."""

    dependent: VersionKey
    stage: int
    target: VersionKey


# The values of the sort key of the last item of a page, for keyset pagination.
Key = tuple[int | float | str | None, ...]


@dataclass(frozen=True)
class Slice(Generic[T]):
    """A page of items as the store returns it: the items, and the key after which to resume."""

    items: list[T]
    resume_after: Key | None


class Encoded(Sequence[T]):
    """Messages in their wire encoding, as the store keeps them: each is parsed when first read,
    and the API sends the bytes as they are. A page of 100 versions cost more to parse, copy
    into the response and encode again (0.28 ms) than to send as stored (0.04 ms)."""

    def __init__(self, parse: Callable[[bytes], T], data: list[bytes]) -> None:
        self.parse = parse
        self.data = data

    @cached_property
    def parsed(self) -> list[T]:
        return [self.parse(item) for item in self.data]

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> list[T]: ...

    def __getitem__(self, index: int | slice) -> T | list[T]:
        return self.parsed[index]

    def __iter__(self) -> Iterator[T]:
        return iter(self.parsed)

    def __len__(self) -> int:
        return len(self.data)


@dataclass(frozen=True)
class EncodedSlice(Generic[T]):
    """A page of stored messages, still encoded, and the key after which to resume."""

    items: Encoded[T]
    resume_after: Key | None


@dataclass(frozen=True)
class AuditQuery:
    """Which log entries a listing wants; empty fields do not restrict."""

    resource: str = ""
    group: str = ""
    actor: str = ""
    actions: tuple[str, ...] = ()  # log action names, e.g. "STAGE_CHANGED"
    start_us: int = 0
    end_us: int = 0
    newest_first: bool = False


class GroupRepository(Protocol):
    async def get(self, group: str) -> pb.ModelGroup | None: ...

    async def page(
        self, where: Node | None, order: Ordering, limit: int, after: Key | None
    ) -> EncodedSlice[pb.ModelGroup]: ...

    async def insert(self, group: pb.ModelGroup) -> None: ...

    async def update(self, group: pb.ModelGroup) -> None: ...

    async def delete(self, group: str) -> None:
        """Deletes the group with its versions and aliases."""
        ...


class VersionRepository(Protocol):
    async def get(self, group: str, number: int | None) -> pb.ModelVersion | None:
        """Returns a version; number None means the newest existing one."""
        ...

    async def by_alias(self, group: str, alias: str) -> pb.ModelVersion | None:
        """Returns the version the alias points at, or None if there is no such alias."""
        ...

    async def page(
        self, group: str | None, where: Node | None, order: Ordering, limit: int, after: Key | None
    ) -> EncodedSlice[pb.ModelVersion]: ...

    async def in_stage(self, group: str, stage: int) -> list[pb.ModelVersion]: ...

    async def former_production(self, group: str, limit: int) -> list[pb.ModelVersion]:
        """Returns versions that have left production, the most recent to leave first."""
        ...

    async def count(self, group: str, *, stage: int | None = None) -> int: ...

    async def count_upto(self, group: str, stage: int, limit: int) -> int:
        """Returns how many versions are in the stage, counting no further than `limit`."""
        ...

    async def missing(self, names: Sequence[str]) -> list[str]:
        """Returns those of the version names that do not exist."""
        ...

    async def with_artifacts(self, group: str, sha256s: Sequence[str]) -> dict[str, int]:
        """Returns which of the digests are registered in the group, and as which version."""
        ...

    async def insert(self, group: str, versions: Sequence[pb.ModelVersion]) -> None: ...

    async def update(self, group: str, version: pb.ModelVersion) -> None: ...

    async def newest_numbers(self, group: str, limit: int) -> list[int]:
        """Returns the numbers of the group's newest `limit` versions."""
        ...

    async def held(self, group: str) -> list[int]:
        """Returns the numbers of the group's versions under legal hold."""
        ...

    async def delete(self, group: str, number: int) -> None: ...


class DependencyRepository(Protocol):
    """The dependents index; versions.insert keeps it, deleting a version drops its edges."""

    async def dependents_of(self, targets: Sequence[VersionKey]) -> list[DependencyEdge]:
        """Returns the edges of the versions that name one of the targets."""
        ...

    async def dependencies_of(self, versions: Sequence[VersionKey]) -> list[DependencyEdge]:
        """Returns the edges from the versions to those they name."""
        ...

    async def of_group(self, group: str) -> list[DependencyEdge]:
        """Returns the edges to any version of the group."""
        ...

    async def of_stage(self, stage: int) -> list[DependencyEdge]:
        """Returns the edges from every version of the tenant in `stage`."""
        ...


class RetentionPolicyRepository(Protocol):
    async def get(self, group: str | None) -> rets.RetentionPolicy | None:
        """Returns a group's stored policy (None: the tenant's default), or None if unset."""
        ...

    async def save(self, group: str | None, policy: rets.RetentionPolicy) -> None: ...


class AliasRepository(Protocol):
    async def get(self, group: str, alias: str) -> pb.Alias | None: ...

    async def page(self, group: str, limit: int, after: str | None) -> list[pb.Alias]: ...

    async def save(self, group: str, alias: pb.Alias, number: int) -> None:
        """Creates or moves an alias (number is the version it points at)."""
        ...

    async def delete(self, group: str, alias: str) -> None: ...


class PolicyRepository(Protocol):
    async def get(self, group: str) -> pb.ApprovalPolicy | None:
        """Returns the group's stored policy; None until it is first updated."""
        ...

    async def save(self, group: str, policy: pb.ApprovalPolicy) -> None: ...


class WebhookRepository(Protocol):
    async def get(self, webhook_id: str) -> ws.Webhook | None:
        """Returns a webhook (without its secret), or None."""
        ...

    async def page(self, group: str | None, limit: int, after: Key | None) -> Slice[ws.Webhook]:
        """Returns webhooks oldest first: a group's, or every one of the tenant (None)."""
        ...

    async def insert(self, webhook: ws.Webhook, secret: str, actions: list[str]) -> None:
        """Stores a new webhook; `actions` are log action names ([]: all)."""
        ...

    async def update(
        self, webhook: ws.Webhook, secret: str | None, actions: list[str] | None
    ) -> None:
        """Stores a webhook's new state (its cursor stays); a new secret and new action
        names ([]: all) unless None."""
        ...

    async def delete(self, webhook_id: str) -> None:
        """Deletes a webhook and its delivery records."""
        ...

    async def bound_to(self, group: str) -> list[ws.Webhook]:
        """Returns every webhook bound to the group, oldest first."""
        ...


class TokenRepository(Protocol):
    """The tenant's bearer tokens; a secret's digest goes in, and nothing gives it back."""

    async def get(self, token_id: str) -> ts.Token | None: ...

    async def page(self, limit: int, after: Key | None) -> Slice[ts.Token]:
        """Returns tokens oldest first."""
        ...

    async def insert(self, token: ts.Token, digest: str) -> None: ...

    async def revoke(self, token_id: str, now: int, by: str) -> None: ...

    async def unbind_group(self, group: str) -> list[tuple[ts.Token, ts.Token]]:
        """Removes the tokens' `role@group` bindings; returns each changed token before and
        after."""
        ...


class LogRepository(Protocol):
    async def head(self) -> tuple[int, str]:
        """Returns the seq and hash of the newest entry (0 and the genesis hash at first)."""
        ...

    async def page(
        self, query: AuditQuery, limit: int, after_seq: int | None
    ) -> list[LogEntry]: ...

    async def range(self, after_seq: int, limit: int) -> list[LogEntry]:
        """Returns up to `limit` entries with seq > after_seq, in seq order."""
        ...

    async def count_through(self, seq: int) -> int:
        """Returns how many entries have seq <= `seq` (an index-only count)."""
        ...

    async def replay(self, request_id: str) -> LogEntry | None:
        """Returns the entry an earlier request with this id wrote, if any."""
        ...

    async def append(self, drafts: Sequence[LogDraft]) -> list[LogEntry]:
        """Appends the entries of the drafts, in order; they commit with the unit of work."""
        ...


class BlobRepository(Protocol):
    """Which blobs each group holds (uploaded to it), and the files of held artifacts."""

    async def held(self, group: str, digests: Sequence[Digest]) -> set[Digest]:
        """Returns those of the digests that the group holds."""
        ...

    async def hold(self, group: str, digest: Digest, now: int) -> None:
        """Records that the group holds the blob (nothing if it did)."""
        ...

    async def attach(self, group: str, number: int, files: Sequence[arts.ArtifactFile]) -> None:
        """Records the files of a version's held artifact."""
        ...

    async def files(self, group: str, number: int) -> list[arts.ArtifactFile]:
        """Returns the files of a version's held artifact, by path."""
        ...

    async def lock_store(self) -> None:
        """Takes the store-wide blob lock for the rest of the transaction (see BlobIndex)."""
        ...

    async def expire(self, cutoff: int) -> int:
        """Forgets the blobs the tenant's groups hold since before `cutoff` (microseconds)
        that none of their versions names; returns how many."""
        ...


class BlobIndex(Protocol):
    """Blob references across tenants, read under the store-wide blob lock, which
    publishing a blob also takes: collecting and publishing never interleave."""

    async def referenced(self, sha256s: Sequence[str]) -> set[str]:
        """Returns those of the blobs that a group holds or a version names, in any tenant."""
        ...

    async def tenants(self) -> list[str]: ...


class UnitOfWork(Protocol):
    """The repositories of one tenant on one transaction. A writing unit holds the tenant's
    log lock until it commits, so its entries are appended in commit order."""

    @property
    def groups(self) -> GroupRepository: ...

    @property
    def versions(self) -> VersionRepository: ...

    @property
    def aliases(self) -> AliasRepository: ...

    @property
    def policies(self) -> PolicyRepository: ...

    @property
    def webhooks(self) -> WebhookRepository: ...

    @property
    def blobs(self) -> BlobRepository: ...

    @property
    def tokens(self) -> TokenRepository: ...

    @property
    def log(self) -> LogRepository: ...

    @property
    def dependencies(self) -> DependencyRepository: ...

    @property
    def retention(self) -> RetentionPolicyRepository: ...


class StateRepository(Protocol):
    """The stored groups, policies, versions and aliases, as the audit compares them."""

    @property
    def kinds(self) -> tuple[str, ...]:
        """The kinds of rows, in the order to read them."""
        ...

    async def rows(self, kind: str, after_id: int, limit: int) -> list[StateRow]:
        """Returns up to `limit` rows of one kind with keys above `after_id`, in key order."""
        ...


class AuditSnapshot(Protocol):
    """A tenant's log and stored state, read in one snapshot off the event loop."""

    @property
    def log(self) -> LogRepository: ...

    @property
    def state(self) -> StateRepository: ...


class Store(Protocol):
    def reader(self, tenant: str) -> AbstractAsyncContextManager[UnitOfWork]:
        """Returns a unit of work for reads (it may not write), all of one snapshot."""
        ...

    def lookup(self, tenant: str) -> AbstractAsyncContextManager[UnitOfWork]:
        """Returns a unit of work for a lookup: reads that do not depend on each other (one
        row, one page, or a second read that only explains a miss), each of which may see
        a later snapshot than the one before. Cheaper than `reader` on some databases."""
        ...

    def writer(self, tenant: str) -> AbstractAsyncContextManager[UnitOfWork]:
        """Returns a unit of work that commits when the block exits without an error."""
        ...

    def audit_snapshot(self, tenant: str) -> AbstractAsyncContextManager[AuditSnapshot]:
        """Returns the tenant's log and state in one snapshot, for verification."""
        ...

    def blob_index(self) -> AbstractAsyncContextManager[BlobIndex]:
        """Returns the blob index in a transaction holding the store-wide blob lock."""
        ...
