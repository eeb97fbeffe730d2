"""What a change that stopped halfway would break: the state's own rules, and the state
agreeing with the log that recorded every change to it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import grpc
from google.protobuf import struct_pb2
from modelyard.v1 import approval_service_pb2 as aps
from modelyard.v1 import (
    approval_service_pb2_grpc,
    audit_service_pb2_grpc,
    registry_service_pb2_grpc,
    retention_service_pb2_grpc,
    webhook_service_pb2_grpc,
)
from modelyard.v1 import audit_service_pb2 as aus
from modelyard.v1 import registry_service_pb2 as rs
from modelyard.v1 import resources_pb2 as pb
from modelyard.v1 import retention_service_pb2 as rets
from modelyard.v1 import webhook_service_pb2 as ws

PAGE = 1000
Metadata = tuple[tuple[str, str], ...]


@dataclass
class Snapshot:
    """One group as the server shows it now."""

    group: pb.ModelGroup
    versions: list[pb.ModelVersion]
    aliases: list[pb.Alias]
    policy: pb.ApprovalPolicy
    retention: rets.RetentionPolicy


def _pages(fetch: Callable[[str], tuple[list[object], str]]) -> Iterator[object]:
    token = ""
    while True:
        items, token = fetch(token)
        yield from items
        if not token:
            return


class Inspector:
    """Reads everything of the tenant through the generated stubs, as an admin."""

    def __init__(self, channel: grpc.Channel, metadata: Metadata) -> None:
        self.registry = registry_service_pb2_grpc.RegistryServiceStub(channel)
        self.approval = approval_service_pb2_grpc.ApprovalServiceStub(channel)
        self.audit = audit_service_pb2_grpc.AuditServiceStub(channel)
        self.webhooks = webhook_service_pb2_grpc.WebhookServiceStub(channel)
        self.retention = retention_service_pb2_grpc.RetentionServiceStub(channel)
        self.metadata = metadata

    def retention_policy(self, name: str) -> rets.RetentionPolicy:
        return self.retention.GetRetentionPolicy(
            rets.GetRetentionPolicyRequest(name=name), metadata=self.metadata
        )

    def groups(self) -> list[Snapshot]:
        def groups_page(token: str) -> tuple[list[object], str]:
            reply = self.registry.ListModelGroups(
                rs.ListModelGroupsRequest(page_size=PAGE, page_token=token),
                metadata=self.metadata,
            )
            return list(reply.model_groups), reply.next_page_token

        snapshots = []
        for group in _pages(groups_page):
            assert isinstance(group, pb.ModelGroup)

            def versions_page(token: str, name: str = group.name) -> tuple[list[object], str]:
                reply = self.registry.ListModelVersions(
                    rs.ListModelVersionsRequest(parent=name, page_size=PAGE, page_token=token),
                    metadata=self.metadata,
                )
                return list(reply.model_versions), reply.next_page_token

            def aliases_page(token: str, name: str = group.name) -> tuple[list[object], str]:
                reply = self.registry.ListAliases(
                    rs.ListAliasesRequest(parent=name, page_size=PAGE, page_token=token),
                    metadata=self.metadata,
                )
                return list(reply.aliases), reply.next_page_token

            policy = self.approval.GetApprovalPolicy(
                aps.GetApprovalPolicyRequest(name=f"{group.name}/approvalPolicy"),
                metadata=self.metadata,
            )
            versions = [v for v in _pages(versions_page) if isinstance(v, pb.ModelVersion)]
            aliases = [a for a in _pages(aliases_page) if isinstance(a, pb.Alias)]
            retention = self.retention_policy(f"{group.name}/retentionPolicy")
            snapshots.append(Snapshot(group, versions, aliases, policy, retention))
        return snapshots

    def log(self) -> list[pb.AuditEvent]:
        def log_page(token: str) -> tuple[list[object], str]:
            reply = self.audit.ListAuditEvents(
                aus.ListAuditEventsRequest(page_size=PAGE, page_token=token),
                metadata=self.metadata,
            )
            return list(reply.audit_events), reply.next_page_token

        return [e for e in _pages(log_page) if isinstance(e, pb.AuditEvent)]

    def webhook_list(self) -> list[ws.Webhook]:
        def webhooks_page(token: str) -> tuple[list[object], str]:
            reply = self.webhooks.ListWebhooks(
                ws.ListWebhooksRequest(page_size=PAGE, page_token=token), metadata=self.metadata
            )
            return list(reply.webhooks), reply.next_page_token

        return [w for w in _pages(webhooks_page) if isinstance(w, ws.Webhook)]


def _etag(snapshot: struct_pb2.Struct) -> str | None:
    """Returns the etag of a log snapshot; None for an empty one (the resource is gone)."""
    if not snapshot.fields:
        return None
    return snapshot.fields["etag"].string_value if "etag" in snapshot.fields else ""


def replayed_etags(log: list[pb.AuditEvent]) -> dict[str, str]:
    """Returns what the log says exists, resource name to etag: the last snapshot of each
    resource a change wrote (its own, or as a related change)."""
    state: dict[str, str | None] = {}
    for event in log:
        changes = [(event.resource, event.after), *((r.resource, r.after) for r in event.related)]
        for name, after in changes:
            state[name] = _etag(after)
        if event.action == pb.ACTION_MODEL_GROUP_DELETED:
            # A forced delete takes the group's versions and aliases with it.
            prefix = f"{event.resource}/"
            for name in [n for n in state if n.startswith(prefix)]:
                state[name] = None
    return {name: etag for name, etag in state.items() if etag is not None}


def problems(channel: grpc.Channel, metadata: Metadata) -> list[str]:
    """Returns every broken invariant of the tenant's state and log; empty when all hold."""
    inspector = Inspector(channel, metadata)
    found: list[str] = []
    verdict = inspector.audit.VerifyAuditLog(aus.VerifyAuditLogRequest(), metadata=metadata)
    if not verdict.ok:
        found.append(
            f"the log does not verify at seq {verdict.first_broken_seq}: {verdict.problem}"
        )
    log = inspector.log()
    snapshots = inspector.groups()
    for snapshot in snapshots:
        found.extend(_group_problems(snapshot, log))
    default = inspector.retention_policy("groups/-/retentionPolicy")
    found.extend(_log_problems(snapshots, inspector.webhook_list(), log, default))
    return found


