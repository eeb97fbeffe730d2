"""The client distribution on its own: built as a wheel, installed in a fresh venv, used.

What users install must work without the server's dependencies, carry its type
information, and provide the ``modelyard`` command.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
from modelyard import Registry

from tests.support.paths import REPO
from tests.support.servers import Server

USE_THE_SERVER = textwrap.dedent(
    """
    import os, sys
    import modelyard
    for server_only in ("sqlalchemy", "modelyard_server", "alembic", "asyncpg"):
        try:
            __import__(server_only)
        except ImportError:
            pass
        else:
            sys.exit(f"{server_only} is importable next to the client")
    with modelyard.Registry(os.environ["ADDRESS"], token=os.environ["TOKEN"]) as registry:
        group = registry.get_group(os.environ["GROUP"])
        print(group.name, modelyard.__version__)
    """
)


def _run(*command: str | Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(c) for c in command], capture_output=True, text=True, timeout=180, env=env
    )
    assert done.returncode == 0, f"{command} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def client_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The modelyard-client wheel, built from a copy of client/ so the tree stays clean."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "client"
    shutil.copytree(
        REPO / "client",
        source,
        ignore=shutil.ignore_patterns("build", "dist", "*.egg-info", "__pycache__"),
    )
    _run(
        sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
        "--wheel-dir", work / "dist", source,
    )  # fmt: skip
    (wheel,) = (work / "dist").glob("modelyard_client-*.whl")
    return wheel


def test_the_wheel_carries_the_sdk_the_cli_and_their_types(client_wheel: Path) -> None:
    names = set(zipfile.ZipFile(client_wheel).namelist())
    for expected in [
        "modelyard/__init__.py",
        "modelyard/py.typed",
        "modelyard/client.py",
        "modelyard/aio.py",
        "modelyard/errors.py",
        "modelyard/pagers.py",
        "modelyard/transport.py",
        "modelyard/cli/__init__.py",
        "modelyard/v1/resources_pb2.py",
        "modelyard/v1/resources_pb2.pyi",
        "modelyard/v1/registry_service_pb2_grpc.pyi",
    ]:
        assert expected in names
    assert not [n for n in names if n.startswith(("modelyard_server/", "tests/"))]
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    text = zipfile.ZipFile(client_wheel).read(entry_points).decode()
    assert "modelyard = modelyard.cli:main" in text


@pytest.fixture(scope="module")
def wheel_venv(client_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the client wheel installed, and nothing else of ours."""
    venv = tmp_path_factory.mktemp("wheel-venv") / "venv"
    _run(sys.executable, "-m", "venv", venv)
    python = venv / "bin" / "python"
    _run(python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", client_wheel)
    return venv


# A user's code, type-checked against the wheel alone: every reveal_type must name the
# type written beside it, and nothing may be Any.
USER_CODE = textwrap.dedent(
    """
    from datetime import datetime

    import modelyard

    def summary(registry: modelyard.Registry) -> str:
        version = registry.get_version("fraud", "latest")
        reveal_type(version)  # modelyard.types.ModelVersion
        reveal_type(version.metrics)  # typing.Mapping[str, float]
        reveal_type(version.stage)  # modelyard.types.Stage
        reveal_type(version.create_time)  # datetime.datetime | None
        reveal_type(version.artifact.format)  # modelyard.types.ArtifactFormat
        pager = registry.list_versions("fraud")
        reveal_type(next(iter(pager)))  # modelyard.types.ModelVersion
        auc: float = version.metrics["auc"]
        created: datetime | None = version.create_time
        if version.stage == modelyard.Stage.PRODUCTION:
            return f"{version.name} {auc} {created}"
        return str(version.approval_status)

    async def follow(registry: modelyard.AsyncRegistry) -> None:
        async with registry.watch(groups=["fraud"]) as events:
            async for event in events:
                reveal_type(event)  # modelyard.types.AuditEvent
                reveal_type(event.action)  # modelyard.types.Action
    """
)


# pip installs mypy into the venv: each step may take up to 180 s, as _run allows.
@pytest.mark.timeout(600)
def test_user_code_type_checks_against_the_wheel_alone(wheel_venv: Path, tmp_path: Path) -> None:
    python = wheel_venv / "bin" / "python"
    mypy = f"mypy=={metadata.version('mypy')}"
    _run(python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", mypy)
    script = tmp_path / "user_code.py"
    script.write_text(USER_CODE)
    done = subprocess.run(
        [str(python), "-m", "mypy", "--strict", "--no-incremental", "--show-error-codes",
         "--disallow-any-expr", str(script)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    revealed = dict(re.findall(r":(\d+): note: Revealed type is \"(.+?)\"", done.stdout))
    lines = USER_CODE.splitlines()
    expected = {
        str(number): line.split("# ")[-1]
        for number, line in enumerate(lines, start=1)
        if "reveal_type(" in line
    }
    assert revealed == expected, done.stdout
    errors = [line for line in done.stdout.splitlines() if ": error:" in line]
    assert errors == [], done.stdout


# A fresh venv and a pip install: each step may take up to 180 s, as _run allows.
@pytest.mark.timeout(600)
def test_the_wheel_works_alone_in_a_fresh_venv(
    wheel_venv: Path,
    sqlite_server: Server,
    tmp_path: Path,
    unique_group: str,
) -> None:
    with Registry(sqlite_server.address, token=sqlite_server.token) as registry:
        registry.create_group(unique_group)
    venv = wheel_venv
    python = venv / "bin" / "python"

    env = {k: v for k, v in os.environ.items() if not k.startswith(("MODELYARD_", "PYTHON"))}
    env |= {"ADDRESS": sqlite_server.address, "TOKEN": sqlite_server.token, "GROUP": unique_group}
    # Run from the venv's directory, so the repository's sources cannot be imported instead.
    done = subprocess.run(
        [str(python), "-c", USE_THE_SERVER],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [f"groups/{unique_group}", "0.1.0"]

    where = subprocess.run(
        [str(python), "-c", "import modelyard; print(modelyard.__file__)"],
        capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert where.stdout.startswith(str(venv))

    cli = subprocess.run(
        [str(venv / "bin" / "modelyard"), "--address", sqlite_server.address, "--token",
         sqlite_server.token, "groups", "show", unique_group],
        capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    assert f"groups/{unique_group}" in cli.stdout
