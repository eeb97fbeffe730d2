"""modelyard-server: serve, migrate, and manage tokens."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from google.protobuf import json_format
from modelyard.v1 import resources_pb2 as pb
from sqlalchemy.engine import make_url

from modelyard_server import app, config, workers
from modelyard_server.artifacts import open_blob_store
from modelyard_server.domain.errors import DomainError
from modelyard_server.domain.principal import Principal
from modelyard_server.domain.registry import Registry
from modelyard_server.store.deliveries import SqlDeliveryQueue
from modelyard_server.store.engine import migrate, migrate_blocking, open_engines
from modelyard_server.store.tokens import create_token
from modelyard_server.store.unit_of_work import SqlStore


def redacted(url: str) -> str:
    """Returns the database URL without its password, for printing."""
    return make_url(url).render_as_string(hide_password=True)


def _settings(args: argparse.Namespace) -> config.Settings:
    try:
        return config.load(vars(args))
    except ValueError as error:
        sys.exit(f"modelyard-server: {error}")


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
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = _settings(args)
    if args.command == "serve":
        if settings.workers > 1:
            sys.exit(workers.supervise(settings))
        try:
            asyncio.run(app.serve(settings))
        except OSError as error:
            sys.exit(f"modelyard-server: {error}")
    elif args.command == "migrate":
        migrate_blocking(settings.database_url)
        print(f"migrated {redacted(settings.database_url)}")
    elif args.command == "import":
        logging.getLogger("alembic").setLevel(logging.WARNING)
        principal = Principal(subject=args.actor, tenant=args.tenant, roles=frozenset({"admin"}))
        started = time.monotonic()
        count = asyncio.run(_import(settings, principal, args.group, Path(args.file)))
        print(
            f"imported {count} versions into groups/{args.group} in {time.monotonic() - started:.1f} s"
        )
    elif args.command == "token":
        logging.getLogger("alembic").setLevel(logging.WARNING)  # the token alone goes to stdout
        print(asyncio.run(_create_token(settings, args.tenant, args.subject, args.roles)))


def _read_versions(path: Path) -> Iterator[pb.ModelVersion]:
    with path.open() as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                yield json_format.Parse(line, pb.ModelVersion())
            except json_format.ParseError as error:
                sys.exit(
                    f"modelyard-server: {path}:{number}: not a ModelVersion in JSON form: {error}"
                )


async def _import(settings: config.Settings, principal: Principal, group: str, path: Path) -> int:
    engines = open_engines(settings.database_url, pool_size=1)
    try:
        await migrate(engines)
        registry = Registry(SqlStore(engines), SqlDeliveryQueue(engines), open_blob_store(settings))
        return await registry.imports.run(principal, group, _read_versions(path))
    except DomainError as error:
        details = "".join(f"\n  {v.field}: {v.description}" for v in error.violations)
        sys.exit(f"modelyard-server: import stopped: {error.reason_name}: {error.message}{details}")
    finally:
        await engines.dispose()


async def _create_token(
    settings: config.Settings, tenant: str, subject: str, roles: list[str]
) -> str:
    engines = open_engines(settings.database_url, pool_size=1)
    try:
        await migrate(engines)
        return await create_token(engines, tenant=tenant, subject=subject, roles=roles)
    except ValueError as error:
        sys.exit(f"modelyard-server: {error}")
    finally:
        await engines.dispose()


if __name__ == "__main__":
    main()
