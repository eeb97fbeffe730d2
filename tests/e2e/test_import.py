"""`modelyard-server import`: the documented bulk path, with the same rules and log as the API."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from modelyard import ApprovalStatus, Registry

from tests.support.factory import ServerFactory
from tests.support.paths import SERVER_BIN
from tests.support.versions import sha


def write_versions(path: Path, count: int, *, start: int = 0, extra_line: str = "") -> Path:
    with path.open("w") as out:
        for i in range(start, start + count):
            version = {
                "artifact": {
                    "uri": f"s3://models/{i}.onnx",
                    "sha256": sha(("import", i)),
                    "sizeBytes": "10",
                },
                "tags": {"team": "risk" if i % 2 else "growth"},
                "metrics": {"auc": i / 10_000},
            }
            out.write(json.dumps(version) + "\n")
        if extra_line:
            out.write(extra_line + "\n")
    return path


def run_import(data_dir: Path, group: str, path: Path) -> subprocess.CompletedProcess[str]:
    """Imports into the data directory, which `migrate` makes the first time, as the
    import itself refuses to."""
    if not data_dir.exists():
        migrate = [str(SERVER_BIN), "--data-dir", str(data_dir), "migrate"]
        subprocess.run(migrate, capture_output=True, timeout=60, check=True)
    return subprocess.run(
        [str(SERVER_BIN), "--data-dir", str(data_dir), "import", "--group", group, str(path)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_an_import_registers_every_version_with_its_own_log_entry(
    tmp_path: Path, server_factory: ServerFactory
) -> None:
    data = tmp_path / "data"
    done = run_import(data, "bulk", write_versions(tmp_path / "v.jsonl", 2500))
    assert done.returncode == 0, done.stderr
    assert "imported 2500 versions into groups/bulk" in done.stdout
    more = run_import(data, "bulk", write_versions(tmp_path / "more.jsonl", 10, start=2500))
    assert more.returncode == 0, more.stderr
    with (
        server_factory(data_dir=data) as server,
        Registry(server.address, token=server.token) as registry,
    ):
        assert registry.get_group("bulk").latest_version == 2510
        first = registry.get_version("bulk", 1)
        assert first.artifact.sha256 == sha(("import", 0))
        assert first.approval_status == ApprovalStatus.PENDING_MANUAL_APPROVAL
        assert registry.get_version("bulk", 2510).artifact.sha256 == sha(("import", 2509))
        risky = registry.list_versions("bulk", filter='tags.team = "risk"', page_size=100)
        assert len(next(iter(risky.pages)).model_versions) == 100
        created = registry.list_audit_events(
            resource="groups/bulk", actions=["MODEL_VERSION_CREATED"]
        )
        assert [e.version for e in created] == list(range(1, 2511))
        verdict = registry.verify_audit_log()
        assert verdict.ok and verdict.head_seq == 2511  # the group, then one entry per version


def test_an_import_stops_at_a_duplicate_and_keeps_the_batches_before_it(
    tmp_path: Path, server_factory: ServerFactory
) -> None:
    data = tmp_path / "data"
    duplicate = json.dumps({"artifact": {"uri": "s3://x/y", "sha256": sha(("import", 5))}})
    done = run_import(
        data, "bulk", write_versions(tmp_path / "v.jsonl", 1500, extra_line=duplicate)
    )
    assert done.returncode != 0
    assert "DUPLICATE_ARTIFACT" in done.stderr and "groups/bulk/versions/6" in done.stderr
    with (
        server_factory(data_dir=data) as server,
        Registry(server.address, token=server.token) as registry,
    ):
        assert registry.get_group("bulk").latest_version == 1000  # the first batch of 1000
        assert registry.verify_audit_log().ok


def test_an_import_names_the_line_it_cannot_read(tmp_path: Path) -> None:
    bad = write_versions(tmp_path / "v.jsonl", 3, extra_line='{"artifact": {"uri": 7}}')
    done = run_import(tmp_path / "data", "bulk", bad)
    assert done.returncode != 0
    assert "v.jsonl:4" in done.stderr and "Traceback" not in done.stderr
    invalid = write_versions(
        tmp_path / "w.jsonl", 0, extra_line='{"artifact": {"uri": "nope", "sha256": "x"}}'
    )
    refused = run_import(tmp_path / "data2", "bulk", invalid)
    assert refused.returncode != 0
    assert "versions[0].artifact.uri" in refused.stderr


def test_verifying_a_long_log_leaves_the_server_answering_meanwhile(
    tmp_path: Path, server_factory: ServerFactory
) -> None:
    """VerifyAuditLog over 6,000 entries: health checks go on being answered while it runs,
    instead of waiting for the whole walk (as they did when it ran on the event loop)."""
    data = tmp_path / "data"
    done = run_import(data, "long", write_versions(tmp_path / "v.jsonl", 6_000))
    assert done.returncode == 0, done.stderr
    with server_factory(process=True, data_dir=data) as server:
        answered: list[float] = []
        verified = threading.Event()

        def verify() -> None:
            with Registry(server.address, token=server.token, timeout=300) as registry:
                assert registry.verify_audit_log().ok
            verified.set()

        with grpc.insecure_channel(server.address) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            health.Check(health_pb2.HealthCheckRequest(), timeout=30)
            started = time.monotonic()
            walker = threading.Thread(target=verify)
            walker.start()
            while not verified.is_set():
                health.Check(health_pb2.HealthCheckRequest(), timeout=60)
                answered.append(time.monotonic())
            walker.join()
        took = time.monotonic() - started
        gaps = [b - a for a, b in zip([started, *answered], answered, strict=False)]
        assert len(answered) >= 5
        # Compared with the walk itself, not with a clock: the loop was never held for long.
        assert max(gaps) < took / 3
