"""The client distribution on its own: built as a wheel, installed in a fresh venv, used.

What users install must work without the server's dependencies, carry its type
information, and provide the ``modelyard`` command.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
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


# A fresh venv and a pip install: each step may take up to 180 s, as _run allows.
@pytest.mark.timeout(600)
def test_the_wheel_works_alone_in_a_fresh_venv(
    client_wheel: Path,
    sqlite_server: Server,
    tmp_path: Path,
    unique_group: str,
) -> None:
    with Registry(sqlite_server.address, token=sqlite_server.token) as registry:
        registry.create_group(unique_group)
    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", venv)
    python = venv / "bin" / "python"
    _run(python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", client_wheel)

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
