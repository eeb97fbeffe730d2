"""``modelyard webhooks``, run as a user runs it (``main`` in this process), against a real
server and a real HTTP endpoint on loopback."""

from __future__ import annotations

import json
from pathlib import Path

from modelyard import Registry

from tests.support.cli import Cli, fields, table
from tests.support.events import wait_until
from tests.support.factory import ServerFactory
from tests.support.servers import Server
from tests.support.versions import register
from tests.support.webhooks import FAST_RETRIES, SECRET, endpoint


def secret_file(tmp_path: Path, secret: str = SECRET) -> str:
    path = tmp_path / "webhook.secret"
    path.write_text(secret + "\n")  # as `openssl rand -hex 32 > webhook.secret` leaves it
    return str(path)


def test_webhooks_create_list_show_and_delete_never_print_the_secret(
    cli: Cli, sqlite_server: Server, unique_group: str, tmp_path: Path
) -> None:
    cli.ok(sqlite_server, "groups", "create", unique_group)
    printed = cli.ok(sqlite_server, "webhooks", "create", "https://hooks.example.com/deploy",
                     "--secret-file", secret_file(tmp_path), "--group", unique_group,
                     "--action", "STAGE_CHANGED", "--action", "ALIAS_SET",
                     "--description", "deploy bot")  # fmt: skip
    created = fields(printed)
    name = created["name"]
    assert name.startswith("webhooks/wh-")
    assert created["url"] == "https://hooks.example.com/deploy"
    assert created["group"] == f"groups/{unique_group}"
    assert created["actions"] == "STAGE_CHANGED,ALIAS_SET"
    assert created["description"] == "deploy bot"
    webhook_id = name.removeprefix("webhooks/")

    rows = table(cli.ok(sqlite_server, "webhooks", "list", "--group", unique_group))
    assert rows == [
        {
            "WEBHOOK": webhook_id,
            "GROUP": unique_group,
            "ACTIONS": "STAGE_CHANGED,ALIAS_SET",
            "URL": "https://hooks.example.com/deploy",
            "CREATED_BY": "admin",
            "CREATED": rows[0]["CREATED"],
        }
    ]
    shown = cli.ok(sqlite_server, "webhooks", "show", webhook_id)
    assert fields(shown) == created
    as_json = json.loads(cli.ok(sqlite_server, "webhooks", "show", name, "--json"))
    assert as_json["name"] == name and as_json["actions"] == [
        "ACTION_STAGE_CHANGED",
        "ACTION_ALIAS_SET",
    ]
    assert "secret" not in as_json
    listed = json.loads(
        cli.ok(sqlite_server, "--json", "webhooks", "list", "--group", unique_group)
    )
    assert [w["name"] for w in listed] == [name]
    assert SECRET not in printed + shown + json.dumps([as_json, listed])

    rotated = secret_file(tmp_path, "rotated-rotated-rotated-1")
    printed = cli.ok(sqlite_server, "webhooks", "update", webhook_id, "--url",
                     "https://hooks.example.com/v2", "--all-actions", "--secret-file", rotated,
                     "--etag", created["etag"])  # fmt: skip
    updated = fields(printed)
    assert updated["url"] == "https://hooks.example.com/v2" and updated["actions"] == "all"
    assert updated["description"] == "deploy bot" and updated["etag"] != created["etag"]
    assert "rotated-rotated" not in printed
    nothing = cli.run(sqlite_server, "webhooks", "update", webhook_id)
    assert nothing.returncode == 2 and nothing.stderr.startswith("error: nothing to update")

    stale = cli.run(sqlite_server, "webhooks", "delete", webhook_id, "--etag", '"stale"')
    assert stale.returncode == 1 and stale.stderr.startswith("error: STALE_ETAG: ")
    assert cli.ok(sqlite_server, "webhooks", "delete", webhook_id) == f"deleted {name}\n"
    gone = cli.run(sqlite_server, "webhooks", "show", webhook_id)
    assert gone.returncode == 1
    assert gone.stderr == f"error: WEBHOOK_NOT_FOUND: webhook '{name}' does not exist\n"


