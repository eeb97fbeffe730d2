"""An operator's mistakes with `modelyard-server`: each ends the command with one line on
stderr that says what is wrong and what to do, exit code 1, and no traceback. `token` and
`import` use the database a server made and never make a new one by accident."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.support.factory import BACKENDS
from tests.support.paths import SERVER_BIN
from tests.support.servers import Server

DATA_DIR = "--data-dir DIR (or MODELYARD_DATA_DIR)"
WRITABLE = f"pass one you may write with {DATA_DIR}"
SERVERS = f"pass the server's data directory with {DATA_DIR}"
NOT_MADE = "or run `modelyard-server serve` (or `migrate`) first to create it"


def modelyard_server(
    *args: str | Path, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Runs `modelyard-server ARGS` with none of the shell's MODELYARD_* variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELYARD_")}
    return subprocess.run(
        [str(SERVER_BIN), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=cwd,
    )


def the_error(done: subprocess.CompletedProcess[str]) -> str:
    """Returns the one line that a command which failed wrote, and checks that it did
    nothing else."""
    assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    return lines[0]


def command(name: str, tmp_path: Path) -> list[str]:
    """Returns the arguments of a command as an operator would give them."""
    if name == "import":
        versions = tmp_path / "versions.jsonl"
        versions.write_text('{"artifact": {"uri": "s3://models/a.onnx"}}\n')
        return ["import", "--group", "fraud", str(versions)]
    return {
        "serve": ["serve", "--address", "127.0.0.1:0"],
        "migrate": ["migrate"],
        "token": ["token", "--subject", "ann", "--role", "approver"],
    }[name]


def closed_port() -> int:
    """Returns a loopback port that nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.mark.parametrize("workers", ["1", "2"])
def test_serve_on_a_busy_address_says_so_and_makes_nothing(
    sqlite_server: Server, tmp_path: Path, workers: str
) -> None:
    data = tmp_path / "data"
    busy = sqlite_server.address
    done = modelyard_server("--data-dir", data, "--address", busy, "serve", "--workers", workers)
    assert the_error(done) == (
        f"error: cannot listen on {busy}: address already in use; "
        "stop the other server or pass --address HOST:PORT"
    )
    assert not data.exists()


def test_an_import_of_a_file_that_is_not_there_says_so(tmp_path: Path) -> None:
    done = modelyard_server("--data-dir", tmp_path, "import", "--group", "g", "missing.jsonl")
    assert the_error(done) == (
        "error: cannot read missing.jsonl: no such file or directory; "
        "pass a file with one ModelVersion per line in protobuf JSON form"
    )


def test_an_import_of_a_file_that_is_not_text_says_so(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert modelyard_server("--data-dir", data, "migrate").returncode == 0
    model = tmp_path / "model.onnx"
    model.write_bytes(b"\x08\x07\x12\x07pytorch\x80\xff" * 100)
    done = modelyard_server("--data-dir", data, "import", "--group", "g", model)
    assert the_error(done) == (
        f"error: {model}: not UTF-8 text; "
        "pass a file with one ModelVersion per line in protobuf JSON form"
    )


@pytest.mark.parametrize("name", ["serve", "migrate", "token", "import"])
def test_an_unreachable_database_is_one_line_for_every_command(name: str, tmp_path: Path) -> None:
    url = f"postgresql://127.0.0.1:{closed_port()}/registry"
    done = modelyard_server(
        "--data-dir", tmp_path / "data", "--database-url", url, *command(name, tmp_path)
    )
    assert the_error(done) == (
        f"error: cannot reach the database {url}: connection refused; "
        "start it, or pass the server's database with --database-url URL "
        "(or MODELYARD_DATABASE_URL)"
    )


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("serve", "cannot use the data directory {file}: it is a file, not a directory; "
                  f"{WRITABLE}"),
        ("migrate", "cannot use the data directory {file}: it is a file, not a directory; "
                    f"{WRITABLE}"),
        ("token", "no modelyard database in {file} (it is a file, not a directory); "
                  f"{SERVERS}, {NOT_MADE}"),
        ("import", "no modelyard database in {file} (it is a file, not a directory); "
                   f"{SERVERS}, {NOT_MADE}"),
    ],
)  # fmt: skip
def test_a_data_directory_that_is_a_file_is_one_line_for_every_command(
    name: str, said: str, tmp_path: Path
) -> None:
    file = tmp_path / "notes.txt"
    file.write_text("not a directory\n")
    done = modelyard_server("--data-dir", file, *command(name, tmp_path))
    assert the_error(done) == "error: " + said.format(file=file.resolve())


