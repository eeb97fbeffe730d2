"""``modelyard audit checkpoint`` and ``modelyard audit verify --checkpoint FILE``: an
operator keeps a signed checkpoint outside the database and proves the log extends it."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.support.cli import Cli
from tests.support.factory import ServerFactory
from tests.support.versions import sha


def test_a_checkpoint_kept_in_a_file_proves_the_log_was_not_cut_below_it(
    cli: Cli, server_factory: ServerFactory, tmp_path: Path, unique_group: str
) -> None:
    with server_factory("sqlite") as server:
        cli.ok(server, "groups", "create", unique_group)
        cli.ok(server, "versions", "create", unique_group, "--uri", "s3://m/1", "--sha256", sha())
        taken = cli.run(server, "audit", "checkpoint")
        assert taken.returncode == 0, taken.stderr
        assert taken.stderr.startswith("checkpoint of seq 2 signed; keep it outside")
        checkpoint = tmp_path / "checkpoint.json"
        checkpoint.write_text(taken.stdout)
        assert json.loads(taken.stdout)["seq"] == "2"

        verified = cli.ok(server, "audit", "verify", "--checkpoint", str(checkpoint))
        assert verified.startswith("ok: ")
        assert "extends the checkpoint at seq 2" in verified
        assert "the stored state matches the log" in verified

        with sqlite3.connect(server.data_dir / "modelyard.db") as db:
            [(first_hash,)] = db.execute("SELECT hash FROM log_entries WHERE seq = 1").fetchall()
            db.execute("DELETE FROM log_entries WHERE seq = 2")
            db.execute("DELETE FROM model_versions")
            db.execute("UPDATE chain_heads SET seq = 1, hash = ?", (first_hash,))
        broken = cli.run(server, "audit", "verify", "--checkpoint", str(checkpoint))
        assert broken.returncode == 1
        assert broken.stdout.startswith(
            "BROKEN at seq 2: the log ends at seq 1, before the checkpoint's seq 2"
        )

        missing = cli.run(server, "audit", "verify", "--checkpoint", str(tmp_path / "nope"))
        assert missing.returncode != 0
        assert missing.stderr.count("\n") == 1 and "cannot read" in missing.stderr
        checkpoint.write_text("not json")
        unreadable = cli.run(server, "audit", "verify", "--checkpoint", str(checkpoint))
        assert "does not hold a checkpoint" in unreadable.stderr
