"""LISTEN on PostgreSQL: every replica hears the commits of all the others.

A writing transaction runs `pg_notify('modelyard_log', 'tenant:seq')`, which PostgreSQL
delivers to listeners when (and only if) the transaction commits. One dedicated asyncpg
connection per process listens; when it is lost, the listener reconnects with backoff and
then wakes everyone, since notifications sent meanwhile are gone. The hub's poll covers
the time in between.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import make_url

from modelyard_server.store.log import NOTIFY_CHANNEL

log = logging.getLogger("modelyard.events")

# How often an idle listening connection is checked, so a half-open one is noticed.
CHECK_SECONDS = 10.0
MAX_BACKOFF = 5.0
# How the listening connection shows in pg_stat_activity.
APPLICATION_NAME = "modelyard-listener"


def asyncpg_dsn(url: str) -> str:
    """Returns the libpq form of a SQLAlchemy PostgreSQL URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class LogListener:
    """Calls `on_commit(tenant)` for each notification; `on_commit(None)` after reconnecting."""

    def __init__(self, url: str, on_commit: Callable[[str | None], None]) -> None:
        self.dsn = asyncpg_dsn(url)
        self.on_commit = on_commit
        self.task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()

    def start(self) -> None:
        self.task = asyncio.create_task(self._run(), name="postgres log listener")

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
            self.task = None

    def _notified(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        tenant, _, _seq = payload.rpartition(":")
        self.on_commit(tenant or None)

    async def _run(self) -> None:
        import asyncpg  # here: a SQLite server never imports it (0.1 s of a start)

        pause = 0.2
        while True:
            try:
                conn = await asyncpg.connect(
                    self.dsn, timeout=10, server_settings={"application_name": APPLICATION_NAME}
                )
            except (OSError, TimeoutError, asyncpg.PostgresError) as error:
                log.warning("cannot LISTEN for commits (retrying in %.1fs): %s", pause, error)
                await asyncio.sleep(pause)
                pause = min(pause * 2, MAX_BACKOFF)
                continue
            try:
                await self._listen(conn)
                pause = 0.2
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                log.warning("lost the LISTEN connection (reconnecting): %s", error)
            finally:
                self.connected.clear()
                conn.terminate()
            await asyncio.sleep(pause)

    async def _listen(self, conn: Any) -> None:
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn: lost.set())
        await conn.add_listener(NOTIFY_CHANNEL, self._notified)
        self.connected.set()
        self.on_commit(None)  # whatever committed while we were not listening
        while not lost.is_set():
            try:
                async with asyncio.timeout(CHECK_SECONDS):
                    await lost.wait()
            except TimeoutError:
                async with asyncio.timeout(CHECK_SECONDS):
                    await conn.execute("SELECT 1")
        raise OSError("the connection was closed")
