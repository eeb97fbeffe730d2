"""The registry's use cases, assembled over one store and one clock."""

from __future__ import annotations

from collections.abc import Callable

from modelyard_server.deliveries.destinations import PUBLIC_ONLY, Destinations
from modelyard_server.deliveries.secrets import WebhookSecrets
from modelyard_server.domain.aliases import Aliases
from modelyard_server.domain.approvals import Approvals
from modelyard_server.domain.artifacts import Artifacts
from modelyard_server.domain.audit import Audit
from modelyard_server.domain.blobs import BlobStore
from modelyard_server.domain.changes import Changes
from modelyard_server.domain.clock import now_us
from modelyard_server.domain.dependents import Dependencies
from modelyard_server.domain.groups import Groups
from modelyard_server.domain.holds import LegalHolds
from modelyard_server.domain.imports import Import
from modelyard_server.domain.lifecycle import Lifecycle
from modelyard_server.domain.overview import Overview
from modelyard_server.domain.pages import PageTokens
from modelyard_server.domain.repositories import Store
from modelyard_server.domain.retention import Retention
from modelyard_server.domain.tokens import TokenIndex, Tokens
from modelyard_server.domain.versions import Versions
from modelyard_server.domain.webhooks import DeliveryRecords, Webhooks
from modelyard_server.log.checkpoints import AuditKeys


class Registry:
    """Every use case of the registry; the API, the CLI's import and the tests call these."""

    def __init__(
        self,
        store: Store,
        records: DeliveryRecords,
        blobs: BlobStore,
        tokens: TokenIndex,
        *,
        page_tokens: PageTokens,
        audit_keys: AuditKeys,
        token_lifetime_seconds: float = 0,
        wake_deliveries: Callable[[], None] = lambda: None,
        clock: Callable[[], int] = now_us,
        webhook_secrets: WebhookSecrets | None = None,
        destinations: Destinations = PUBLIC_ONLY,
    ) -> None:
        changes = Changes(store, clock)
        self.groups = Groups(store, changes, page_tokens)
        self.versions = Versions(store, changes, page_tokens)
        self.imports = Import(store, clock)
        self.approvals = Approvals(store, changes, page_tokens)
        self.lifecycle = Lifecycle(changes)
        self.aliases = Aliases(store, changes, page_tokens)
        self.webhooks = Webhooks(
            store,
            changes,
            records,
            page_tokens,
            wake_deliveries,
            sealer=webhook_secrets,
            destinations=destinations,
        )
        self.audit = Audit(store, page_tokens, audit_keys)
        self.artifacts = Artifacts(store, blobs, clock)
        self.dependencies = Dependencies(store)
        self.retention = Retention(store, changes, clock)
        self.holds = LegalHolds(changes)
        self.tokens = Tokens(
            store,
            changes,
            tokens,
            page_tokens,
            lifetime_seconds=token_lifetime_seconds,
            clock=clock,
        )
        self.overview = Overview(store)