def test_a_data_directory_inside_a_file_cannot_be_made(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a directory\n")
    inside = (tmp_path / "notes.txt" / "data").resolve()
    done = modelyard_server("--data-dir", inside, *command("serve", tmp_path))
    assert the_error(done) == (
        f"error: cannot use the data directory {inside}: part of its path is a file, not a "
        f"directory; {WRITABLE}"
    )


@pytest.mark.parametrize("name", ["token", "import"])
def test_token_and_import_run_elsewhere_make_no_new_registry(name: str, tmp_path: Path) -> None:
    """Run from a directory where no server ever ran, they would have made a new, empty
    registry (and printed a token the running server rejects); they name where they looked."""
    args = command(name, tmp_path)
    before = set(tmp_path.iterdir())
    done = modelyard_server(*args, cwd=tmp_path)
    assert the_error(done) == (
        f"error: no modelyard database in {tmp_path.resolve() / 'modelyard-data'} (no such "
        f"directory); {SERVERS}, {NOT_MADE}"
    )
    assert set(tmp_path.iterdir()) == before


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_token_needs_a_database_that_has_the_schema(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if backend == "postgres":
        url: str = request.getfixturevalue("postgres_database")
        shown = make_url(url).render_as_string(hide_password=True)
        place, where = f"the database {shown}", ["--database-url", url]
        fix = "pass the server's database with --database-url URL (or MODELYARD_DATABASE_URL)"
    else:
        data = tmp_path / "data"
        data.mkdir()
        (data / "modelyard.db").touch()  # an empty SQLite database
        place = f"the database in the data directory {data.resolve()}"
        where = ["--data-dir", str(data)]
        fix = SERVERS
    done = modelyard_server(*where, *command("token", tmp_path))
    assert the_error(done) == f"error: {place} has no modelyard schema; {fix}, {NOT_MADE}"
    assert modelyard_server(*where, "migrate").returncode == 0
    minted = modelyard_server(*where, *command("token", tmp_path))
    assert minted.returncode == 0 and minted.stdout.startswith("myd_"), minted.stderr


@pytest.mark.parametrize(
    ("revision", "name", "said"),
    [
        pytest.param("0002", "token", "has schema revision 0002, this modelyard-server needs "
                     "{head}; run `modelyard-server migrate` first", id="older"),
        pytest.param("9999", "serve", "has schema revision 9999, newer than this "
                     "modelyard-server knows ({head}); run the release that wrote it, or a "
                     "later one", id="newer"),
    ],
)  # fmt: skip
def test_a_schema_of_another_release_is_named(
    revision: str, name: str, said: str, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    assert modelyard_server("--data-dir", data, "migrate").returncode == 0
    with closing(sqlite3.connect(data / "modelyard.db")) as db, db:
        head = db.execute("SELECT version_num FROM alembic_version").fetchone()[0]
        db.execute("UPDATE alembic_version SET version_num = ?", (revision,))
    done = modelyard_server("--data-dir", data, *command(name, tmp_path))
    assert the_error(done) == (
        f"error: the database in the data directory {data.resolve()} " + said.format(head=head)
    )


def test_a_token_bound_to_no_group_is_refused(tmp_path: Path) -> None:
    """`--role admin@` once made a tenant-wide admin token; now it is a mistake to fix."""
    data = tmp_path / "data"
    assert modelyard_server("--data-dir", data, "migrate").returncode == 0
    done = modelyard_server("--data-dir", data, "token", "--subject", "x", "--role", "admin@")
    assert the_error(done).startswith("error: 'admin@' binds the role to no valid group;")
    assert done.stdout == ""
