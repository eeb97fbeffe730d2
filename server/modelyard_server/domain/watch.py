"""What a watcher asks for: which log entries match its filters, and whether it may see them."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from modelyard.v1 import errors_pb2 as reasons

from modelyard_server.domain import names
from modelyard_server.domain.errors import (
    FieldViolation,
    ResourceExhausted,
    invalid_fields,
    quote,
)
from modelyard_server.domain.principal import Permission, Principal
from modelyard_server.log.chain import LogEntry

MAX_FILTER_ITEMS = 1000


def touched_resources(entry: LogEntry) -> frozenset[str]:
    """Returns the resources an entry changed: its own, and those in `related`."""
    related = json.loads(entry.related) if entry.related else []
    return frozenset([entry.resource, *(item["resource"] for item in related)])


@dataclass(frozen=True)
class WatchFilter:
    """Which entries a watcher wants. An empty set means no restriction on that field."""

    groups: frozenset[str] = frozenset()
    actions: frozenset[str] = frozenset()  # log action names, e.g. "STAGE_CHANGED"
    versions: frozenset[str] = frozenset()  # `groups/{group}/versions/{n}`

    def matches(self, entry: LogEntry, resources: frozenset[str]) -> bool:
        """Returns whether the entry passes every filter; `resources` are those it touched."""
        if self.groups and entry.group not in self.groups:
            return False
        if self.actions and entry.action not in self.actions:
            return False
        return not self.versions or not self.versions.isdisjoint(resources)


def watch_filter(
    principal: Principal,
    groups: Sequence[str],
    actions: Sequence[str],
    versions: Sequence[str],
) -> WatchFilter:
    """Returns the filter of a watch request, once the principal may read what it covers.

    Groups are named `groups/{group}`. Without groups or versions the watcher reads the whole
    tenant's log and needs the read permission tenant-wide.
    """
    violations = []
    for field, items in (("groups", groups), ("actions", actions), ("versions", versions)):
        if len(items) > MAX_FILTER_ITEMS:
            violations.append(
                FieldViolation(field, f"has {len(items)} items; the limit is {MAX_FILTER_ITEMS}")
            )
    if violations:
        raise invalid_fields(violations)
    group_ids = frozenset(names.parse_group_name(g, f"groups[{i}]") for i, g in enumerate(groups))
    refs = [names.parse_version_name(v, f"versions[{i}]") for i, v in enumerate(versions)]
    if group_ids:
        for group in sorted(group_ids):
            principal.authorize(Permission.READ, group)
    elif refs:
        for group in sorted({ref.group for ref in refs}):
            principal.authorize(Permission.READ, group)
    else:
        principal.authorize(Permission.READ)
    return WatchFilter(
        groups=group_ids,
        actions=frozenset(actions),
        versions=frozenset(ref.name for ref in refs),
    )


class StreamQuota:
    """Counts each principal's open streams on this server process, so that one caller (a
    deployer that leaks its streams) cannot hold every connection the server can serve."""

    def __init__(self, limit: int, setting: str) -> None:
        self.limit = limit
        self.setting = setting  # how the refusal names the setting that raises the limit
        self.open: dict[tuple[str, str], int] = {}

    @contextmanager
    def held(self, principal: Principal) -> Iterator[None]:
        """Counts one stream of the principal while the block runs; RESOURCE_EXHAUSTED
        (TOO_MANY_STREAMS) if the principal has `limit` open already."""
        key = (principal.tenant, principal.subject)
        count = self.open.get(key, 0)
        if count >= self.limit:
            raise ResourceExhausted(
                reasons.TOO_MANY_STREAMS,
                f"{quote(principal.subject)} has {count} event streams open on this server, "
                f"the most one principal may ({self.setting} is {self.limit}); close one, or "
                "watch several groups on one stream",
                metadata={"limit": str(self.limit)},
            )
        self.open[key] = count + 1
        try:
            yield
        finally:
            left = self.open[key] - 1
            if left:
                self.open[key] = left
            else:
                del self.open[key]
