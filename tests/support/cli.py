"""The ``modelyard`` command run in this process: ``modelyard.cli.main(argv)`` with its own
environment, standard input and captured output, and parsers of what it prints."""

from __future__ import annotations

import io
import os
import re
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from modelyard.cli import main

from tests.support.servers import Server


@dataclass
class Done:
    """What a command line did: its exit code and what it printed."""

    returncode: int
    stdout: str
    stderr: str


@dataclass
class Cli:
    """Runs command lines as a user's shell would, but in this process: only the MODELYARD_*
    variables given are set, the per-user configuration is in `config_home` (empty unless a
    test writes there), tables are not cut to a terminal unless COLUMNS is given, and what
    is printed is captured per command."""

    capsys: pytest.CaptureFixture[str]
    monkeypatch: pytest.MonkeyPatch
    config_home: Path

    def run(
        self,
        server: Server | None,
        *args: str,
        env: dict[str, str] | None = None,
        stdin: str = "",
    ) -> Done:
        """Runs ``modelyard ARGS`` against `server` (address and token in the environment)."""
        given = {}
        if server is not None:
            given = {"MODELYARD_ADDRESS": server.address, "MODELYARD_TOKEN": server.token}
        given |= {"XDG_CONFIG_HOME": str(self.config_home)}
        given |= env or {}
        self.capsys.readouterr()  # what came before is not this command's
        with self.monkeypatch.context() as patch:
            for name in [n for n in os.environ if n.startswith("MODELYARD_") or n == "COLUMNS"]:
                patch.delenv(name)
            for name, value in given.items():
                patch.setenv(name, value)
            patch.setattr(sys, "stdin", io.StringIO(stdin))
            try:
                code = main(list(args))
            except SystemExit as exit:  # argparse: a usage error, --help or --version
                code = 0 if exit.code is None else exit.code if isinstance(exit.code, int) else 1
        out, err = self.capsys.readouterr()
        return Done(code, out, err)

    def ok(self, server: Server | None, *args: str) -> str:
        """Returns what a command that must succeed, silently on stderr, printed."""
        done = self.run(server, *args)
        assert done.returncode == 0, done.stderr
        assert done.stderr == ""
        return done.stdout

    def rows(self, server: Server | None, *args: str) -> list[dict[str, str]]:
        """Returns the rows of the table a list command printed: none when it said on stderr
        that there were none."""
        done = self.run(server, *args)
        assert done.returncode == 0, done.stderr
        if not done.stdout:
            assert done.stderr.startswith("no "), done.stderr
            return []
        assert done.stderr == ""
        return table(done.stdout)


def free_address() -> str:
    """Returns a loopback address nothing listens on (until something binds its port)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


def table(text: str) -> list[dict[str, str]]:
    """Parses an aligned table: each column starts where its header starts."""
    header, *lines = text.splitlines()
    names = header.split()
    # By position, not by search: a header may begin with another (UPDATED_BY, UPDATED).
    starts = [match.start() for match in re.finditer(r"\S+", header)]
    rows = []
    for line in lines:
        cells = [
            line[start : starts[i + 1] if i + 1 < len(starts) else None].strip()
            for i, start in enumerate(starts)
        ]
        rows.append(dict(zip(names, cells, strict=True)))
    return rows


def fields(text: str) -> dict[str, str]:
    """Parses ``label: value`` lines."""
    return {
        label.strip(): value.strip()
        for label, _, value in (line.partition(":") for line in text.splitlines())
        if label and not label.startswith(" ")
    }
