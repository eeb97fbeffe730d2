"""``modelyard watch``: one line per event (or its JSON form), a cursor file to resume from,
and a word on stderr while it waits for the registry."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from modelyard import Registry

from tests.support.cli import Cli, Done, free_address
from tests.support.events import head, wait_until
from tests.support.factory import ServerFactory
from tests.support.servers import Server
from tests.support.versions import register


def test_the_cli_prints_one_line_per_event_and_keeps_a_cursor_file(
    cli: Cli, server: Server, registry: Registry, unique_group: str, tmp_path: Path
) -> None:
    registry.create_group(unique_group)
    start = head(registry)
    made = [register(registry, unique_group) for _ in range(2)]
    cursor_file = tmp_path / "cursor"
    cursor_file.write_text(f"{start}\n")
    common = ["watch", "--group", unique_group, "--cursor-file", str(cursor_file), "--limit", "1"]
    runs = [cli.run(server, *common, *extra) for extra in ([], ["--json"])]
    assert [r.returncode for r in runs] == [0, 0], [r.stderr for r in runs]
    seq, _time, actor, action, resource = runs[0].stdout.split()
    assert (int(seq), actor, action, resource) == (
        start + 1,
        "admin",
        "MODEL_VERSION_CREATED",
        made[0].name,
    )
    as_json = json.loads(runs[1].stdout)
    assert (
        as_json["resource"] == made[1].name and as_json["action"] == "ACTION_MODEL_VERSION_CREATED"
    )
    assert cursor_file.read_text().strip() == str(start + 2)


def test_watch_says_it_waits_for_a_registry_that_does_not_answer(cli: Cli) -> None:
    address = free_address()
    done = cli.run(None, "--address", address, "--token", "t", "--timeout", "2", "watch")
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.splitlines() == [
        f"watch: waiting for the registry at {address} to answer (UNAVAILABLE); giving up after "
        "2 s (--timeout)",
        f"error: UNAVAILABLE: cannot reach the registry at {address} (--address, connection "
        "refused): is the server running? `make run` starts one",
    ]


@pytest.mark.timeout(90)
def test_watch_says_once_that_it_waits_to_reconnect_and_then_resumes(
    cli: Cli, server_factory: ServerFactory, tmp_path: Path
) -> None:
    address = free_address()
    cursor_file = tmp_path / "cursor"
    with server_factory("sqlite", address=address) as server:
        runs: list[Done] = []
        watching = threading.Thread(
            target=lambda: runs.append(
                cli.run(server, "watch", "--limit", "1", "--cursor-file", str(cursor_file))
            )
        )
        watching.start()
        wait_until(cursor_file.exists, what="the watch to open its stream")
        cursor = int(cursor_file.read_text())
        server.stop()  # ends the stream: the server is shutting down
        time.sleep(1)  # reconnects fail meanwhile: connection refused
        server.start()
        with Registry(server.address, token=server.token) as registry:
            registry.create_group("after-restart")
        watching.join(timeout=60)
    [done] = runs
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[3:] == ["MODEL_GROUP_CREATED", "groups/after-restart"]
    assert done.stderr == (
        f"watch: lost the stream from the registry at {address} (SERVER_SHUTTING_DOWN); "
        f"waiting to reconnect, then resuming after seq {cursor}\n"
    )
