"""The ``modelyard`` command: the registry from a shell.

``modelyard [--address A] [--token T] [--output table|json|csv] FAMILY COMMAND ...``; a
module per command family (``groups``, ``versions``, ``alias``, ``audit``, ``webhooks``, …)
adds its commands with ``add_commands``, so new families slot in by adding a module to
:data:`FAMILIES`. Tables are for people; ``--output json`` (``--json``) and ``--output csv``
are for scripts. A failure prints one line ``error: <REASON>: <message>`` to stderr (a JSON
object with ``--json``) and exits non-zero, never with a usage dump or a traceback.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from modelyard import __version__
from modelyard.cli import (
    aliases,
    approvals,
    artifacts,
    audit,
    groups,
    history,
    policy,
    retention,
    schemas,
    stages,
    tokens,
    validate,
    versions,
    watch,
    webhooks,
)
from modelyard.cli.failures import EXIT_ERROR, EXIT_USAGE, Failure, from_error, usage
from modelyard.cli.options import Commands, Handler, Invocation, add_connection_options
from modelyard.cli.output import Output
from modelyard.errors import ModelyardError
from modelyard.transport import (
    ADDRESS_ENV,
    DATA_DIR_ENV,
    DEFAULT_ADDRESS,
    DEFAULT_PORT,
    TOKEN_ENV,
    TOKEN_FILE_ENV,
)

__all__ = ["EXIT_ERROR", "EXIT_USAGE", "FAMILIES", "Parser", "build_parser", "main"]

#: The command families, in the order ``--help`` lists them.
FAMILIES: Sequence[Callable[[Commands], None]] = (
    groups.add_commands,
    versions.add_commands,
    approvals.add_commands,
    stages.add_commands,
    aliases.add_commands,
    policy.add_commands,
    retention.add_commands,
    history.add_commands,
    audit.add_commands,
    watch.add_commands,
    webhooks.add_commands,
    artifacts.add_commands,
    validate.add_commands,
    schemas.add_commands,
    tokens.add_commands,
)

EPILOG = f"""\
The registry's address is --address, else ${ADDRESS_ENV}, else {DEFAULT_ADDRESS}; an
address without a port gets {DEFAULT_PORT}.

The token is --token, else the first of, from any directory:
  ${TOKEN_ENV}
  the file named by ${TOKEN_FILE_ENV}
  ${DATA_DIR_ENV}/admin.token, when ${DATA_DIR_ENV} is set (a new server writes its admin
    token there)
  ${{XDG_CONFIG_HOME:-~/.config}}/modelyard/token

`modelyard COMMAND --help` shows a command's arguments."""

_INVALID_COMMAND = re.compile(r"argument (?:FAMILY|COMMAND): invalid choice: '?([^'\s]*)'?")


