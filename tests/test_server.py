"""The server process: reflection and health for grpcurl, identity, durability, shutdown."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from modelyard import Registry, errors

from tests.helpers import register, sha
from tests.servers import ServerProcess, create_database, drop_database

GRPCURL = Path(sys.executable).parent / "grpcurl"


def grpcurl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(GRPCURL), "-plaintext", *args], capture_output=True, text=True, timeout=30
    )


def test_grpcurl_lists_and_describes_every_service_without_a_token(
    sqlite_server: ServerProcess,
) -> None:
    listed = grpcurl(sqlite_server.address, "list")
    assert listed.returncode == 0, listed.stderr
    assert set(listed.stdout.split()) >= {
        "modelyard.v1.RegistryService",
        "modelyard.v1.AuditService",
        "grpc.health.v1.Health",
    }
    described = grpcurl(sqlite_server.address, "describe", "modelyard.v1.RegistryService")
    assert (
        "rpc CreateModelVersion" in described.stdout and "rpc ListModelVersions" in described.stdout
    )
    message = grpcurl(sqlite_server.address, "describe", "modelyard.v1.ModelVersion")
    assert "Output only. The version number" in message.stdout  # proto comments reach the user


def test_grpcurl_health_check_says_serving(sqlite_server: ServerProcess) -> None:
    health = grpcurl(sqlite_server.address, "grpc.health.v1.Health/Check")
    assert json.loads(health.stdout) == {"status": "SERVING"}
    per_service = grpcurl(
        "-d",
        '{"service":"modelyard.v1.RegistryService"}',
        sqlite_server.address,
        "grpc.health.v1.Health/Check",
    )
    assert json.loads(per_service.stdout) == {"status": "SERVING"}


def test_grpcurl_calls_with_the_admin_token(
    sqlite_server: ServerProcess, unique_group: str
) -> None:
    auth = f"authorization: Bearer {sqlite_server.token}"
    created = grpcurl(
        "-H",
        auth,
        "-d",
        json.dumps({"model_group_id": unique_group}),
        sqlite_server.address,
        "modelyard.v1.RegistryService/CreateModelGroup",
    )
    assert json.loads(created.stdout)["name"] == f"groups/{unique_group}"
    refused = grpcurl(
        "-d",
        json.dumps({"name": f"groups/{unique_group}"}),
        sqlite_server.address,
        "modelyard.v1.RegistryService/GetModelGroup",
    )
    assert (
        refused.returncode != 0
        and "Unauthenticated" in refused.stderr
        and "bearer token" in refused.stderr
    )


def test_calls_without_a_known_token_are_unauthenticated(
    sqlite_server: ServerProcess, unique_group: str
) -> None:
    with (
        Registry(sqlite_server.address, token="myd_not-a-real-token") as stranger,
        pytest.raises(errors.Unauthenticated),
    ):
        stranger.get_group(unique_group)


def test_roles_decide_what_a_caller_may_do(sqlite_server: ServerProcess, unique_group: str) -> None:
    with Registry(sqlite_server.address, token=sqlite_server.token) as admin:
        admin.create_group(unique_group)
        admin.create_group(unique_group + "-other")
    viewer = sqlite_server.mint_token("vera", "viewer")
    scoped = sqlite_server.mint_token("carl", f"contributor@{unique_group}")
    with Registry(sqlite_server.address, token=viewer) as vera:
        assert vera.get_group(unique_group).name == f"groups/{unique_group}"
        with pytest.raises(errors.MissingPermission) as caught:
            register(vera, unique_group)
        assert "register" in caught.value.message
    with Registry(sqlite_server.address, token=scoped) as carl:
        assert register(carl, unique_group).created_by == "carl"
        with pytest.raises(errors.MissingPermission):
            register(carl, unique_group + "-other")
        with pytest.raises(errors.MissingPermission):
            carl.delete_version(unique_group, 1)  # deletes are for admins


def test_unknown_roles_are_refused_when_minting_a_token(sqlite_server: ServerProcess) -> None:
    with pytest.raises(subprocess.CalledProcessError) as caught:
        sqlite_server.mint_token("x", "superuser")
    assert "unknown role 'superuser'" in caught.value.stderr


def test_the_admin_token_file_is_private(sqlite_server: ServerProcess) -> None:
    mode = stat.S_IMODE((sqlite_server.data_dir / "admin.token").stat().st_mode)
    assert mode == 0o600
    assert "admin.token" in sqlite_server.log_file.read_text()


@pytest.fixture(params=["sqlite", "postgres"])
def fresh_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerProcess]:
    """A server of its own, to be killed and restarted."""
    database_url = None
    if request.param == "postgres":
        request.getfixturevalue("postgres_url")  # skips when PostgreSQL is unavailable
        database_url = create_database()
    process = ServerProcess(
        tmp_path / "data", database_url=database_url, backend=request.param
    ).start()
    yield process
    process.stop()
    if database_url:
        drop_database(database_url)


def test_an_acknowledged_registration_survives_kill_9(fresh_server: ServerProcess) -> None:
    with Registry(fresh_server.address, token=fresh_server.token) as registry:
        registry.create_group("durable")
        acknowledged = registry.register("durable", uri="s3://m/k", sha256=sha("durable"))
    fresh_server.kill9()
    fresh_server.start()
    with Registry(fresh_server.address, token=fresh_server.token) as registry:
        assert registry.get_version("durable", acknowledged.version) == acknowledged
        assert registry.verify_audit_log().ok
        assert registry.register("durable", uri="s3://m/k2", sha256=sha("durable-2")).version == 2


def test_sigterm_drains_and_exits_cleanly(tmp_path: Path) -> None:
    process = ServerProcess(tmp_path / "data").start()
    assert process.stop() == 0
    assert "shutting down" in process.log_file.read_text()


def test_a_second_start_keeps_the_admin_token(tmp_path: Path) -> None:
    process = ServerProcess(tmp_path / "data").start()
    token = process.token
    process.restart()
    try:
        assert process.token == token
        with Registry(process.address, token=token) as registry:
            assert list(registry.list_groups()) == []
    finally:
        process.stop()


def test_the_generated_code_matches_the_protos(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parent.parent
    subprocess.run(
        [sys.executable, str(root / "scripts" / "gen_protos.py"), str(tmp_path)],
        check=True,
        capture_output=True,
    )
    committed = root / "client" / "src" / "modelyard" / "v1"
    fresh = tmp_path / "modelyard" / "v1"
    names = sorted(p.name for p in fresh.iterdir() if p.is_file())
    assert names == sorted(
        p.name for p in committed.iterdir() if p.is_file() and p.suffix in {".py", ".pyi", ".binpb"}
    )
    stale = [n for n in names if (fresh / n).read_bytes() != (committed / n).read_bytes()]
    assert not stale, f"generated code is stale, run `make proto`: {stale}"


def test_server_options_may_follow_the_command(tmp_path: Path) -> None:
    before = subprocess.run(
        [
            str(Path(sys.executable).parent / "modelyard-server"),
            "--data-dir",
            str(tmp_path),
            "token",
            "--subject",
            "a",
            "--role",
            "viewer",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    after = subprocess.run(
        [
            str(Path(sys.executable).parent / "modelyard-server"),
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
    assert before.stdout.startswith("myd_") and after.stdout.startswith("myd_")
    assert (tmp_path / "modelyard.db").exists()
