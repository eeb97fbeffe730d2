"""deploy/ stays true to the server: the Dockerfile passes hadolint, the Kubernetes manifests
validate against Kubernetes' schemas, the alert rules pass promtool and name only metrics the
server exports, and every setting the recipes pass is one the server knows."""

from __future__ import annotations

import configparser
import os
import re
import shlex
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import yaml
from modelyard_server.config import OPTIONS

from tests.support.cli import free_address
from tests.support.factory import ServerFactory

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
BIN = Path(sys.executable).parent
MANIFESTS = sorted((DEPLOY / "kubernetes").glob("*.yaml"))
# Variables the SDK and CLI read (the CronJob's), and those of AWS's tools.
CLIENT_VARIABLES = {"MODELYARD_TOKEN", "MODELYARD_ADDRESS", "MODELYARD_TOKEN_FILE"}


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_the_dockerfile_passes_hadolint() -> None:
    done = run(str(BIN / "hadolint"), str(DEPLOY / "Dockerfile"))
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_manifests_validate_against_the_kubernetes_schemas() -> None:
    done = run(str(BIN / "kubernetes-validate"), "--strict", *map(str, MANIFESTS))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("passed") == sum(
        len([d for d in yaml.safe_load_all(m.read_text()) if d]) for m in MANIFESTS
    )


def test_the_replicas_run_unprivileged_with_grpc_probes_and_a_shared_key() -> None:
    [deployment] = yaml.safe_load_all((DEPLOY / "kubernetes" / "deployment.yaml").read_text())
    spec = deployment["spec"]
    assert spec["replicas"] > 1
    pod = spec["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    [container] = pod["containers"]
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert container[probe]["grpc"]["port"] == 50051
    env = {item["name"]: item for item in container["env"]}
    assert env["MODELYARD_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["key"] == "database-url"
    assert env["MODELYARD_ARTIFACT_STORE"]["value"].startswith("s3://")
    assert "MODELYARD_KEY_FILE" in env
    assert container["securityContext"]["readOnlyRootFilesystem"] is True


def _variables() -> dict[str, set[str]]:
    """Every MODELYARD_* variable each recipe sets."""
    found: dict[str, set[str]] = {}
    for path in [*MANIFESTS, DEPLOY / "Dockerfile", DEPLOY / "systemd" / "modelyard.service"]:
        found[path.name] = set(re.findall(r"MODELYARD_[A-Z_]+", path.read_text()))
    return found


def test_every_setting_the_recipes_pass_is_one_the_server_or_the_cli_reads() -> None:
    known = {option.variable for option in OPTIONS} | CLIENT_VARIABLES
    unknown = {name: sorted(v - known) for name, v in _variables().items() if v - known}
    assert unknown == {}


def test_the_systemd_unit_starts_the_server_with_flags_it_has() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read(DEPLOY / "systemd" / "modelyard.service")
    command = shlex.split(unit["Service"]["ExecStart"])
    assert command[0].endswith("/modelyard-server") and command[1] == "serve"
    flags = [word.split("=")[0] for word in command[2:] if word.startswith("--")]
    help_text = run(str(BIN / "modelyard-server"), "serve", "--help").stdout
    assert flags and [flag for flag in flags if flag not in help_text] == []
    assert unit["Service"]["DynamicUser"] == "yes" and unit["Service"]["UMask"] == "0077"


def _promtool() -> str | None:
    found = shutil.which("promtool")
    if found is None and os.environ.get("CI"):
        pytest.fail("promtool is missing: .ci/run installs Debian's prometheus package")
    return found


def test_the_alert_rules_pass_promtool() -> None:
    promtool = _promtool()
    if promtool is None:
        pytest.skip("promtool is not installed (apt-get install prometheus); CI runs it")
    done = run(promtool, "check", "rules", str(DEPLOY / "prometheus" / "alerts.yaml"))
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_alert_rules_name_only_metrics_the_server_exports(
    server_factory: ServerFactory,
) -> None:
    address = free_address()
    with (
        server_factory("sqlite", metrics_address=address),
        urllib.request.urlopen(f"http://{address}/metrics", timeout=10) as response,
    ):
        exported = set(re.findall(r"^# TYPE (\S+)", response.read().decode(), re.MULTILINE))
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yaml").read_text())
    expressions = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    named = {
        re.sub(r"_(bucket|count|sum|total)$", "", name)
        for expr in expressions
        for name in re.findall(r"\b(?:grpc_server|modelyard)_[a-z_]+", expr)
    }
    families = {re.sub(r"_total$", "", name) for name in exported}
    assert named and sorted(named - families) == []
