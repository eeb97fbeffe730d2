"""The registry's use cases, assembled over one store and one clock."""

from __future__ import annotations

from collections.abc import Callable

from modelyard_server.domain.aliases import Aliases
from modelyard_server.domain.approvals import Approvals
from modelyard_server.domain.artifacts import Artifacts
from modelyard_server.domain.audit import Audit
from modelyard_server.domain.blobs import BlobStore
from modelyard_server.domain.changes import Changes
from modelyard_server.domain.clock import now_us
from modelyard_server.domain.groups import Groups
from modelyard_server.domain.imports import Import
from modelyard_server.domain.lifecycle import Lifecycle
from modelyard_server.domain.overview import Overview
from modelyard_server.domain.repositories import Store
from modelyard_server.domain.versions import Versions
from modelyard_server.domain.webhooks import DeliveryRecords, Webhooks


class Registry:
    """Every use case of the registry; the API, the CLI's import and the tests call these."""

    def __init__(
        self,
        store: Store,
        records: DeliveryRecords,
        blobs: BlobStore,
        *,
        wake_deliveries: Callable[[], None] = lambda: None,
        clock: Callable[[], int] = now_us,
    ) -> None:
        changes = Changes(store, clock)
        self.groups = Groups(store, changes)
        self.versions = Versions(store, changes)
        self.imports = Import(store, clock)
        self.approvals = Approvals(store, changes)
        self.lifecycle = Lifecycle(changes)
        self.aliases = Aliases(store, changes)
        self.webhooks = Webhooks(store, changes, records, wake_deliveries)
        self.audit = Audit(store)
        self.artifacts = Artifacts(store, blobs, clock)
        self.overview = Overview(store)
