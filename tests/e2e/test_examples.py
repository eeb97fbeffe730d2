"""The programs in examples/, run as a user runs them against a real server: typed_usage.py,
and deployer.py, which follows promotions and rollbacks, serves the production version,
retires the one it replaces, and resumes after being killed."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from modelyard import Registry

from tests.support.events import wait_until
from tests.support.paths import REPO
from tests.support.servers import Server

DEPLOYER = REPO / "examples" / "deployer.py"


def test_the_typed_example_runs_against_the_server(server: Server, unique_group: str) -> None:
    env = {
        **os.environ,
        "MODELYARD_ADDRESS": server.address,
        "MODELYARD_TOKEN": server.token,
    }
    command = [sys.executable, str(REPO / "examples" / "typed_usage.py"), unique_group]
    for _ in range(2):  # the second run finds the group and the artifact already there
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert f"registered groups/{unique_group}/versions/1" in done.stdout
        # Enums print as their short names: the stage and approval, then the log's actions.
        assert " NONE PENDING_MANUAL_APPROVAL\n" in done.stdout
        assert f" MODEL_GROUP_CREATED groups/{unique_group} by admin\n" in done.stdout


@contextmanager
def deployer(server: Server, serving: Path, group: str) -> Iterator[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELYARD_")}
    env |= {"MODELYARD_ADDRESS": server.address, "MODELYARD_TOKEN": server.token}
    with (serving.parent / "deployer.log").open("ab") as log:  # the child keeps its own
        process = subprocess.Popen(
            [sys.executable, str(DEPLOYER), "--serving-dir", str(serving), group],
            env=env,
            stdout=log,
            stderr=log,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)  # no goodbye: the cursor file must suffice
            process.wait(timeout=10)


def live(serving: Path, group: str) -> str | None:
    link = serving / group / "live"
    return os.readlink(link) if link.is_symlink() else None


def test_the_deployer_serves_production_retires_the_old_and_resumes_after_a_kill(
    sqlite_server: Server, unique_group: str, tmp_path: Path
) -> None:
    serving = tmp_path / "serving"
    model = tmp_path / "model-1.onnx"
    model.write_bytes(b"weights of version 1")
    ann = sqlite_server.mint_token("ann", "approver")
    with (
        Registry(sqlite_server.address, token=sqlite_server.token) as admin,
        Registry(sqlite_server.address, token=ann) as reviewer,
    ):
        admin.create_group(unique_group)
        v1 = admin.register(
            unique_group,
            uri=model.as_uri(),
            sha256=hashlib.sha256(model.read_bytes()).hexdigest(),
            format="onnx",
        )
        v2 = admin.register(unique_group, uri="s3://models/fraud/2.onnx", sha256="2" * 64)
        for version in (v1, v2):
            reviewer.approve(version.name, reason="evaluated")
            admin.transition(version.name, "staging")

        with deployer(sqlite_server, serving, unique_group):
            admin.promote(v1.name)
            wait_until(lambda: live(serving, unique_group) == "v1", what="v1 to go live")
            manifest = json.loads((serving / unique_group / "v1" / "manifest.json").read_text())
            assert manifest["name"] == v1.name and manifest["local_file"] == model.name
            assert (serving / unique_group / "live" / model.name).read_bytes() == model.read_bytes()
            admin.promote(v2.name)
            wait_until(lambda: live(serving, unique_group) == "v2", what="v2 to go live")
            wait_until(lambda: not (serving / unique_group / "v1").exists(), what="v1 retired")
            manifest = json.loads((serving / unique_group / "v2" / "manifest.json").read_text())
            assert manifest["uri"] == "s3://models/fraud/2.onnx" and manifest["local_file"] is None

            # An artifact the registry holds is downloaded through it, checked, then live.
            held = tmp_path / "held-model"
            (held / "variables").mkdir(parents=True)
            (held / "saved_model.pb").write_bytes(b"graph of version 3")
            (held / "variables" / "data").write_bytes(os.urandom(50_000))
            v3 = admin.register(unique_group, path=held, format="saved_model")
            reviewer.approve(v3.name, reason="evaluated")
            admin.transition(v3.name, "staging")
            admin.promote(v3.name)
            wait_until(lambda: live(serving, unique_group) == "v3", what="v3 to go live")
            served = serving / unique_group / "live" / "artifact"
            assert (served / "variables" / "data").read_bytes() == (
                held / "variables" / "data"
            ).read_bytes()
            manifest = json.loads((serving / unique_group / "v3" / "manifest.json").read_text())
            assert manifest["local_file"] == "artifact" and manifest["sha256"] == v3.artifact.sha256

        admin.rollback(unique_group, to=1, reason="latency")  # while the deployer is down
        with deployer(sqlite_server, serving, unique_group):
            wait_until(lambda: live(serving, unique_group) == "v1", what="the rollback")
            wait_until(lambda: not (serving / unique_group / "v3").exists(), what="v3 retired")
            head = admin.verify_audit_log().head_seq
            cursor = serving / ".cursor"
            wait_until(lambda: cursor.read_text().strip() == str(head), what="the cursor saved")
