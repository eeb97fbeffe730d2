"""Several server processes on one database: a subscriber on one replica receives every
commit made through another, in order (PostgreSQL through NOTIFY, SQLite by polling)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from modelyard import Registry

from tests.support.events import log_after, read, seqs
from tests.support.factory import ServerFactory
from tests.support.postgres import database_name, run_admin_sql
from tests.support.servers import shared_key_file
from tests.support.versions import register


def write_concurrently(address: str, token: str, group: str, count: int, threads: int) -> None:
    """Registers `count` versions from several threads at once."""

    def work(share: int) -> None:
        with Registry(address, token=token) as registry:
            for _ in range(share):
                register(registry, group)

    workers = [threading.Thread(target=work, args=(count // threads,)) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)


def test_a_replica_hears_every_commit_of_another_through_notify(
    server_factory: ServerFactory, postgres_database: str, tmp_path: Path
) -> None:
    key = shared_key_file(tmp_path)
    # The watching replica polls once in ten minutes: only NOTIFY can wake it in time.
    with (
        server_factory(
            "postgres", process=True, database_url=postgres_database, key_file=key
        ) as writing,
        server_factory(
            "postgres",
            process=True,
            database_url=postgres_database,
            watch_poll_seconds="600",
            key_file=key,
        ) as watching,
    ):
        token = writing.token  # tokens live in the shared database
        with (
            Registry(writing.address, token=token) as a,
            Registry(watching.address, token=token) as b,
        ):
            a.create_group("replicated")
            start = max(e.seq for e in log_after(a, 0))
            with b.watch(groups=["replicated"]) as watch:
                write_concurrently(writing.address, token, "replicated", 40, threads=4)
                got = read(watch, 40, timeout=20)
                # The LISTEN connection is lost; the listener reconnects and catches up.
                asyncio.run(
                    run_admin_sql(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE application_name = 'modelyard-listener' "
                        f"AND datname = '{database_name(postgres_database)}'"
                    )
                )
                write_concurrently(writing.address, token, "replicated", 10, threads=2)
                got += read(watch, 10, timeout=20)
                assert "lost the LISTEN connection" in watching.log_file.read_text()
            logged = log_after(a, start)
    assert len(logged) == 50
    assert seqs(got) == seqs(logged)
    assert [e.hash for e in got] == [e.hash for e in logged]


def test_a_server_sharing_a_sqlite_file_hears_the_others_commits(
    tmp_path: Path, server_factory: ServerFactory
) -> None:
    database = f"sqlite:///{tmp_path / 'shared.db'}"
    key = shared_key_file(tmp_path)
    with (
        server_factory(process=True, database_url=database, key_file=key) as writing,
        server_factory(
            process=True, database_url=database, watch_poll_seconds="0.2", key_file=key
        ) as watching,
    ):
        token = writing.token
        with (
            Registry(writing.address, token=token) as a,
            Registry(watching.address, token=token) as b,
        ):
            a.create_group("shared")
            with b.watch(groups=["shared"]) as watch:
                write_concurrently(writing.address, token, "shared", 20, threads=2)
                got = read(watch, 20, timeout=20)
            logged = [e for e in log_after(a, 0) if e.group == "groups/shared"][1:]
    assert seqs(got) == seqs(logged)
