"""The `modelyard` command in this process, and the server it talks to."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import Cli
from tests.support.servers import Server


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Cli:
    """Runs command lines in this process, each with its own environment and output."""
    return Cli(capsys, monkeypatch, tmp_path / "config")


@pytest.fixture
def cli_server(sqlite_server: Server) -> Server:
    """The server the commands talk to: the CLI's behaviour does not depend on the database,
    so one backend is enough."""
    return sqlite_server