class CommandLineError(Exception):
    """A command line that does not parse, and the parser (command) it was meant for."""

    def __init__(self, parser: Parser, message: str) -> None:
        super().__init__(message)
        self.parser = parser
        self.message = message

    def failure(self) -> Failure:
        """Returns the one-line failure: what is wrong and where help is."""
        parser = self.parser
        unknown = _INVALID_COMMAND.match(self.message)
        if unknown and parser.commands is not None:
            name = unknown.group(1)
            close = difflib.get_close_matches(name, list(parser.commands.choices), n=1)
            maybe = f" (did you mean {close[0]}?)" if close else ""
            return usage(
                f"{parser.prog} has no command {name!r}{maybe}; "
                f"run `{parser.prog} --help` for its commands"
            )
        return usage(f"{self.message}; run `{parser.prog} --help`")


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are raised to :func:`main`, to be told in one line
    (argparse itself prints the whole usage first)."""

    commands: Commands | None = None

    def error(self, message: str) -> NoReturn:
        raise CommandLineError(self, message)

    def add_subparsers(self, **kwargs: Any) -> Any:
        """Returns the subparsers action, remembered to list the commands."""
        self.commands = super().add_subparsers(**kwargs)
        return self.commands

    def overview(self) -> str:
        """Returns the usage line and the list of commands with their one-line help."""
        commands = self.commands
        # argparse's help formatter reads the commands' help lines the same way.
        listed = [(a.dest, a.help or "") for a in commands._get_subactions()] if commands else []
        width = max((len(name) for name, _ in listed), default=0)
        options = " [OPTIONS]" if self.prog == "modelyard" else ""
        usage = f"usage: {self.prog}{options} COMMAND ..."
        lines = [usage, "", self.description or "", "", "commands:"]
        lines += [f"  {name:<{width}}  {help}" for name, help in listed]
        options = ", `modelyard --help` the options" if self.prog == "modelyard" else ""
        lines += ["", f"`{self.prog} COMMAND --help` shows a command's arguments{options}."]
        return "\n".join(lines)


def build_parser() -> Parser:
    """Returns the parser of the whole command line."""
    parser = Parser(
        prog="modelyard",
        description="Call a modelyard model registry.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_connection_options(parser, top_level=True)
    parser.add_argument("--version", action="version", version=f"modelyard {__version__}")
    parser.set_defaults(overview=parser)
    commands = parser.add_subparsers(dest="family", metavar="COMMAND")
    for add_commands in FAMILIES:
        add_commands(commands)
    return parser


def _wants_json(argv: Sequence[str]) -> bool:
    """Returns whether the command line asks for JSON, read before it is parsed (so that a
    command line that does not parse fails in JSON too)."""
    for i, arg in enumerate(argv):
        if arg == "--json":
            return True
        if arg in ("--output", "-o") and i + 1 < len(argv):
            value = argv[i + 1]
        elif arg.startswith("--output="):
            value = arg.partition("=")[2]
        elif arg.startswith("-o") and len(arg) > 2:
            value = arg[2:]
        else:
            continue
        if value.lower() == "json":
            return True
    return False


def _no_command(parser: Parser, as_json: bool) -> int:
    """Says which commands there are, when a command line names a family or nothing."""
    if as_json:
        failure = usage(f"which command? run `{parser.prog} --help` for the commands")
        return failure.report(sys.stderr, as_json)
    sys.stderr.write(parser.overview() + "\n")
    return EXIT_USAGE


def _run(handler: Handler, run: Invocation) -> int | Failure:
    try:
        return handler(run) or 0
    except ModelyardError as error:
        return from_error(error, run.connection, run.args.timeout)
    except (ValueError, TypeError) as error:
        # The SDK's checks of the caller's input, e.g. a bad name or a naive time.
        return usage(str(error))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `modelyard versions list | head`: the reader left; that is not an error.
        sys.stderr.close()
        return 0
    except OSError as error:  # a local file: missing, unreadable, or in the way
        return usage(
            str(error) if not error.filename else f"{error.strerror or error}: {error.filename}"
        )
    except Exception as error:  # a bug of ours: one line, and the traceback on request
        if os.environ.get("MODELYARD_DEBUG"):
            traceback.print_exc()
        return Failure(
            "INTERNAL",
            "UNEXPECTED",
            f"{type(error).__name__}: {error} (set MODELYARD_DEBUG=1 for details)",
        )
    finally:
        run.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Runs one command line and returns the process exit code."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    as_json = _wants_json(arguments)
    try:
        args, extra = build_parser().parse_known_args(arguments)
        if extra:  # told with the help of the command they were given to
            parser = getattr(args, "command_parser", None) or args.overview
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    except CommandLineError as error:
        return error.failure().report(sys.stderr, as_json)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        return _no_command(args.overview, as_json)
    output = Output(args.output)
    result = _run(handler, Invocation(args, output))
    if isinstance(result, Failure):
        return result.report(sys.stderr, output.as_json)
    return result
