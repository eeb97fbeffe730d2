"""The audit log against an insider: someone who can write the database (SQL on the SQLite
file, or on the PostgreSQL database) but cannot read the server's key file. Each attack the
issue names is made with SQL and must be found, with the first bad seq or resource named."""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import sqlite3
import subprocess
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from google.protobuf import json_format
from modelyard import (
    ApprovalStatus,
    AuditCheckpoint,
    AuditCheckpointInvalid,
    AuditLogBroken,
    Registry,
)
from modelyard.v1 import audit_service_pb2, resources_pb2, retention_service_pb2

from tests.support.factory import BACKENDS, ServerFactory
from tests.support.inprocess import SetupError
from tests.support.paths import SERVER_BIN
from tests.support.servers import Server
from tests.support.versions import register, sha


def _numbered(sql: str) -> str:
    """Returns the statement with PostgreSQL's numbered placeholders for `?`."""
    parts = sql.split("?")
    return "".join(f"{part}${n}" for n, part in enumerate(parts[:-1], start=1)) + parts[-1]


@dataclass
class Database:
    """The registry's database as an intruder reaches it: plain SQL, no server in between.
    Statements use `?` placeholders on both backends."""

    server: Server

    def run(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        return self.script([(sql, params)])[0]

    def script(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[list[Any]]:
        """Runs the statements in one transaction; returns each one's rows."""
        if self.server.backend == "postgres":
            return asyncio.run(self._postgres(statements))
        with sqlite3.connect(self.server.data_dir / "modelyard.db") as db:
            return [db.execute(sql, params).fetchall() for sql, params in statements]

    async def _postgres(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[list[Any]]:
        import asyncpg

        assert self.server.database_url is not None
        conn = await asyncpg.connect(self.server.database_url)
        try:
            async with conn.transaction():
                results = []
                for sql, params in statements:
                    sql = _numbered(sql)
                    results.append([tuple(r) for r in await conn.fetch(sql, *params)])
                return results
        finally:
            await conn.close()

    def entries(self) -> list[dict[str, Any]]:
        columns = (
            "seq, time_us, actor, action, resource, group_id, version, before, after, reason, "
            "request_id, request_digest, prev_hash, hash, related"
        )
        rows = self.run(
            f"SELECT {columns} FROM log_entries WHERE tenant = ? ORDER BY seq", "default"
        )
        names = [c.strip() for c in columns.split(",")]
        return [dict(zip(names, row, strict=True)) for row in rows]

    def rechain(self, entries: list[dict[str, Any]], start: int) -> None:
        """Writes the entries from seq `start` on back as the rest of the log, every hash
        from there recomputed as the chain used to be computed (sha256 of prev_hash and the
        canonical form), and moves the head to the last: what an intruder does to make a
        rewrite look consistent."""
        statements: list[tuple[str, Sequence[Any]]] = [
            ("DELETE FROM log_entries WHERE tenant = ? AND seq >= ?", ("default", start))
        ]
        prev = entries[start - 2]["hash"] if start > 1 else "0" * 64
        for entry in entries[start - 1 :]:
            fields: list[object] = [
                "default",
                entry["seq"],
                entry["time_us"],
                entry["actor"],
                entry["action"],
                entry["resource"],
                entry["group_id"],
                entry["version"],
                entry["before"],
                entry["after"],
                entry["reason"],
                entry["request_id"] or "",
                entry["request_digest"],
            ]
            if entry["related"] is not None:
                fields.append(entry["related"])
            related = entry["related"]
            form = json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode()
            digest = hashlib.sha256(prev.encode() + form).hexdigest()
            statements.append(
                (
                    "INSERT INTO log_entries (tenant, seq, time_us, actor, action, resource, "
                    "group_id, version, before, after, reason, request_id, request_digest, "
                    "prev_hash, hash, related) VALUES "
                    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    ("default", *[entry[k] for k in list(entry)[:12]], prev, digest, related),
                )
            )
            prev = digest
        statements.append(
            (
                "UPDATE chain_heads SET seq = ?, hash = ? WHERE tenant = ?",
                (entries[-1]["seq"] if entries else 0, prev, "default"),
            )
        )
        self.script(statements)


@pytest.fixture(params=BACKENDS)
def own_server(request: pytest.FixtureRequest, server_factory: ServerFactory) -> Iterator[Server]:
    """A server of its own per test: the attacks ruin its log."""
    with server_factory(request.param) as started:
        yield started


@dataclass
class History:
    """A log with every kind of change in it: the group, three versions, a policy, an
    approval by someone else, promotions, an alias, a legal hold, retention policies (the
    group's and the tenant's default)."""

    admin: Registry
    group: str
    approval_seq: int


def make_history(server: Server, group: str) -> History:
    admin = Registry(server.address, token=server.token)
    reviewer = Registry(server.address, token=server.mint_token("rita", "approver"))
    with reviewer:
        admin.create_group(group, description="fraud models")
        policy = copy.deepcopy(admin.get_approval_policy(group).proto)
        policy.protected_aliases.append("champion")
        admin.update_approval_policy(policy, update_mask=["protected_aliases"])
        one, two = register(admin, group), register(admin, group)
        register(admin, group)
        reviewer.approve(one.name, reason="evaluated")
        approval_seq = admin.verify_audit_log().head_seq
        reviewer.approve(two.name, reason="evaluated too")
        admin.transition(one.name, "staging")
        admin.promote(one.name)
        admin.set_alias(group, "champion", 1)
        admin.transition(two.name, "staging")
        admin.promote(two.name)
        admin.set_alias(group, "challenger", 1)
        admin.rollback(group)
        admin.delete_alias(group, "challenger")
        register(admin, group, description="to be deleted")
        admin.delete_version(f"groups/{group}/versions/4")
        admin.set_legal_hold(group, 3, reason="litigation")
        admin.clear_legal_hold(group, 3, reason="settled")
        admin.update_retention_policy(
            retention_service_pb2.RetentionPolicy(name=group, keep_newest=5),
            update_mask=["keep_newest"],
        )
        admin.update_retention_policy(
            retention_service_pb2.RetentionPolicy(keep_newest=50), update_mask=["keep_newest"]
        )
        other = f"{group}-x"  # the newest entries: a group made, used and deleted
        admin.create_group(other)
        register(admin, other)
        admin.delete_group(other, force=True)
    return History(admin, group, approval_seq)


def test_a_log_with_every_kind_of_change_verifies_in_full_and_incrementally(
    own_server: Server, unique_group: str
) -> None:
    history = make_history(own_server, unique_group)
    with history.admin as admin:
        full = admin.verify_audit_log(full=True)
        assert full.ok, full.problem
        assert full.entries_checked == full.head_seq and full.verified_after_seq == 0
        register(admin, unique_group)
        later = admin.verify_audit_log()
        assert later.ok, later.problem
        assert later.verified_after_seq == full.head_seq
        assert later.entries_checked == 1 and later.head_seq == full.head_seq + 1


def test_rewriting_who_approved_and_recomputing_the_chain_is_found_at_that_entry(
    own_server: Server, unique_group: str
) -> None:
    history = make_history(own_server, unique_group)
    db = Database(own_server)
    with history.admin as admin:
        checkpoint = admin.get_audit_checkpoint()
        entries = db.entries()
        approval = entries[history.approval_seq - 1]
        assert approval["action"] == "APPROVAL_CHANGED" and approval["actor"] == "rita"
        approval["actor"] = "mallory"
        approval["after"] = approval["after"].replace('"rita"', '"mallory"')
        db.rechain(entries, history.approval_seq)

        found = admin.verify_audit_log()  # goes on from the last head: sees it moved
        assert not found.ok
        assert found.first_broken_seq == history.approval_seq
        assert "altered" in found.problem
        against = admin.verify_audit_log(checkpoint=checkpoint)
        assert not against.ok and against.first_broken_seq == history.approval_seq
        with pytest.raises(AuditLogBroken):
            admin.get_audit_checkpoint()


def test_dropping_the_newest_entries_is_found_by_the_checkpoint_and_by_the_state(
    own_server: Server, unique_group: str
) -> None:
    history = make_history(own_server, unique_group)
    db = Database(own_server)
    with history.admin as admin:
        checkpoint = admin.get_audit_checkpoint()
        entries = db.entries()
        kept = [e for e in entries if e["seq"] <= checkpoint.seq - 2]
        last = kept[-1]
        db.script(
            [
                ("DELETE FROM log_entries WHERE tenant = ? AND seq > ?", ("default", last["seq"])),
                (
                    "UPDATE chain_heads SET seq = ?, hash = ? WHERE tenant = ?",
                    (last["seq"], last["hash"], "default"),
                ),
            ]
        )
        against = admin.verify_audit_log(checkpoint=checkpoint)
        assert not against.ok
        assert against.first_broken_seq == last["seq"] + 1
        assert f"before the checkpoint's seq {checkpoint.seq}" in against.problem
        alone = admin.verify_audit_log(full=True)
        assert not alone.ok and alone.first_broken_seq == 0
        # The dropped entries registered a version in the second group and deleted that group.
        assert alone.first_bad_resource == f"groups/{unique_group}-x"
        assert "the log says it exists, but it is missing" in alone.problem


def test_deleting_a_middle_entry_and_renumbering_is_found_at_its_seq(
    own_server: Server, unique_group: str
) -> None:
    history = make_history(own_server, unique_group)
    db = Database(own_server)
    with history.admin as admin:
        checkpoint = admin.get_audit_checkpoint()
        entries = db.entries()
        gone = history.approval_seq
        kept = [e for e in entries if e["seq"] != gone]
        for entry in kept[gone - 1 :]:
            entry["seq"] -= 1
        db.rechain(kept, gone)

        found = admin.verify_audit_log()
        assert not found.ok and found.first_broken_seq == gone
        against = admin.verify_audit_log(checkpoint=checkpoint, full=True)
        assert not against.ok and against.first_broken_seq == gone


def test_approving_a_version_by_editing_its_row_is_found_by_replaying_the_log(
    own_server: Server, unique_group: str
) -> None:
    history = make_history(own_server, unique_group)
    db = Database(own_server)
    with history.admin as admin:
        assert admin.verify_audit_log().ok
        [(pk, body)] = db.run(
            "SELECT v.id, v.body FROM model_versions v JOIN model_groups g ON g.id = v.group_pk "
            "WHERE g.group_id = ? AND v.number = 3",
            unique_group,
        )
        version = resources_pb2.ModelVersion.FromString(bytes(body))
        assert version.approval_status == resources_pb2.APPROVAL_STATUS_PENDING_MANUAL_APPROVAL
        version.approval_status = resources_pb2.APPROVAL_STATUS_APPROVED
        db.run(
            "UPDATE model_versions SET body = ?, approval_status = ? WHERE id = ?",
            version.SerializeToString(),
            resources_pb2.APPROVAL_STATUS_APPROVED,
            pk,
        )
        edited = admin.get_version(f"groups/{unique_group}/versions/3")
        assert edited.approval_status == ApprovalStatus.APPROVED
        found = admin.verify_audit_log()
        assert not found.ok
        assert found.first_broken_seq == 0
        assert found.first_bad_resource == f"groups/{unique_group}/versions/3"
        assert "differs from what its last log entry recorded" in found.problem
        with pytest.raises(AuditLogBroken):
            admin.get_audit_checkpoint()


def test_loosening_the_retention_default_by_editing_its_row_is_found(
    own_server: Server, unique_group: str
) -> None:
    history = make_history(own_server, unique_group)
    db = Database(own_server)
    with history.admin as admin:
        assert admin.verify_audit_log().ok
        [(body,)] = db.run("SELECT body FROM retention_defaults WHERE tenant = ?", "default")
        policy = retention_service_pb2.RetentionPolicy.FromString(bytes(body))
        policy.keep_newest = 1  # keep almost nothing: retention would then delete the rest
        db.run(
            "UPDATE retention_defaults SET body = ? WHERE tenant = ?",
            policy.SerializeToString(),
            "default",
        )
        found = admin.verify_audit_log()
        assert not found.ok
        assert found.first_bad_resource == "groups/-/retentionPolicy"


def test_a_checkpoint_is_checked_offline_with_the_public_key_alone(
    own_server: Server, unique_group: str
) -> None:
    with Registry(own_server.address, token=own_server.token) as admin:
        admin.create_group(unique_group)
        checkpoint = admin.get_audit_checkpoint()
    assert checkpoint.tenant == "default" and checkpoint.seq == 1
    assert len(checkpoint.public_key) == 32 and len(checkpoint.signature) == 64
    time_us = int(checkpoint.proto.time.ToMicroseconds())
    text = (
        f"modelyard audit checkpoint v1\ntenant default\nseq 1\nhash {checkpoint.hash}\n"
        f"time_us {time_us}\n"
    )
    key = Ed25519PublicKey.from_public_bytes(checkpoint.public_key)
    key.verify(checkpoint.signature, text.encode())  # raises if it does not hold
    forged = text.replace("seq 1", "seq 2").encode()
    with pytest.raises(InvalidSignature):
        key.verify(checkpoint.signature, forged)


def test_a_checkpoint_changed_or_signed_elsewhere_is_refused(
    server_factory: ServerFactory, unique_group: str
) -> None:
    with (
        server_factory("sqlite") as one,
        server_factory("sqlite") as other,
        Registry(one.address, token=one.token) as first,
        Registry(other.address, token=other.token) as second,
    ):
        first.create_group(unique_group)
        second.create_group(unique_group)
        theirs = second.get_audit_checkpoint()
        with pytest.raises(AuditCheckpointInvalid, match="another registry signed it"):
            first.verify_audit_log(checkpoint=theirs)
        ours = first.get_audit_checkpoint().proto
        edited = audit_service_pb2.AuditCheckpoint()
        edited.CopyFrom(ours)
        edited.seq = 0
        with pytest.raises(AuditCheckpointInvalid):
            first.verify_audit_log(checkpoint=edited)
        assert first.verify_audit_log(checkpoint=AuditCheckpoint(ours)).ok


def test_a_server_given_another_key_file_than_its_database_refuses_to_start(
    server_factory: ServerFactory, tmp_path: Path, unique_group: str
) -> None:
    for backend in BACKENDS:
        first = server_factory(backend)
        try:
            with Registry(first.address, token=first.token) as registry:
                registry.create_group(unique_group)
            first.stop()
            other = tmp_path / f"{backend}.key"
            other.write_text("ab" * 32 + "\n")
            other.chmod(0o600)
            with pytest.raises(SetupError) as caught:
                server_factory(
                    backend,
                    data_dir=first.data_dir,
                    database_url=first.database_url,
                    key_file=str(other),
                )
            message = str(caught.value)
            assert "\n" not in message
            assert f"the key file {other} " in message
            assert "--key-file FILE" in message
            again = server_factory(
                backend, data_dir=first.data_dir, database_url=first.database_url
            )
            with again, Registry(again.address, token=again.token) as registry:
                assert registry.verify_audit_log().ok
        finally:
            first.close()


def test_a_read_is_answered_while_a_long_log_is_verified(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    with (tmp_path / "v.jsonl").open("w") as out:
        for i in range(5000):
            artifact = {"uri": f"s3://models/{i}.onnx", "sha256": sha(("long", i))}
            out.write(json.dumps({"artifact": artifact, "tags": {"n": str(i)}}) + "\n")
    migrate = [str(SERVER_BIN), "--data-dir", str(data), "migrate"]
    subprocess.run(migrate, capture_output=True, timeout=60, check=True)
    imported = subprocess.run(
        [str(SERVER_BIN), "--data-dir", str(data), "import", "--group", "long", out.name],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert imported.returncode == 0, imported.stderr
    with (
        server_factory("sqlite", data_dir=data) as server,
        Registry(server.address, token=server.token, timeout=300) as admin,
        ThreadPoolExecutor(1) as pool,
    ):
        admin.get_group("long")
        verifying = pool.submit(admin.verify_audit_log, full=True)
        answered_meanwhile = 0
        while not verifying.done():
            admin.get_group("long")
            answered_meanwhile += 0 if verifying.done() else 1
        result = verifying.result()
        assert result.ok and result.entries_checked == 5001
        assert answered_meanwhile > 0


def test_a_log_written_before_keying_is_keyed_on_the_first_start_and_a_broken_one_refused(
    server_factory: ServerFactory, unique_group: str
) -> None:
    for backend in BACKENDS:
        first = server_factory(backend)
        try:
            with Registry(first.address, token=first.token) as registry:
                registry.create_group(unique_group)
                for _ in range(3):
                    register(registry, unique_group)
            first.stop()
            db = Database(first)
            # As an older release left it: chained with plain sha256, no key recorded.
            db.run("DELETE FROM key_fingerprints")
            db.rechain(db.entries(), 1)
            unkeyed = [e["hash"] for e in db.entries()]
            upgraded = server_factory(
                backend, data_dir=first.data_dir, database_url=first.database_url
            )
            with upgraded, Registry(upgraded.address, token=upgraded.token) as registry:
                verdict = registry.verify_audit_log(full=True)
                assert verdict.ok and verdict.entries_checked == 4, verdict.problem
            assert "keyed the 4 audit log entries written before" in upgraded.log_file.read_text()
            assert not set(unkeyed) & {e["hash"] for e in db.entries()}

            db.run("DELETE FROM key_fingerprints")
            db.rechain(db.entries(), 1)
            db.run("UPDATE log_entries SET actor = 'mallory' WHERE seq = 3")
            with pytest.raises(SetupError, match="was altered before this release keyed it"):
                server_factory(backend, data_dir=first.data_dir, database_url=first.database_url)
        finally:
            first.close()


def test_the_server_writes_checkpoints_to_a_directory_that_verify_accepts(
    server_factory: ServerFactory, tmp_path: Path, unique_group: str
) -> None:
    directory = tmp_path / "checkpoints"
    with (
        server_factory(
            "sqlite", audit_checkpoint_dir=str(directory), audit_checkpoint_seconds="0.1"
        ) as server,
        Registry(server.address, token=server.token) as admin,
    ):
        admin.create_group(unique_group)
        written = directory / "default-000000000001.json"
        deadline = time.monotonic() + 30
        while not written.exists():
            assert time.monotonic() < deadline, sorted(p.name for p in directory.iterdir())
            time.sleep(0.05)
        checkpoint = json_format.Parse(written.read_text(), audit_service_pb2.AuditCheckpoint())
        assert checkpoint.seq == 1 and checkpoint.tenant == "default"
        register(admin, unique_group)
        assert admin.verify_audit_log(checkpoint=checkpoint).ok


def test_an_entry_removed_below_the_verified_head_is_found_without_asking_for_a_full_check(
    own_server: Server, unique_group: str
) -> None:
    with Registry(own_server.address, token=own_server.token) as admin:
        admin.create_group(unique_group)
        for _ in range(4):
            register(admin, unique_group)
        assert admin.verify_audit_log().ok
        Database(own_server).run("DELETE FROM log_entries WHERE tenant = ? AND seq = 3", "default")
        found = admin.verify_audit_log()
        assert not found.ok
        assert found.first_broken_seq == 3 and "seq 3 is missing" in found.problem
