"""What the server's commands check before they start, so that an operator's mistake (a busy
address, a data directory that cannot be one, a database that cannot be reached or holds no
registry) ends in one line saying what is wrong and what to do, never in a traceback.

`serve` and `migrate` create the data directory and the schema. `token` and `import` only
use a database that a server made: run from the wrong directory, they would otherwise make
a new, empty registry that the running server knows nothing of.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from modelyard_server.config import Settings, redacted
from modelyard_server.keyring import KEY_FLAG, KeyFileError, Keyring, load_keyring
from modelyard_server.store.chain_key import KeyMismatch, UnkeyedChainBroken, bind_key
from modelyard_server.store.engine import (
    SCHEMA_HEAD,
    Engines,
    known_revisions,
    migrate,
    open_engines,
    schema_revision,
)
from modelyard_server.tls import TlsFileError, check_files

log = logging.getLogger("modelyard.server")

ADDRESS_FLAG = "--address HOST:PORT"
DATA_DIR_FLAG = "--data-dir DIR (or MODELYARD_DATA_DIR)"
DATABASE_FLAG = "--database-url URL (or MODELYARD_DATABASE_URL)"
# `serve` rather than `migrate`: only the first start writes the admin token.
CREATE = "run `modelyard-server serve` (or `migrate`) first to create it"


class SetupError(Exception):
    """An operator's mistake in the server's setup; the message says, in one line, what is
    wrong and what to do about it."""


# The address


def _bind(address: str) -> OSError | None:
    """Binds the address as grpc does and lets go of it; returns why it cannot be bound."""
    host, _, port = address.rpartition(":")
    try:
        family, kind, protocol, _, where = socket.getaddrinfo(
            host.strip("[]"), int(port), type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        with socket.socket(family, kind, protocol) as probe:
            # As grpc does: a port whose last connections are in TIME_WAIT is free.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(where)
    except OSError as error:
        return error
    return None


def cannot_listen(address: str, error: OSError | None = None) -> SetupError:
    """Returns the error for an address the server cannot listen on, saying why (looked up
    when not given: grpc only says that it failed)."""
    error = error if error is not None else _bind(address)
    if isinstance(error, socket.gaierror):
        why = f"unknown host {address.rpartition(':')[0]!r}"
    elif error is None:
        why = "grpc refused it (GRPC_VERBOSITY=debug says why)"
    elif error.errno == errno.EADDRINUSE:
        return SetupError(
            f"cannot listen on {address}: address already in use; "
            f"stop the other server or pass {ADDRESS_FLAG}"
        )
    elif error.errno == errno.EACCES:
        why = "permission denied (ports below 1024 need privileges)"
    elif error.errno == errno.EADDRNOTAVAIL:
        why = "no such address on this machine"
    else:
        why = (error.strerror or str(error)).lower()
    return SetupError(f"cannot listen on {address}: {why}; pass {ADDRESS_FLAG}")


def check_address(address: str) -> None:
    """Raises SetupError when nothing could listen on the address now, before a command
    prepares anything for a server that would not start."""
    error = _bind(address)
    if error is not None:
        raise cannot_listen(address, error)


# Transport security

PLAINTEXT_FLAG = "--allow-plaintext (MODELYARD_ALLOW_PLAINTEXT=1)"
TLS_FLAGS = "--tls-cert FILE and --tls-key FILE"


def is_loopback(address: str) -> bool:
    """Returns whether the address's host is this machine only: localhost, 127.0.0.0/8, ::1."""
    host = address.rpartition(":")[0].strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a hostname: it may resolve anywhere
        return False


def check_transport(settings: Settings) -> None:
    """Raises SetupError for TLS files that cannot be served, and for plaintext on an
    address other than loopback that was not asked for (tokens would cross the network in
    the clear)."""
    try:
        check_files(settings)
    except TlsFileError as error:
        raise SetupError(str(error)) from None
    if settings.tls or settings.allow_plaintext or is_loopback(settings.address):
        return
    raise SetupError(
        f"refusing plaintext gRPC on {settings.address}, which is not loopback: tokens would "
        f"cross the network in the clear; pass {TLS_FLAGS}, or {PLAINTEXT_FLAG} behind a "
        "proxy that terminates TLS"
    )


