"""The installed ``modelyard`` console script, run once as a real process: the entry point
exists, starts, reads its environment and exits 0. Everything else about the command is
tested through ``main`` in this process."""

from __future__ import annotations

import os
import subprocess

from tests.support.paths import CLI
from tests.support.servers import Server


def test_the_installed_command_calls_the_server_named_in_its_environment(
    cli_server: Server, unique_group: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELYARD_")}
    env |= {"MODELYARD_ADDRESS": cli_server.address, "MODELYARD_TOKEN": cli_server.token}
    done = subprocess.run(
        [str(CLI), "groups", "create", unique_group],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert f"groups/{unique_group}" in done.stdout
    assert done.stderr == ""
