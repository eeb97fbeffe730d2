"""Replaying the log into the state it implies, and comparing that with the stored state.

Every entry holds the `after` snapshot of the resource it changed and of the others it moved
(`related`), so the state the log implies is, for each live resource, its last snapshot. A
row changed without a log entry (a version approved by editing its row) no longer matches
that snapshot; a row made or removed without one is missing from one side.

The work here is plain CPU on data already read: the caller runs it off the event loop.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from google.protobuf.message import Message
from modelyard.v1 import resources_pb2 as pb
from modelyard.v1 import retention_service_pb2 as rets

from modelyard_server.log.chain import LogEntry, snapshot

GROUP, POLICY, VERSION, ALIAS = "group", "policy", "version", "alias"
RETENTION, RETENTION_DEFAULT = "retention", "retention_default"
KINDS: dict[str, type[Message]] = {
    GROUP: pb.ModelGroup,
    POLICY: pb.ApprovalPolicy,
    VERSION: pb.ModelVersion,
    ALIAS: pb.Alias,
    RETENTION: rets.RetentionPolicy,
    RETENTION_DEFAULT: rets.RetentionPolicy,
}


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def group_digest(snapshot_json: str, latest_version: int) -> str:
    """Returns the digest a group is compared by. A group's latest_version moves with every
    registration, which logs the version, not the group: it is compared with the highest
    version number the log ever created in the group instead."""
    fields = json.loads(snapshot_json)
    fields.pop("latest_version", None)
    return digest(f"{_canonical(fields)}|latest_version={latest_version}")


class Replay:
    """The state the log implies: each live resource's snapshot digest, by group."""

    def __init__(
        self,
        groups: dict[str, dict[str, str]] | None = None,
        latest: dict[str, int] | None = None,
    ) -> None:
        # Each group's resources: their snapshot's digest (the group's own: its snapshot).
        self.groups: dict[str, dict[str, str]] = groups if groups is not None else {}
        self.latest: dict[str, int] = latest if latest is not None else {}
        self._owned: set[str] = set()  # groups whose dict this replay may change

    def fork(self) -> Replay:
        """Returns a replay that starts here and changes without changing this one (the
        groups it does not touch are shared)."""
        return Replay(dict(self.groups), dict(self.latest))

    def apply(self, entry: LogEntry) -> None:
        """Moves the state by one entry."""
        self._set(entry.resource, entry.after)
        for item in json.loads(entry.related) if entry.related else ():
            after = item.get("after")
            self._set(item["resource"], None if after is None else _canonical(after))

    def apply_all(self, entries: Iterable[LogEntry]) -> None:
        for entry in entries:
            self.apply(entry)

    def _set(self, resource: str, after: str | None) -> None:
        parts = resource.split("/")
        if len(parts) < 2 or parts[0] != "groups":
            return  # webhooks and the like: not part of the registry's state
        group = parts[1]
        if after is None and len(parts) == 2:  # deleting a group deletes all it holds
            self.groups.pop(group, None)
            self.latest.pop(group, None)
            self._owned.discard(group)
            return
        if after is not None and len(parts) == 4 and parts[2] == "versions":
            self.latest[group] = max(self.latest.get(group, 0), int(parts[3]))
        if group not in self._owned:
            self.groups[group] = dict(self.groups.get(group, {}))
            self._owned.add(group)
        if after is None:
            self.groups[group].pop(resource, None)
        elif len(parts) == 2:
            self.groups[group][resource] = after
            latest = json.loads(after).get("latest_version", "0")
            self.latest[group] = max(self.latest.get(group, 0), int(latest))
        else:
            self.groups[group][resource] = digest(after)

    def resources(self) -> dict[str, str]:
        """Returns each live resource's digest, by name."""
        found = {}
        for group, held in self.groups.items():
            for name, value in held.items():
                own = name.count("/") == 1
                found[name] = group_digest(value, self.latest.get(group, 0)) if own else value
        return found


@dataclass(frozen=True)
class StateRow:
    """One stored resource: its name as the row's keys say, its serialized message, and for
    versions the stage and approval columns that lists filter on."""

    kind: str
    id: int
    resource: str
    body: bytes
    stage: int = 0
    approval_status: int = 0


@dataclass(frozen=True)
class Seen:
    """What a stored row looked like at the last check: the digest of its bytes, of its
    snapshot, and whether its columns agreed with its message."""

    body: str
    snapshot: str
    columns_agree: bool


@dataclass
class StateCheck:
    """Compares stored rows, fed in batches, with a replay. `seen` from the last check
    spares parsing the rows that did not change since."""

    replay: Replay
    before: dict[str, Seen] = field(default_factory=dict)
    seen: dict[str, Seen] = field(default_factory=dict)

    def feed(self, rows: Iterable[StateRow]) -> None:
        for row in rows:
            body = hashlib.sha256(row.body).hexdigest()
            known = self.before.get(row.resource)
            if known is None or known.body != body:
                known = self._look(row, body)
            self.seen[row.resource] = known

    def _look(self, row: StateRow, body: str) -> Seen:
        message = KINDS[row.kind]()
        try:
            message.ParseFromString(row.body)
        except Exception:  # a row whose bytes are not the message at all
            return Seen(body, "unreadable", False)
        agree = True
        if isinstance(message, pb.ModelVersion):
            agree = (message.stage, message.approval_status) == (row.stage, row.approval_status)
        if isinstance(message, pb.ModelGroup):
            latest = message.latest_version
            return Seen(body, group_digest(snapshot(message) or "{}", latest), agree)
        return Seen(body, digest(snapshot(message) or ""), agree)

    def first_difference(self) -> tuple[str, str] | None:
        """Returns the first resource (by name) whose stored state is not what the log
        says, and how it differs; None when they agree."""
        implied = self.replay.resources()
        differing = [
            (name, problem)
            for name in implied.keys() | self.seen.keys()
            if (problem := self._difference(self.seen.get(name), implied.get(name)))
        ]
        return min(differing, key=lambda found: _name_order(found[0]), default=None)

    @staticmethod
    def _difference(stored: Seen | None, logged: str | None) -> str:
        if stored is None:
            return "the log says it exists, but it is missing from the database"
        if logged is None:
            return "it is in the database, but no log entry made it"
        if stored.snapshot != logged:
            return "it differs from what its last log entry recorded"
        if not stored.columns_agree:
            return "its stage or approval columns differ from the version it stores"
        return ""


def _name_order(name: str) -> tuple[tuple[int, int, str], ...]:
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in name.split("/"))