def plaintext_exposed(settings: Settings) -> bool:
    """Returns whether the server serves plaintext beyond this machine (asked for)."""
    return not settings.tls and not is_loopback(settings.address)


# The data directory


def _why(error: OSError) -> str:
    if error.errno == errno.EEXIST:
        return "it is a file, not a directory"
    if error.errno == errno.ENOTDIR:
        return "part of its path is a file, not a directory"
    return (error.strerror or str(error)).lower()


def make_directory(path: Path, what: str, flag: str, *, private: bool = False) -> None:
    """Creates a directory the server writes in, unless it exists; SetupError naming `what`
    and `flag` when it cannot be made or written. A `private` one is made mode 0700."""
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700 if private else 0o777)
    except OSError as error:
        why = _why(error)
    else:
        if os.access(path, os.W_OK | os.X_OK):
            if private:
                keep_private(path, 0o700)
            return
        why = "it is not writable"
    raise SetupError(f"cannot use {what} {path}: {why}; pass one you may write with {flag}")


def make_data_dir(settings: Settings) -> None:
    """Creates the data directory (the admin token's, the key's, and SQLite's by default) if
    need be, readable by the server's user alone (mode 0700); tightens an existing one."""
    make_directory(settings.data_dir, "the data directory", DATA_DIR_FLAG, private=True)


def keep_private(path: Path, mode: int) -> None:
    """Takes away the others' access to a file or directory of the server (to `mode`),
    saying so in the log when it had to."""
    try:
        found = path.stat().st_mode & 0o777
        if found & ~mode:
            os.chmod(path, mode)
            log.warning(
                "%s was open to others (mode %o): made it %o, readable by this user alone",
                path,
                found,
                mode,
            )
    except FileNotFoundError:
        return
    except OSError as error:
        raise SetupError(
            f"cannot make {path} private: {_why(error)}; `chmod {mode:o} {path}`"
        ) from None


def open_keyring(settings: Settings, *, create: bool = True) -> Keyring:
    """Returns the server's keys, creating the default key file on the first start (when
    `create`: serve, migrate); a key file that was named but is missing is an error, never
    replaced by a new key."""
    try:
        return load_keyring(settings.key_path, create=create and not settings.key_file)
    except KeyFileError as error:
        raise SetupError(str(error)) from None


async def bind_log_key(settings: Settings, engines: Engines, keyring: Keyring) -> None:
    """Checks that the key file is the one the database's audit log is chained with (and
    records it on the first start); SetupError when it is not."""
    try:
        keyed = await bind_key(engines, keyring)
    except KeyMismatch as error:
        raise SetupError(
            f"the key file {settings.key_path} (fingerprint {error.given}) is not the one the "
            f"audit log of {Database.of(settings).said} is chained with (fingerprint "
            f"{error.recorded}); pass that key file with {KEY_FLAG}"
        ) from None
    except UnkeyedChainBroken as error:
        raise SetupError(
            f"the audit log of tenant {error.tenant!r} was altered before this release keyed "
            f"it (broken at seq {error.seq}); restore the database from a backup made before "
            "the change, then start again"
        ) from None
    if keyed:
        logging.getLogger("modelyard.server").warning(
            "keyed the %d audit log entries written before the chain was keyed; "
            "store a checkpoint now (`modelyard audit checkpoint > FILE`)",
            keyed,
        )


# The database


