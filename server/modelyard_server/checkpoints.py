"""Signed audit checkpoints written to a directory for the operator to ship elsewhere.

Every `--audit-checkpoint-seconds`, each tenant whose log verifies gets its head signed and
written as `<tenant>-<seq>.json` (the form `modelyard audit checkpoint` prints and
`modelyard audit verify --checkpoint FILE` reads). A log that fails verification gets no
checkpoint and an error line instead. Copy the directory off the machine (rsync, an
object-lock bucket): a checkpoint only protects what happened before it once it is out of
reach of whoever can write the database.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

from google.protobuf import json_format

from modelyard_server.api.audit import checkpoint_message
from modelyard_server.domain.audit import Audit
from modelyard_server.domain.errors import DomainError
from modelyard_server.domain.principal import Principal

log = logging.getLogger("modelyard.server")
SUBJECT = "modelyard-server"


def file_of(directory: Path, tenant: str, seq: int) -> Path:
    return directory / f"{tenant}-{seq:012d}.json"


async def write_checkpoints(audit: Audit, tenants: list[str], directory: Path) -> int:
    """Writes a checkpoint of each tenant's log that verifies and has moved since the last
    one written; returns how many it wrote."""
    written = 0
    for tenant in tenants:
        principal = Principal(SUBJECT, tenant, frozenset({"viewer"}))
        try:
            checkpoint = await audit.checkpoint(principal)
        except DomainError as error:
            log.error("no audit checkpoint for tenant %r: %s", tenant, error.message)
            continue
        path = file_of(directory, tenant, checkpoint.seq)
        if path.exists():
            continue
        text = json_format.MessageToJson(checkpoint_message(checkpoint), indent=2) + "\n"
        partial = path.with_name(path.name + ".tmp")
        partial.write_text(text)
        os.replace(partial, path)  # a reader sees a whole checkpoint or none
        written += 1
    return written


async def publish_checkpoints(
    audit: Audit,
    tenants: Callable[[], Awaitable[list[str]]],
    directory: Path,
    every_seconds: float,
) -> None:
    """Writes checkpoints now and then every `every_seconds`, until cancelled."""
    while True:
        try:
            await write_checkpoints(audit, await tenants(), directory)
        except Exception:
            log.exception("writing audit checkpoints failed; the next round tries again")
        await asyncio.sleep(every_seconds)
