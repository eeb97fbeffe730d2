"""Several server processes on one database: a subscriber on one replica receives every
commit made through another, in order (PostgreSQL through NOTIFY, SQLite by polling)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from modelyard import AuditEvent, Registry

from tests.helpers import register
from tests.servers import _admin, create_database, drop_database
from tests.watching import log_after, own_server, read


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


def seqs(events: list[AuditEvent]) -> list[int]:
    return [e.seq for e in events]


@pytest.mark.usefixtures("postgres_url")
def test_a_replica_hears_every_commit_of_another_through_notify(tmp_path: Path) -> None:
    url = create_database()
    try:
        # The watching replica polls once in ten minutes: only NOTIFY can wake it in time.
        with (
            own_server(tmp_path, "postgres", database_url=url) as writing,
            own_server(
                tmp_path, "postgres", database_url=url, watch_poll_seconds="600"
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
                        _admin(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE application_name = 'modelyard-listener' "
                            f"AND datname = '{url.rsplit('/', 1)[1]}'"
                        )
                    )
                    write_concurrently(writing.address, token, "replicated", 10, threads=2)
                    got += read(watch, 10, timeout=20)
                    assert "lost the LISTEN connection" in watching.log_file.read_text()
                logged = log_after(a, start)
    finally:
        drop_database(url)
    assert len(logged) == 50
    assert seqs(got) == seqs(logged)
    assert [e.hash for e in got] == [e.hash for e in logged]


def test_a_server_sharing_a_sqlite_file_hears_the_others_commits(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'shared.db'}"
    with (
        own_server(tmp_path, database_url=database) as writing,
        own_server(tmp_path, database_url=database, watch_poll_seconds="0.2") as watching,
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
