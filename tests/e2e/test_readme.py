"""Every code block of README.md and client/README.md, run in order as a newcomer would.

Each README gets a fresh server (a subprocess, as `make run` starts one) whose data
directory is `modelyard-data/` in a new working directory that looks like the repository's
root (`.venv` and `examples/` link to the real ones), and its blocks run there one after
another, as in one terminal: ```sh blocks with bash (``-eo pipefail``), each starting with
the environment the one before left (so an ``export`` carries on), ```python blocks with
the project's Python in that environment. HOME is a new empty directory.
The only liberty taken is the port: `127.0.0.1:50051` in a block becomes the test server's
address, which MODELYARD_ADDRESS also names.

A python block says what it prints: a line ``print(...)  # TEXT`` promises a line TEXT in
its output, in that order (``…`` stands for what changes from run to run, such as times).

A block is preceded by a comment when it does not run as it is, saying why:
``<!-- readme: skip: WHY -->`` leaves it out; ``<!-- readme: background: WHY -->`` runs a
command that serves or follows until stopped: it must still be running after a few seconds,
without printing an error, and is then stopped. Fenced blocks without a language (or
``text``) are listings and outputs, not code.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.factory import ServerFactory
from tests.support.paths import REPO

READMES = [REPO / "README.md", REPO / "client" / "README.md"]
DEFAULT_ADDRESS = "127.0.0.1:50051"
BLOCK = re.compile(
    r"(?:<!--\s*readme:\s*(?P<mode>skip|background):\s*(?P<why>[^>]*?)\s*-->\s*\n)?"
    r"^```(?P<lang>[\w-]*)\n(?P<body>.*?)^```\s*$",
    re.S | re.M,
)
RUNNABLE = {"sh", "python"}
#: How long a background block must keep running without failing.
BACKGROUND_SECONDS = 3.0


@dataclass(frozen=True)
class Block:
    """One fenced block of a README."""

    path: Path
    line: int
    lang: str
    body: str
    mode: str  # "run", "skip" or "background"
    why: str

    def __str__(self) -> str:
        return f"{self.path.relative_to(REPO)}:{self.line} ({self.lang})"


def blocks_of(path: Path) -> list[Block]:
    text = path.read_text()
    found = []
    for match in BLOCK.finditer(text):
        line = text.count("\n", 0, match.start("lang")) + 1
        found.append(
            Block(
                path,
                line,
                match["lang"],
                match["body"],
                match["mode"] or "run",
                (match["why"] or "").strip(),
            )
        )
    return found


def test_every_readme_block_is_code_to_run_or_says_why_not() -> None:
    """The README's conventions hold: each annotated block gives its reason, and only
    sh and python blocks are code."""
    for path in READMES:
        blocks = blocks_of(path)
        assert blocks, f"{path} has no code blocks"
        for block in blocks:
            assert block.lang in RUNNABLE | {"", "text"}, f"{block}: unknown language"
            if block.mode != "run":
                assert block.lang in RUNNABLE, f"{block}: only code is skipped or backgrounded"
                assert len(block.why) > 10, f"{block}: say why it does not run as it is"


def _environment(work: Path, address: str) -> dict[str, str]:
    home = work / "home"
    home.mkdir(exist_ok=True)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MODELYARD_", "PYTHON", "XDG_", "VIRTUAL_ENV"))
    }
    env |= {
        "HOME": str(home),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        "MODELYARD_ADDRESS": address,
    }
    return env


def _command(block: Block, address: str, env_out: Path) -> list[str]:
    body = block.body.replace(DEFAULT_ADDRESS, address)
    if block.lang == "sh":
        # What the block exported stays for the blocks after it, as in a terminal.
        return ["bash", "-eo", "pipefail", "-c", f'{body}\nenv -0 > "{env_out}"']
    return [sys.executable, "-c", body]


def _carried(env_out: Path, env: dict[str, str]) -> None:
    """Takes on the environment a shell block left."""
    if env_out.exists():
        pairs = [item.split("=", 1) for item in env_out.read_text().split("\0") if "=" in item]
        env.clear()
        env.update(
            {key: value for key, value in pairs if key not in ("PWD", "OLDPWD", "SHLVL", "_")}
        )
        env_out.unlink()


def _run(block: Block, work: Path, env: dict[str, str], address: str) -> None:
    env_out = work.parent / "env-after-block"
    command = _command(block, address, env_out)
    if block.mode == "background":
        # Its own process group, so that Ctrl-C (SIGINT) reaches what bash started.
        process = subprocess.Popen(
            command,
            cwd=work,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            time.sleep(BACKGROUND_SECONDS)
            still_running = process.poll() is None
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGINT)
            try:
                out, err = process.communicate(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                out, err = process.communicate()
        assert still_running, f"{block} stopped by itself ({process.returncode}):\n{out}\n{err}"
        assert "Traceback" not in err and "error:" not in err, f"{block} failed:\n{err}"
        return
    done = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, (
        f"{block} exited {done.returncode}:\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
    )
    _carried(env_out, env)
    if block.lang == "python":
        missing = _unprinted(promised_output(block.body), done.stdout.splitlines())
        assert missing is None, f"{block} did not print {missing!r}; it printed:\n{done.stdout}"


def promised_output(body: str) -> list[str]:
    """Returns what the block's ``print(...)  # TEXT`` lines say they print, in order."""
    return [
        line.split("  # ", 1)[1].strip()
        for line in body.splitlines()
        if line.lstrip().startswith("print(") and "  # " in line
    ]


def _unprinted(promised: list[str], printed: list[str]) -> str | None:
    """Returns the first promise not kept by a later line of `printed`, or None."""
    lines = iter(printed)
    for promise in promised:
        pattern = re.compile(".*".join(re.escape(part) for part in promise.split("…")))
        if not any(pattern.fullmatch(line.strip()) for line in lines):
            return promise
    return None


@pytest.mark.timeout(300)
@pytest.mark.parametrize("readme", READMES, ids=lambda p: str(p.relative_to(REPO)))
def test_readme_blocks_run_against_a_real_server(
    readme: Path, server_factory: ServerFactory, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    # The README speaks from the repository's root: .venv and examples/ are there.
    (work / ".venv").symlink_to(Path(sys.executable).parent.parent)
    (work / "examples").symlink_to(REPO / "examples")
    server = server_factory("sqlite", process=True, data_dir=work / "modelyard-data")
    env = _environment(work, server.address)
    ran = 0
    for block in blocks_of(readme):
        if block.lang not in RUNNABLE or block.mode == "skip":
            continue
        _run(block, work, env, server.address)
        ran += 1
    assert ran > 0
