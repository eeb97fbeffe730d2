"""modelyard-server: serve, migrate, and manage tokens."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from modelyard_server import app, config
from modelyard_server.store.engine import migrate_blocking, open_engines
from modelyard_server.store.tokens import create_token


def _settings(args: argparse.Namespace) -> config.Settings:
    try:
        return config.load(args.address, args.data_dir, args.database_url, args.heartbeat_seconds)
    except ValueError as error:
        sys.exit(f"modelyard-server: {error}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="modelyard-server", description="The modelyard model registry server."
    )
    parser.add_argument(
        "--address",
        help=f"host:port to listen on (MODELYARD_ADDRESS, default {config.DEFAULT_ADDRESS})",
    )
    parser.add_argument(
        "--data-dir",
        help=f"data directory (MODELYARD_DATA_DIR, default ./{config.DEFAULT_DATA_DIR})",
    )
    parser.add_argument(
        "--database-url",
        help="SQLAlchemy URL (MODELYARD_DATABASE_URL, default SQLite in the data dir)",
    )
    parser.add_argument(
        "--heartbeat-seconds",
        metavar="SECONDS",
        help="event streams send a heartbeat after this long without a message "
        f"(MODELYARD_HEARTBEAT_SECONDS, default {config.DEFAULT_HEARTBEAT_SECONDS:g})",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="apply migrations and serve")
    commands.add_parser("migrate", help="apply database migrations and exit")
    token = commands.add_parser("token", help="create a bearer token for a principal")
    token.add_argument("--subject", required=True, help="who the token identifies, e.g. alice")
    token.add_argument(
        "--role",
        action="append",
        required=True,
        dest="roles",
        help="viewer, contributor, approver, deployer or admin; `role@group` binds it to one group",
    )
    token.add_argument("--tenant", default=app.DEFAULT_TENANT)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = _settings(args)
    if args.command == "serve":
        try:
            asyncio.run(app.serve(settings))
        except OSError as error:
            sys.exit(f"modelyard-server: {error}")
    elif args.command == "migrate":
        migrate_blocking(settings.database_url)
        print(f"migrated {settings.database_url}")
    elif args.command == "token":
        logging.getLogger("alembic").setLevel(logging.WARNING)  # the token alone goes to stdout
        print(asyncio.run(_create_token(settings, args.tenant, args.subject, args.roles)))


async def _create_token(
    settings: config.Settings, tenant: str, subject: str, roles: list[str]
) -> str:
    engines = open_engines(settings.database_url, pool_size=1)
    try:
        from modelyard_server.store.engine import migrate

        await migrate(engines)
        return await create_token(engines, tenant=tenant, subject=subject, roles=roles)
    except ValueError as error:
        sys.exit(f"modelyard-server: {error}")
    finally:
        await engines.dispose()


if __name__ == "__main__":
    main()
