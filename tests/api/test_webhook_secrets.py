"""Webhook secrets at rest: sealed with a key that is not in the database, never in a log;
and the files that hold them readable by the server's user alone."""

from __future__ import annotations

import asyncio
import sqlite3
import stat
from contextlib import closing
from pathlib import Path

import asyncpg
import grpc
import pytest
from modelyard import Registry, Webhook

from tests.support.events import wait_until
from tests.support.factory import ServerFactory
from tests.support.servers import Server
from tests.support.versions import register
from tests.support.webhooks import SECRET, endpoint, hooks, signed_correctly

# What a sealed secret starts with: its scheme's version.
SEALED = "aesgcm1:"


def database_bytes(data_dir: Path) -> bytes:
    """Every byte SQLite keeps of the database: the file and its write-ahead log."""
    files = [data_dir / "modelyard.db", data_dir / "modelyard.db-wal"]
    return b"".join(path.read_bytes() for path in files if path.exists())


def stored_secrets(server: Server) -> list[str]:
    with closing(sqlite3.connect(server.data_dir / "modelyard.db")) as db, db:
        return [row[0] for row in db.execute("SELECT secret FROM webhooks")]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_webhook_secret_is_nowhere_in_the_database_yet_signs_deliveries(
    server_factory: ServerFactory,
) -> None:
    rotated = "rotated-" + SECRET
    with (
        server_factory("sqlite") as server,
        Registry(server.address, token=server.token) as registry,
        endpoint() as receiver,
        hooks(server) as api,
    ):
        registry.create_group("sealed")
        webhook = api.create(receiver.url, group="groups/sealed")
        register(registry, "sealed")
        wait_until(lambda: len(api.delivered(webhook.name)) == 1, what="the delivery")
        assert signed_correctly(receiver.received[0], SECRET)
        registry.update_webhook(Webhook(name=webhook.name, secret=rotated), update_mask=["secret"])
        register(registry, "sealed")
        wait_until(lambda: len(api.delivered(webhook.name)) == 3, what="the next deliveries")
        assert signed_correctly(receiver.received[-1], rotated)

        held = database_bytes(server.data_dir)
        assert SECRET.encode() not in held and rotated.encode() not in held
        [stored] = stored_secrets(server)
        assert stored.startswith(SEALED)


def test_secrets_stored_in_the_clear_before_are_sealed_at_the_next_start(
    server_factory: ServerFactory,
) -> None:
    """A registry from before sealing holds its secrets in the clear: the server seals them
    when it starts, and deliveries are signed with the same secret as before."""
    with endpoint() as receiver:
        with server_factory("sqlite") as old, hooks(old) as api:
            Registry(old.address, token=old.token).create_group("legacy")
            webhook = api.create(receiver.url, group="groups/legacy")
            data_dir = old.data_dir
        with (
            closing(sqlite3.connect(data_dir / "modelyard.db")) as db,
            db,
        ):  # as an older server wrote it
            db.execute("UPDATE webhooks SET secret = ?", (SECRET,))
        assert SECRET.encode() in database_bytes(data_dir)
        with (
            server_factory("sqlite", data_dir=data_dir) as server,
            Registry(server.address, token=server.token) as registry,
            hooks(server) as api,
        ):
            assert "sealed 1 webhook secrets that were stored in the clear" in (
                server.log_file.read_text()
            )
            assert stored_secrets(server)[0].startswith(SEALED)
            register(registry, "legacy")
            wait_until(lambda: len(api.delivered(webhook.name)) == 1, what="the delivery")
            assert signed_correctly(receiver.received[-1], SECRET)
            assert SECRET.encode() not in database_bytes(server.data_dir)  # nor in free pages


def test_the_data_directory_and_the_database_are_the_servers_users_alone(
    server_factory: ServerFactory, tmp_path_factory: pytest.TempPathFactory
) -> None:
    fresh = tmp_path_factory.mktemp("fresh") / "modelyard-data"
    with server_factory("sqlite", data_dir=fresh) as server:
        assert mode(server.data_dir) == 0o700
        assert mode(server.data_dir / "modelyard.db") == 0o600
        for path in server.data_dir.glob("modelyard.db-*"):
            assert mode(path) == 0o600
    fresh.chmod(0o755)  # as a careless copy or an older server left them
    (fresh / "modelyard.db").chmod(0o644)
    with server_factory("sqlite", data_dir=fresh) as server:
        assert mode(server.data_dir) == 0o700
        assert mode(server.data_dir / "modelyard.db") == 0o600
        said = server.log_file.read_text()
        assert f"{fresh} was open to others (mode 755): made it 700" in said
        assert f"{fresh / 'modelyard.db'} was open to others (mode 644): made it 600" in said


async def refuse_webhook_rows(url: str) -> None:
    """Adds a constraint that every new webhook row breaks, to the server's database."""
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(
            "ALTER TABLE webhooks ADD CONSTRAINT test_no_webhooks CHECK (length(url) < 10)"
        )
    finally:
        await conn.close()


def test_a_failing_webhook_insert_on_postgres_logs_neither_secret_nor_url(
    server_factory: ServerFactory,
) -> None:
    """SQL errors are logged with the statement but never its parameters, which hold the
    (sealed) secret and the URL, whose query string often carries a token of its own."""
    with server_factory("postgres") as server, hooks(server) as api:
        assert server.database_url is not None
        asyncio.run(refuse_webhook_rows(server.database_url))
        url = "https://hooks.example.com/modelyard?token=url-token-9f8e7d"
        with pytest.raises(grpc.RpcError) as failed:
            api.create(url)
        assert failed.value.code() == grpc.StatusCode.INTERNAL
        said = server.log_file.read_text()
        assert "test_no_webhooks" in said  # the failure is in the log, with its statement
        for hidden in (SECRET, "url-token-9f8e7d", SEALED, "hooks.example.com"):
            assert hidden not in said
        assert SECRET not in str(failed.value.details())
