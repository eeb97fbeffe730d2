"""What ``modelyard`` says about the registry's address and the token: a server that is not
there, an address without a port or given as a URL, and the token found the same way from
any directory, with the places looked at when there is none."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import Cli, free_address
from tests.support.servers import Server


def test_no_server_says_where_it_dialed_and_what_to_check(cli: Cli) -> None:
    address = free_address()
    done = cli.run(None, "--address", address, "--token", "t", "--timeout", "3", "groups", "list")
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (
        f"error: UNAVAILABLE: cannot reach the registry at {address} (--address, connection "
        "refused): is the server running? `make run` starts one\n"
    )
    from_env = cli.run(None, "groups", "list", "--json",
                       env={"MODELYARD_ADDRESS": address, "MODELYARD_TOKEN": "t"})  # fmt: skip
    assert json.loads(from_env.stderr) == {
        "error": {
            "code": "UNAVAILABLE",
            "reason": "UNAVAILABLE",
            "message": f"cannot reach the registry at {address} ($MODELYARD_ADDRESS, connection "
            "refused): is the server running? `make run` starts one",
        }
    }


def test_an_address_without_a_port_dials_the_default_port(cli: Cli) -> None:
    # .invalid never resolves (RFC 2606), so the error shows the address that was dialed.
    done = cli.run(None, "--address", "registry.invalid", "--token", "t", "--timeout", "5",
                   "groups", "list")  # fmt: skip
    assert done.returncode == 1
    assert done.stderr == (
        "error: UNAVAILABLE: cannot reach the registry at registry.invalid:50051 (--address, no "
        "such host): is the address right?\n"
    )


@pytest.mark.parametrize(
    ("url", "instead"),
    [("http://127.0.0.1:7000", "127.0.0.1:7000"), ("grpc://registry/", "registry:50051")],
)
def test_a_url_is_refused_with_the_address_to_give(cli: Cli, url: str, instead: str) -> None:
    done = cli.run(None, "groups", "list", env={"MODELYARD_ADDRESS": url})
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        f"error: the registry's address is host:port, not a URL: give {instead} instead of {url}\n"
    )


def test_the_token_is_found_in_the_per_user_file_from_any_directory(
    cli: Cli, cli_server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (cli.config_home / "modelyard").mkdir(parents=True)
    (cli.config_home / "modelyard" / "token").write_text(cli_server.token + "\n")
    monkeypatch.chdir(tmp_path)
    done = cli.run(None, "groups", "list", "--limit", "1",
                   env={"MODELYARD_ADDRESS": cli_server.address})  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_the_token_is_not_taken_from_the_current_directory(
    cli: Cli, cli_server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "modelyard-data").mkdir()
    (tmp_path / "modelyard-data" / "admin.token").write_text(cli_server.token)
    monkeypatch.chdir(tmp_path)
    done = cli.run(None, "groups", "list", env={"MODELYARD_ADDRESS": cli_server.address})
    user_file = cli.config_home / "modelyard" / "token"
    assert done.returncode == 1
    assert done.stderr == (
        "error: UNAUTHENTICATED: no token: looked at $MODELYARD_TOKEN (unset), "
        "$MODELYARD_TOKEN_FILE (unset), $MODELYARD_DATA_DIR/admin.token (unset), "
        f"{user_file} (absent); put one in {user_file} or $MODELYARD_TOKEN (a new server "
        "writes its admin token to DATA_DIR/admin.token)\n"
    )


def test_the_token_is_found_in_the_data_directory(cli: Cli, cli_server: Server) -> None:
    env = {"MODELYARD_ADDRESS": cli_server.address, "MODELYARD_DATA_DIR": str(cli_server.data_dir)}
    done = cli.run(None, "groups", "list", "--limit", "1", env=env)
    assert done.returncode == 0, done.stderr


def test_a_refused_token_says_where_it_came_from(
    cli: Cli, cli_server: Server, tmp_path: Path
) -> None:
    token_file = tmp_path / "stale.token"
    token_file.write_text("myd_not-a-token\n")
    env = {"MODELYARD_ADDRESS": cli_server.address, "MODELYARD_TOKEN_FILE": str(token_file)}
    done = cli.run(None, "groups", "list", env=env)
    assert done.returncode == 1
    assert done.stderr == (
        "error: UNAUTHENTICATED: the bearer token is not known to this server (the token from "
        f"{token_file}, sent to {cli_server.address})\n"
    )
    flag = cli.run(cli_server, "--token", "wrong", "groups", "list")
    assert flag.stderr.endswith(f"(the token from --token, sent to {cli_server.address})\n")


def test_a_token_file_that_cannot_be_read_is_a_local_error(cli: Cli, tmp_path: Path) -> None:
    missing = tmp_path / "missing.token"
    done = cli.run(None, "groups", "list", env={"MODELYARD_TOKEN_FILE": str(missing)})
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        f"error: $MODELYARD_TOKEN_FILE names {missing}, which cannot be read: "
        "No such file or directory\n"
    )