@dataclass(frozen=True)
class Database:
    """The database that the settings name, as an operator would: the data directory's
    SQLite file, or the URL they gave; and how to name another."""

    said: str  # "the database in the data directory /srv/modelyard"
    other: str  # "the server's data directory with --data-dir DIR (or MODELYARD_DATA_DIR)"
    file: Path | None  # SQLite's

    @classmethod
    def of(cls, settings: Settings) -> Database:
        url = make_url(settings.database_url)
        name = url.database or ""
        file = Path(name) if url.get_backend_name() == "sqlite" and name != ":memory:" else None
        if settings.database_in_data_dir:
            return cls(
                f"the database in the data directory {settings.data_dir}",
                f"the server's data directory with {DATA_DIR_FLAG}",
                file,
            )
        return cls(
            f"the database {redacted(settings.database_url)}",
            f"the server's database with {DATABASE_FLAG}",
            file,
        )

    def cannot_open(self, error: OSError | DBAPIError) -> SetupError:
        if isinstance(error, DBAPIError):
            why = str(error.orig).splitlines()[0] if error.orig is not None else str(error)
            return SetupError(f"cannot open {self.said}: {why}; pass {self.other}")
        if isinstance(error, ConnectionRefusedError):
            why = "connection refused"
        elif isinstance(error, socket.gaierror):
            why = "unknown host"
        elif isinstance(error, TimeoutError):
            why = "timed out"
        else:
            why = _why(error)
        return SetupError(f"cannot reach {self.said}: {why}; start it, or pass {self.other}")


def _missing(settings: Settings, database: Database) -> SetupError | None:
    """Returns the error for a SQLite file that is not there (a database URL is not
    looked at here: connecting answers for it)."""
    if database.file is None or database.file.exists():
        return None
    if not settings.database_in_data_dir:
        return SetupError(f"no database file {database.file}; pass {database.other}, or {CREATE}")
    if not settings.data_dir.exists():
        missing = "no such directory"
    elif not settings.data_dir.is_dir():
        missing = "it is a file, not a directory"
    else:
        missing = "no modelyard.db"
    return SetupError(
        f"no modelyard database in {settings.data_dir} ({missing}); pass {database.other}, "
        f"or {CREATE}"
    )


def make_private_file(file: Path) -> None:
    """Creates the SQLite file (an empty one is an empty database) readable by the server's
    user alone, or tightens it and its WAL files: they hold the registry's secrets."""
    try:
        os.close(os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    except OSError as error:
        raise SetupError(f"cannot create the database file {file}: {_why(error)}") from None
    for path in (file, file.with_name(file.name + "-wal"), file.with_name(file.name + "-shm")):
        keep_private(path, 0o600)


async def open_database(settings: Settings, *, create: bool, pool_size: int = 8) -> Engines:
    """Returns the engines of the settings' database, its schema current: migrated if need
    be when `create` (serve, migrate); otherwise (token, import) it must have been, by a
    server. SetupError says what is wrong with the database otherwise."""
    database = Database.of(settings)
    if database.file is not None and create:
        if settings.database_in_data_dir:
            make_data_dir(settings)
        else:
            make_directory(database.file.parent, "the database file's directory", DATABASE_FLAG)
    missing = None if create else _missing(settings, database)
    if missing is not None:
        raise missing
    if database.file is not None and create:
        make_private_file(database.file)
    engines = open_engines(settings.database_url, pool_size=pool_size)
    try:
        try:
            revision = await schema_revision(engines)
        except (OSError, DBAPIError) as error:
            raise database.cannot_open(error) from error
        head = SCHEMA_HEAD
        if revision not in (None, head) and revision not in known_revisions():
            raise SetupError(
                f"{database.said} has schema revision {revision}, newer than this "
                f"modelyard-server knows ({head}); run the release that wrote it, or a later one"
            )
        if create and revision != head:
            await migrate(engines)
            log.info(
                "migrated %s from schema revision %s to %s",
                database.said.removeprefix("the "),
                revision or "none (a new database)",
                head,
                extra={"event": "migration"},
            )
        elif revision is None:
            raise SetupError(
                f"{database.said} has no modelyard schema; pass {database.other}, or {CREATE}"
            )
        elif revision != head:
            raise SetupError(
                f"{database.said} has schema revision {revision}, this modelyard-server needs "
                f"{head}; run `modelyard-server migrate` first"
            )
    except BaseException:
        await engines.dispose()
        raise
    return engines