def test_the_secret_comes_from_stdin_or_the_environment_and_a_bad_one_is_not_echoed(
    cli: Cli, sqlite_server: Server, tmp_path: Path
) -> None:
    from_env = cli.run(sqlite_server, "webhooks", "create", "https://hooks.example.com/env",
                       env={"MODELYARD_WEBHOOK_SECRET": SECRET})  # fmt: skip
    assert from_env.returncode == 0, from_env.stderr
    assert SECRET not in from_env.stdout
    cli.ok(sqlite_server, "webhooks", "delete", fields(from_env.stdout)["name"])
    from_stdin = cli.run(sqlite_server, "webhooks", "create", "https://hooks.example.com/stdin",
                         "--secret-file", "-", stdin=SECRET + "\n")  # fmt: skip
    assert from_stdin.returncode == 0, from_stdin.stderr
    assert SECRET not in from_stdin.stdout
    cli.ok(sqlite_server, "webhooks", "delete", fields(from_stdin.stdout)["name"])

    missing = cli.run(sqlite_server, "webhooks", "create", "https://hooks.example.com/none")
    assert missing.returncode == 2
    assert missing.stderr.startswith("error: a signing secret is required: --secret-file PATH")

    short = "tiny-secret"
    refused = cli.run(sqlite_server, "webhooks", "create", "https://hooks.example.com/short",
                      "--secret-file", secret_file(tmp_path, short))  # fmt: skip
    assert refused.returncode == 1
    assert refused.stderr.startswith("error: INVALID_FIELD: ")
    assert "webhook.secret" in refused.stderr and short not in refused.stderr

    unreadable = cli.run(sqlite_server, "webhooks", "create", "https://hooks.example.com/x",
                         "--secret-file", str(tmp_path / "nothing-here"))  # fmt: skip
    assert unreadable.returncode == 2
    assert unreadable.stderr.startswith("error: cannot read the secret from ")

    bad_state = cli.run(sqlite_server, "webhooks", "deliveries", "wh-1a2b3c4d5e", "--state", "lost")
    assert bad_state.returncode == 2 and bad_state.stderr == (
        "error: argument --state: 'lost' is not a delivery state; use one of pending, "
        "succeeded, failed; run `modelyard webhooks deliveries --help`\n"
    )


def test_deliveries_show_a_failure_and_redeliver_sends_it_again(
    cli: Cli, server_factory: ServerFactory
) -> None:
    with (
        server_factory(**FAST_RETRIES) as server,
        Registry(server.address, token=server.token) as registry,
        endpoint() as receiver,
    ):
        registry.create_group("flaky")
        webhook = registry.create_webhook(receiver.url, secret=SECRET, group="flaky")
        webhook_id = webhook.name.removeprefix("webhooks/")
        receiver.status = 503
        version = register(registry, "flaky")

        def failed() -> list[dict[str, str]]:
            return cli.rows(server, "webhooks", "deliveries", webhook_id, "--state", "FAILED")

        wait_until(lambda: len(failed()) == 1, what="the delivery to fail")
        [row] = table(cli.ok(server, "webhooks", "deliveries", webhook_id))
        assert row["ACTION"] == "MODEL_VERSION_CREATED" and row["RESOURCE"] == version.name
        assert row["STATE"] == "FAILED" and row["ATTEMPTS"] == "3" and row["CODE"] == "503"
        assert row["ERROR"] == "HTTP 503" and row["LAST_ATTEMPT"].endswith("Z")
        [as_json] = json.loads(cli.ok(server, "webhooks", "deliveries", webhook.name, "--json"))
        assert as_json["state"] == "DELIVERY_STATE_FAILED"

        receiver.status = 200
        again = fields(cli.ok(server, "webhooks", "redeliver", webhook_id, row["SEQ"]))
        assert again["name"] == f"{webhook.name}/deliveries/{row['SEQ']}"
        assert again["state"] == "PENDING" and again["attempts"] == "0"
        wait_until(
            lambda: (
                [r["STATE"] for r in table(cli.ok(server, "webhooks", "deliveries", webhook_id))]
                == ["SUCCEEDED"]
            ),
            what="the redelivery",
        )
        assert len(receiver.received) == 4
        by_name = json.loads(cli.ok(server, "webhooks", "redeliver", again["name"], "--json"))
        assert by_name["name"] == again["name"]