def _group_problems(snapshot: Snapshot, log: list[pb.AuditEvent]) -> list[str]:
    group, versions, aliases = snapshot.group, snapshot.versions, snapshot.aliases
    found = []
    numbers = sorted(v.version for v in versions)
    if numbers and group.latest_version < numbers[-1]:
        found.append(f"{group.name}: latest_version {group.latest_version} < v{numbers[-1]}")
    # Numbers are gapless from 1 and never reused: the versions registered since the group
    # was (last) created are exactly 1..latest_version.
    created: list[int] = []
    for event in log:
        if event.resource == group.name and event.action == pb.ACTION_MODEL_GROUP_CREATED:
            created = []
        elif event.group == group.name and event.action == pb.ACTION_MODEL_VERSION_CREATED:
            created.append(event.version)
    if created != list(range(1, group.latest_version + 1)):
        found.append(f"{group.name}: registered {created}, latest_version {group.latest_version}")
    by_name = {v.name: v for v in versions}
    for version in versions:
        if version.stage == pb.STAGE_PRODUCTION and (
            version.approval_status != pb.APPROVAL_STATUS_APPROVED
        ):
            found.append(f"{version.name} is in PRODUCTION but not APPROVED")
        for alias_name in version.aliases:
            pointing = [a for a in aliases if a.name == alias_name and a.version == version.name]
            if not pointing:
                found.append(f"{version.name} lists alias {alias_name}, which points elsewhere")
    for alias in aliases:
        target = by_name.get(alias.version)
        if target is None:
            found.append(f"{alias.name} points at {alias.version}, which does not exist")
            continue
        if alias.name not in target.aliases:
            found.append(f"{alias.name} points at {alias.version}, which does not list it")
        alias_id = alias.name.rsplit("/", 1)[1]
        protected = alias_id in snapshot.policy.protected_aliases
        if protected and target.approval_status != pb.APPROVAL_STATUS_APPROVED:
            found.append(f"protected {alias.name} points at unapproved {alias.version}")
    return found


def _log_problems(
    snapshots: list[Snapshot],
    webhooks: list[ws.Webhook],
    log: list[pb.AuditEvent],
    retention_default: rets.RetentionPolicy,
) -> list[str]:
    """The state is what the log's changes made it: every resource the log says exists is
    there with the etag of its last snapshot, and nothing else is."""
    logged = replayed_etags(log)
    current: dict[str, str] = {}
    for snapshot in snapshots:
        current[snapshot.group.name] = snapshot.group.etag
        current.update({v.name: v.etag for v in snapshot.versions})
        current.update({a.name: a.etag for a in snapshot.aliases})
        if snapshot.policy.etag:
            current[snapshot.policy.name] = snapshot.policy.etag
        if snapshot.retention.etag and not snapshot.retention.inherited:
            current[snapshot.retention.name] = snapshot.retention.etag
    if retention_default.etag:
        current[retention_default.name] = retention_default.etag
    current.update({w.name: w.etag for w in webhooks})
    found = []
    for name, etag in sorted(current.items()):
        if name not in logged:
            found.append(f"{name} exists, but no log entry created it")
        elif logged[name] != etag:
            found.append(f"{name} has etag {etag}; its last log entry says {logged[name]}")
    found.extend(
        f"the log says {name} exists, but it does not"
        for name in sorted(set(logged) - set(current))
    )
    return found
