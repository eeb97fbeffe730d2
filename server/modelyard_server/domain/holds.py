"""Legal holds: an admin keeps a version from deletion, by anyone, until the hold is cleared."""

from __future__ import annotations

from modelyard.v1 import resources_pb2 as pb

from modelyard_server.domain import lookup, names, validation
from modelyard_server.domain.changes import Change, Changes, Mutation, Unchanged, resource
from modelyard_server.domain.clock import new_etag, timestamp
from modelyard_server.domain.errors import FieldViolation, invalid_fields
from modelyard_server.domain.principal import Permission
from modelyard_server.domain.repositories import UnitOfWork
from modelyard_server.log.drafts import LogDraft


def _check_reason(reason: str, purpose: str) -> None:
    if not reason.strip():
        raise invalid_fields([FieldViolation("reason", f"is required: say why {purpose}")])
    validation.check_reason(reason)


class LegalHolds:
    """Setting and clearing legal holds; each is one change and one log entry."""

    def __init__(self, changes: Changes) -> None:
        self.changes = changes

    async def set(self, mutation: Mutation, name: str) -> pb.ModelVersion:
        """Returns the version under hold; a version already held keeps its first hold."""
        ref = names.parse_version_name(name)
        _check_reason(mutation.reason, "the version is held, e.g. a case reference")
        mutation.principal.authorize(Permission.ADMIN, ref.group)

        async def apply(unit: UnitOfWork, now: int) -> LogDraft | Unchanged:
            before = await lookup.version(unit, ref)
            if before.HasField("legal_hold"):
                return Unchanged(before)
            after = pb.ModelVersion()
            after.CopyFrom(before)
            after.legal_hold.reason = mutation.reason
            after.legal_hold.set_by = mutation.principal.subject
            after.legal_hold.set_time.CopyFrom(timestamp(now))
            after.update_time.CopyFrom(timestamp(now))
            after.etag = new_etag()
            await unit.versions.update(ref.group, after)
            return mutation.version_draft(pb.ACTION_LEGAL_HOLD_SET, before, after, now)

        return await self.changes.run(mutation, Change(apply, resource(pb.ModelVersion)))

    async def clear(self, mutation: Mutation, name: str) -> pb.ModelVersion:
        """Returns the version without its hold (as it was, if it had none)."""
        ref = names.parse_version_name(name)
        _check_reason(mutation.reason, "the hold ends")
        mutation.principal.authorize(Permission.ADMIN, ref.group)

        async def apply(unit: UnitOfWork, now: int) -> LogDraft | Unchanged:
            before = await lookup.version(unit, ref)
            if not before.HasField("legal_hold"):
                return Unchanged(before)
            after = pb.ModelVersion()
            after.CopyFrom(before)
            after.ClearField("legal_hold")
            after.update_time.CopyFrom(timestamp(now))
            after.etag = new_etag()
            await unit.versions.update(ref.group, after)
            return mutation.version_draft(pb.ACTION_LEGAL_HOLD_CLEARED, before, after, now)

        return await self.changes.run(mutation, Change(apply, resource(pb.ModelVersion)))
