"""``modelyard watch``: one line per event (or its JSON form) and a cursor file to resume from."""

from __future__ import annotations

import json
from pathlib import Path

from modelyard import Registry

from tests.support.cli import Cli
from tests.support.events import head
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
