"""What every command gets: its parsed arguments, the output, and a registry on demand."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from typing import TypeAlias, TypeVar

from modelyard.cli.failures import Connection
from modelyard.cli.output import FORMATS, Output
from modelyard.client import Registry
from modelyard.names import version_name
from modelyard.transport import (
    ADDRESS_ENV,
    DEFAULT_TIMEOUT,
    TLS_CA_ENV,
    TLS_CERT_ENV,
    TLS_KEY_ENV,
    TokenSearch,
    find_token,
    resolve_address,
    resolve_tls,
)

__all__ = [
    "Commands",
    "Handler",
    "Invocation",
    "add_command",
    "add_connection_options",
    "add_family",
    "add_limit",
    "add_request_id",
    "add_version_arguments",
    "choice",
    "key_value",
    "key_values",
    "metric",
    "named_version",
    "timestamp",
]

T = TypeVar("T")

# argparse does not export the type of add_subparsers()' result.
Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


@dataclass
class Invocation:
    """One run of a command: the arguments, where to print, and the registry to call."""

    args: argparse.Namespace
    output: Output
    _registry: Registry | None = field(default=None, repr=False)
    _connection: Connection | None = field(default=None, repr=False)

    @property
    def connection(self) -> Connection | None:
        """Where the calls go and with which token; None until the registry is opened."""
        return self._connection

    @property
    def registry(self) -> Registry:
        """The registry named by --address/--token (or the environment), opened on first use.

        Raises ValueError when the address is not one, or a token file cannot be read.
        """
        if self._registry is None:
            given: str | None = self.args.address
            if given:
                source = "--address"
            elif os.environ.get(ADDRESS_ENV):
                source = f"${ADDRESS_ENV}"
            else:
                source = "the default address"
            address = resolve_address(given)
            token = self.args.token
            search = TokenSearch(token, "--token", ()) if token else find_token()
            tls = resolve_tls(self.args.tls_ca, self.args.tls_cert, self.args.tls_key)
            self._connection = Connection(address, source, search, tls)
            self._registry = Registry(
                address,
                token=search.token,
                timeout=self.args.timeout,
                tls_ca=self.args.tls_ca,
                tls_cert=self.args.tls_cert,
                tls_key=self.args.tls_key,
            )
        return self._registry

    def close(self) -> None:
        if self._registry is not None:
            self._registry.close()

    def limited(self, items: Iterable[T]) -> Iterator[T]:
        """Returns at most --limit items (all of them when --limit is 0)."""
        limit: int = self.args.limit
        return iter(items) if limit <= 0 else islice(items, limit)

    def page_size(self) -> int:
        """Returns the page size that fetches --limit items in one call (0: the server's)."""
        limit: int = self.args.limit
        return min(limit, 1000) if limit > 0 else 0


Handler = Callable[[Invocation], int | None]


def choice(values: Sequence[str], prefix: str, what: str) -> Callable[[str], str]:
    """Returns an argparse type that takes one of ``values`` in any case, with or without
    the enum's prefix and with ``-`` for ``_``: ``staging``, ``STAGING`` and
    ``STAGE_STAGING`` all give ``staging`` when ``values`` has it so. ``what`` names a
    value in the error, e.g. ``a stage``."""
    by_key = {value.upper(): value for value in values}

    def parse(text: str) -> str:
        key = text.strip().upper().replace("-", "_")
        value = by_key.get(key) or by_key.get(key.removeprefix(prefix))
        if value is None:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not {what}; use one of {', '.join(values)}"
            )
        return value

    return parse


