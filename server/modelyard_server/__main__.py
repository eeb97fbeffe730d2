"""modelyard-server: serve, migrate, and manage tokens.

An operator's mistake (a bad setting, a busy address, a database that cannot be reached or
was never made, a file that cannot be read) ends the command with one line on stderr,
`error: what is wrong; what to do`, and exit code 1.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn, TextIO

from google.protobuf import json_format
from google.protobuf.duration_pb2 import Duration
from modelyard.v1 import resources_pb2 as pb
from modelyard.v1 import token_service_pb2 as ts

from modelyard_server import app, config, workers
from modelyard_server.artifacts import open_blob_store
from modelyard_server.domain.artifacts import Collected
from modelyard_server.domain.changes import Mutation
from modelyard_server.domain.errors import DomainError
from modelyard_server.domain.principal import Principal
from modelyard_server.domain.registry import Registry
from modelyard_server.observability import logs
from modelyard_server.preflight import (
    SetupError,
    bind_log_key,
    check_address,
    check_transport,
    open_database,
    open_keyring,
)
from modelyard_server.store.chain_key import audit_keys
from modelyard_server.store.deliveries import SqlDeliveryQueue
from modelyard_server.store.engine import Engines
from modelyard_server.store.tokens import SqlTokenIndex
from modelyard_server.store.unit_of_work import SqlStore

IMPORT_FILE = "pass a file with one ModelVersion per line in protobuf JSON form"
# The actor of the log entry of a token the operator issues on the command line.
OPERATOR = "modelyard-server"
DURATION = re.compile(r"(\d+)([dhms])")
UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
DEFAULT = "default"  # --expires not given: the server's default lifetime
EXPIRES = "a duration like 30d, 12h or 90m, a date like 2027-06-30 (UTC), or never"


def parse_expires(text: str) -> Duration | datetime | None:
    """Returns what --expires asks for: a lifetime, a moment, or None for never.
    ValueError saying what is accepted."""
    if text == "never":
        return None
    duration = DURATION.fullmatch(text)
    if duration:
        return Duration(seconds=int(duration[1]) * UNIT_SECONDS[duration[2]])
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--expires must be {EXPIRES}, got {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _fail(message: str) -> NoReturn:
    sys.exit(f"error: {message}")


def main(argv: list[str] | None = None) -> None:
    # The server's options go before or after the command: `--data-dir D serve` or `serve --data-dir D`.
    common = argparse.ArgumentParser(add_help=False)
    config.add_options(common)
    parser = argparse.ArgumentParser(
        prog="modelyard-server",
        description="The modelyard model registry server.",
        parents=[common],
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="apply migrations and serve", parents=[common])
    commands.add_parser("migrate", help="apply database migrations and exit", parents=[common])
    token = commands.add_parser(
        "token", help="create a bearer token for a principal", parents=[common]
    )
    token.add_argument("--subject", required=True, help="who the token identifies, e.g. alice")
    token.add_argument(
        "--role",
        action="append",
        required=True,
        dest="roles",
        help="viewer, contributor, approver, deployer or admin; `role@group` binds it to one group",
    )
    token.add_argument("--tenant", default=app.DEFAULT_TENANT)
    token.add_argument(
        "--expires",
        metavar="WHEN",
        help=f"when the token stops working: {EXPIRES} (default: after --token-expiry-days)",
    )
    bulk = commands.add_parser(
        "import",
        parents=[common],
        help="register many versions from a file, fast (one log entry per version, batches of 1000 commit atomically)",
    )
    bulk.add_argument("--group", required=True, help="the group id; created if it does not exist")
    bulk.add_argument(
        "file", help="one ModelVersion per line in protobuf JSON form, registered in file order"
    )
    bulk.add_argument(
        "--actor", default="admin", help="the principal recorded as registrant (default admin)"
    )
    bulk.add_argument("--tenant", default=app.DEFAULT_TENANT)
    commands.add_parser(
        "gc",
        parents=[common],
        help="remove now the blobs no version needs and abandoned uploads, once older than "
        "--blob-grace-seconds (the server does it every --gc-interval-seconds)",
    )
    args = parser.parse_args(argv)
    logs.configure()
    try:
        settings = config.load(vars(args))
    except ValueError as error:
        _fail(str(error))
    logs.configure(settings.log_format)
    try:
        _run(args, settings)
    except SetupError as error:
        _fail(str(error))
    except KeyboardInterrupt:
        sys.exit(130)


def _run(args: argparse.Namespace, settings: config.Settings) -> None:
    if args.command == "serve":
        check_transport(settings)  # what was asked for, before whether it can be had
        if not settings.reuse_port:  # sibling workers share the port; they do not check it
            check_address(settings.address)
        if settings.workers > 1:
            sys.exit(workers.supervise(settings))
        asyncio.run(app.serve(settings))
    elif args.command == "migrate":
        asyncio.run(_migrate(settings))
        print(f"migrated {config.redacted(settings.database_url)}")
    elif args.command == "import":
        logging.getLogger("alembic").setLevel(logging.WARNING)
        principal = Principal(subject=args.actor, tenant=args.tenant, roles=frozenset({"admin"}))
        path = Path(args.file)
        try:
            lines = path.open(encoding="utf-8")
        except OSError as error:
            _fail(f"cannot read {path}: {(error.strerror or str(error)).lower()}; {IMPORT_FILE}")
        started = time.monotonic()
        with lines:
            count = asyncio.run(_import(settings, principal, args.group, path, lines))
        print(
            f"imported {count} versions into groups/{args.group} in {time.monotonic() - started:.1f} s"
        )
    elif args.command == "gc":
        logging.getLogger("alembic").setLevel(logging.WARNING)
        done = asyncio.run(_collect(settings))
        print(
            f"removed {done.blobs} blobs ({done.bytes} bytes) that nothing references, "
            f"{done.holdings} unused holdings and {done.uploads} abandoned uploads "
            f"(grace {settings.blob_grace_seconds:g} s)"
        )
    elif args.command == "token":
        logging.getLogger("alembic").setLevel(logging.WARNING)  # the token alone goes to stdout
        try:
            expires = parse_expires(args.expires) if args.expires is not None else DEFAULT
        except ValueError as error:
            _fail(str(error))
        print(asyncio.run(_create_token(settings, args, expires)))


async def _migrate(settings: config.Settings) -> None:
    engines = await open_database(settings, create=True, pool_size=1)
    try:
        await bind_log_key(settings, engines, open_keyring(settings))  # keys an older log
    finally:
        await engines.dispose()


def _read_versions(path: Path, lines: TextIO) -> Iterator[pb.ModelVersion]:
    try:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                yield json_format.Parse(line, pb.ModelVersion())
            except json_format.ParseError as error:
                _fail(f"{path}:{number}: not a ModelVersion in JSON form: {error}")
    except UnicodeDecodeError:  # text is decoded a block at a time: no line to name
        _fail(f"{path}: not UTF-8 text; {IMPORT_FILE}")


async def _open_registry(settings: config.Settings) -> tuple[Registry, Engines]:
    """Returns the registry over the server's database, checked to be chained with the key
    file given (the log entries this command writes must verify on the server)."""
    engines = await open_database(settings, create=False, pool_size=1)
    try:
        keyring = open_keyring(settings, create=False)
        await bind_log_key(settings, engines, keyring)
    except BaseException:
        await engines.dispose()
        raise
    keys = audit_keys(keyring)
    store = SqlStore(engines, keys.chain)
    registry = Registry(
        store,
        SqlDeliveryQueue(engines),
        open_blob_store(settings),
        SqlTokenIndex(engines),
        page_tokens=app.page_tokens(keyring),
        audit_keys=keys,
        token_lifetime_seconds=settings.token_expiry_days * 86400,
    )
    return registry, engines


async def _import(
    settings: config.Settings, principal: Principal, group: str, path: Path, lines: TextIO
) -> int:
    registry, engines = await _open_registry(settings)
    try:
        return await registry.imports.run(principal, group, _read_versions(path, lines))
    except DomainError as error:
        details = "".join(f"\n  {v.field}: {v.description}" for v in error.violations)
        sys.exit(f"error: import stopped: {error.reason_name}: {error.message}{details}")
    finally:
        await engines.dispose()


async def _collect(settings: config.Settings) -> Collected:
    registry, engines = await _open_registry(settings)
    try:
        return await registry.artifacts.collect(settings.blob_grace_seconds)
    finally:
        await engines.dispose()


async def _create_token(
    settings: config.Settings, args: argparse.Namespace, expires: Duration | datetime | str | None
) -> str:
    """Returns the secret of a token issued as the operator asked, logged like any other.
    `expires`: a lifetime, a moment, None for never, or DEFAULT."""
    registry, engines = await _open_registry(settings)
    try:
        token = ts.Token(subject=args.subject, roles=args.roles)
        if isinstance(expires, datetime):
            token.expire_time.FromDatetime(expires.astimezone(UTC))
        ttl = expires if isinstance(expires, Duration) else None
        operator = Principal(subject=OPERATOR, tenant=args.tenant, roles=frozenset({"admin"}))
        created = await registry.tokens.create(
            Mutation(operator), token, ttl, never=expires is None
        )
        return created.secret
    except DomainError as error:
        _fail(
            "; ".join(_as_flag(v.field, v.description) for v in error.violations) or error.message
        )
    finally:
        await engines.dispose()


def _as_flag(field: str, description: str) -> str:
    """Returns a violation of the token request in the words of `token`'s flags."""
    if field.startswith("token.roles["):
        return description  # it quotes the binding
    flag = {"token.subject": "--subject", "token.roles": "--role"}.get(field, "--expires")
    return f"{flag} {description}"


if __name__ == "__main__":
    main()
