"""What a followed view knows of its groups, kept current by the log's events.

It holds the versions it has seen (those in production and those aliases point at when it
was loaded, and every version an event has carried since) and the groups' aliases. An event
holds the `after` snapshot of every resource it changed, so applying it is replacing
snapshots; a snapshot older than the one held (by `update_time`) is skipped, so the state
read at load time is never rolled back by an event that committed before that read.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from google.protobuf import json_format, struct_pb2

from modelyard.names import GROUP_PREFIX
from modelyard.v1 import resources_pb2 as pb

_VERSIONS = "/versions/"
_ALIASES = "/aliases/"


def _group_of(name: str) -> str:
    return name.removeprefix(GROUP_PREFIX).split("/", 1)[0]


def _parse(message: Any, snapshot: struct_pb2.Struct) -> Any:
    return json_format.ParseDict(
        json_format.MessageToDict(snapshot), message, ignore_unknown_fields=True
    )


def _newer(held: Any | None, given: Any) -> bool:
    """Whether `given` is at least as new as `held` (by update_time)."""
    return held is None or given.update_time.ToNanoseconds() >= held.update_time.ToNanoseconds()


class FollowedState:
    """The followed groups' versions and aliases; safe to read from one thread while another
    applies events."""

    def __init__(self, groups: Iterable[str]) -> None:
        self.groups = frozenset(_group_of(g) for g in groups)
        self._lock = threading.Lock()
        self._versions: dict[str, pb.ModelVersion] = {}
        self._aliases: dict[str, pb.Alias] = {}

    def follows(self, group: str) -> bool:
        return _group_of(group) in self.groups

    # Filling it

    def load(self, versions: Iterable[pb.ModelVersion], aliases: Iterable[pb.Alias]) -> None:
        """Takes what was read from the server when following began."""
        with self._lock:
            for version in versions:
                self._put_version(version)
            for alias in aliases:
                self._put_alias(alias)

    def remember(self, version: pb.ModelVersion) -> None:
        """Keeps a version read from the server (a fallback's answer) for later questions."""
        with self._lock:
            self._put_version(version)

    def apply(self, event: pb.AuditEvent) -> None:
        """Moves the state by one event of the followed groups."""
        changes = [(event.resource, event.after if event.HasField("after") else None)]
        changes += [
            (related.resource, related.after if related.HasField("after") else None)
            for related in event.related
        ]
        with self._lock:
            for resource, after in changes:
                self._change(resource, after)

    def _change(self, resource: str, after: struct_pb2.Struct | None) -> None:
        if not resource.startswith(GROUP_PREFIX) or _group_of(resource) not in self.groups:
            return
        if _VERSIONS in resource:
            if after is None:
                self._versions.pop(resource, None)
            else:
                self._put_version(_parse(pb.ModelVersion(), after))
        elif _ALIASES in resource:
            if after is None:
                self._aliases.pop(resource, None)
            else:
                self._put_alias(_parse(pb.Alias(), after))
        elif after is None and resource.count("/") == 1:  # the group itself was deleted
            prefix = resource + "/"
            for held in (self._versions, self._aliases):
                for name in [n for n in held if n.startswith(prefix)]:
                    del held[name]

    def _put_version(self, version: pb.ModelVersion) -> None:
        if _newer(self._versions.get(version.name), version):
            self._versions[version.name] = version

    def _put_alias(self, alias: pb.Alias) -> None:
        if _newer(self._aliases.get(alias.name), alias):
            self._aliases[alias.name] = alias

    # Answering

    def production(self, group: str) -> pb.ModelVersion | None:
        """The version most recently put in production, or None."""
        prefix = f"{GROUP_PREFIX}{_group_of(group)}{_VERSIONS}"
        with self._lock:
            serving = [
                v
                for name, v in self._versions.items()
                if name.startswith(prefix) and v.stage == pb.STAGE_PRODUCTION
            ]
        return max(serving, key=lambda v: v.stage_time.ToNanoseconds(), default=None)

    def alias_target(self, alias_name: str) -> str | None:
        """The name of the version the alias points at; None when there is no such alias."""
        with self._lock:
            alias = self._aliases.get(alias_name)
        return None if alias is None else alias.version

    def version(self, name: str) -> pb.ModelVersion | None:
        """The version, if this view holds it."""
        with self._lock:
            return self._versions.get(name)