def add_connection_options(parser: argparse.ArgumentParser, *, top_level: bool) -> None:
    """Adds --address, --token, --tls-ca/--tls-cert/--tls-key, --output (and --json), and
    --timeout.

    They are accepted before the family (``modelyard --json groups list``) and after the
    command (``modelyard groups list --json``); on a command their defaults are suppressed
    so they do not overwrite what was given before the family.
    """

    def default(value: object) -> object:
        return value if top_level else argparse.SUPPRESS

    parser.add_argument(
        "--address",
        default=default(None),
        metavar="HOST:PORT",
        help=f"the registry (default ${ADDRESS_ENV} or 127.0.0.1:50051; port 50051 if none)",
    )
    parser.add_argument(
        "--token", default=default(None), help="bearer token (prefer $MODELYARD_TOKEN)"
    )
    parser.add_argument(
        "--tls-ca",
        default=default(None),
        metavar="FILE",
        help=f"the CA (PEM) that signed the registry's TLS certificate (default ${TLS_CA_ENV})",
    )
    parser.add_argument(
        "--tls-cert",
        default=default(None),
        metavar="FILE",
        help=f"a client certificate (PEM), for a registry that requires one (default ${TLS_CERT_ENV})",
    )
    parser.add_argument(
        "--tls-key",
        default=default(None),
        metavar="FILE",
        help=f"the private key (PEM) of --tls-cert (default ${TLS_KEY_ENV})",
    )
    parser.add_argument(
        "--output",
        "-o",
        type=choice(FORMATS, "", "an output format"),
        default=default("table"),
        metavar="FORMAT",
        help="table (default; for people), json or csv (for scripts)",
    )
    parser.add_argument(
        "--json",
        dest="output",
        action="store_const",
        const="json",
        default=argparse.SUPPRESS,
        help="the same as --output json",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=default(DEFAULT_TIMEOUT),
        metavar="SECONDS",
        help=f"deadline of each call (default {DEFAULT_TIMEOUT:g})",
    )


def add_family(commands: Commands, name: str, help: str, description: str) -> Commands:
    """Returns the commands of a new family (``modelyard versions ...``); the family alone
    lists them."""
    family = commands.add_parser(name, help=help, description=description)
    add_connection_options(family, top_level=False)
    family.set_defaults(overview=family)
    return family.add_subparsers(dest="command", metavar="COMMAND")


def add_command(commands: Commands, name: str, help: str) -> argparse.ArgumentParser:
    """Returns a new command's parser, which also takes the connection options."""
    parser = commands.add_parser(name, help=help, description=help[:1].upper() + help[1:] + ".")
    add_connection_options(parser, top_level=False)
    parser.set_defaults(command_parser=parser)
    return parser


def key_value(text: str) -> tuple[str, str]:
    """Parses ``key=value`` (the value may be empty or contain ``=``)."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    return key, value


def metric(text: str) -> tuple[str, float]:
    """Parses ``name=number``."""
    key, value = key_value(text)
    try:
        return key, float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"metric {key!r} needs a number, got {value!r}") from None


def key_values(pairs: Sequence[tuple[str, T]] | None) -> dict[str, T]:
    """Returns repeated ``--flag k=v`` options as a dict; a later key wins."""
    return dict(pairs or ())


def timestamp(text: str) -> datetime:
    """Parses an RFC 3339 time; one without an offset is taken as UTC."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a time like 2026-11-01T00:00:00Z, got {text!r}"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def positive_int(text: str) -> int:
    """Parses a whole number >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {value}")
    return value


def add_request_id(parser: argparse.ArgumentParser) -> None:
    """Adds ``--request-id``."""
    parser.add_argument(
        "--request-id",
        default=None,
        help="idempotency key: repeating the command with the same key changes nothing twice",
    )


def add_limit(parser: argparse.ArgumentParser, what: str) -> None:
    """Adds ``--limit N``."""
    parser.add_argument(
        "--limit",
        type=positive_int,
        default=0,
        metavar="N",
        help=f"print at most N {what} (default: all)",
    )


def add_force(parser: argparse.ArgumentParser, doing: str, *, reason: bool = True) -> None:
    """Adds ``--force`` (and ``--reason``, unless the command has one): go ahead although
    production versions depend on the version."""
    parser.add_argument(
        "--force",
        action="store_true",
        help=f"{doing} even though production versions depend on it (needs --reason; logged)",
    )
    if reason:
        parser.add_argument("--reason", default="", help="why, recorded in the audit log")


def add_version_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds the ``GROUP [VERSION]`` positionals that name one version (see
    :func:`named_version`)."""
    parser.add_argument("group", help="group id, or a version name like groups/fraud/versions/3")
    parser.add_argument("version", nargs="?", default=None, help="version number or 'latest'")


def named_version(args: argparse.Namespace) -> str:
    """Returns the version name that ``GROUP [VERSION]`` gives: ``fraud 3``,
    ``groups/fraud/versions/3`` or ``groups/fraud/aliases/champion``."""
    if args.version is None and "/versions/" not in args.group and "/aliases/" not in args.group:
        raise ValueError(
            f"which version of {args.group!r}? give a number or 'latest' after the group, "
            f"e.g. {args.group} 3, or a name like groups/{args.group}/versions/3"
        )
    return version_name(args.group, args.version)
