"""`modelyard-server` as an operator runs it: serve and stop with SIGTERM, mint tokens, and
refuse bad settings and roles with one line."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from modelyard import Action, Registry

from tests.support.factory import ServerFactory
from tests.support.paths import SERVER_BIN
from tests.support.servers import Server, operator_command, token_command


def test_sigterm_drains_and_exits_cleanly(server_factory: ServerFactory) -> None:
    with server_factory(process=True) as process:
        assert process.stop() == 0
        assert "shutting down" in process.log_file.read_text()


def test_a_normal_start_and_stop_log_at_info_and_nothing_louder(
    server_factory: ServerFactory,
) -> None:
    """Warnings are for what an operator should look into; a first start with workers (the
    supervisor's lines and each worker's) is not that."""
    with server_factory(process=True, workers=2) as process:
        assert process.stop() == 0
        lines = process.log_file.read_text().splitlines()
    assert {line.split()[2] for line in lines} == {"INFO"}, "\n".join(lines)
    for said in ("created the admin token", "serving on", "with 2 workers", "shutting down"):
        assert any(said in line for line in lines), said


def test_unknown_roles_are_refused_when_minting_a_token(sqlite_server: Server) -> None:
    with pytest.raises(subprocess.CalledProcessError) as caught:
        operator_command(sqlite_server, *token_command("x", ("superuser",), None))
    assert "unknown role 'superuser'" in caught.value.stderr


def test_server_options_may_follow_the_command(tmp_path: Path) -> None:
    before = subprocess.run(
        [str(SERVER_BIN), "--data-dir", str(tmp_path), "migrate"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    after = subprocess.run(
        [
            str(SERVER_BIN),
            "token",
            "--data-dir",
            str(tmp_path),
            "--subject",
            "b",
            "--role",
            "viewer",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert before.stdout.startswith(f"migrated sqlite:///{tmp_path.resolve()}/modelyard.db")
    assert after.stdout.startswith("myd_")


def test_a_bad_stream_setting_stops_the_server_with_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(SERVER_BIN), "--data-dir", str(tmp_path), "--heartbeat-seconds", "0", "serve"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "--heartbeat-seconds (MODELYARD_HEARTBEAT_SECONDS) must be a number above 0" in (
        done.stderr
    )


def test_an_operator_issues_an_expiring_token_and_the_log_says_so(sqlite_server: Server) -> None:
    secret = operator_command(sqlite_server, *token_command("ops", ("viewer",), None),
                              "--expires", "30d")  # fmt: skip
    assert secret.startswith("myd_") and "\n" not in secret
    with Registry(sqlite_server.address, token=sqlite_server.token) as admin:
        issued = [t for t in admin.list_tokens() if t.subject == "ops"][-1]
        entries = list(admin.list_audit_events(resource=issued.name))
    assert issued.expire_time is not None
    assert abs(issued.expire_time - (datetime.now(UTC) + timedelta(days=30))) < timedelta(minutes=1)
    assert issued.created_by == "modelyard-server"
    assert [(e.action, e.actor) for e in entries] == [(Action.TOKEN_CREATED, "modelyard-server")]


def test_an_expiry_the_operator_command_cannot_read_is_one_line(sqlite_server: Server) -> None:
    with pytest.raises(subprocess.CalledProcessError) as caught:
        operator_command(sqlite_server, *token_command("ops", ("viewer",), None),
                         "--expires", "next week")  # fmt: skip
    assert caught.value.stderr.strip() == (
        "error: --expires must be a duration like 30d, 12h or 90m, a date like 2027-06-30 "
        "(UTC), or never, got 'next week'"
    )


def test_an_operator_may_issue_a_token_that_never_expires(sqlite_server: Server) -> None:
    operator_command(sqlite_server, *token_command("forever", ("viewer",), None),
                     "--expires", "never")  # fmt: skip
    with Registry(sqlite_server.address, token=sqlite_server.token) as admin:
        issued = [t for t in admin.list_tokens() if t.subject == "forever"][-1]
    assert issued.expire_time is None
