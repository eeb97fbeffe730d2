"""The ``modelyard`` command: the registry from a shell.

``modelyard [--address A] [--token T] [--json] FAMILY COMMAND ...``; a module per command
family (``groups``, ``versions``, ``alias``, ``audit``, ``webhooks``, …) adds its commands with
``add_commands``, so new families slot in by adding a module to :data:`FAMILIES`. Tables
are for people; ``--json`` prints the proto JSON form for scripts. A failure prints one line
``error: <REASON>: <message>`` to stderr and exits non-zero, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable, Sequence

from modelyard import __version__
from modelyard.cli import (
    aliases,
    approvals,
    audit,
    groups,
    history,
    policy,
    stages,
    versions,
    watch,
    webhooks,
)
from modelyard.cli.options import Commands, Handler, Invocation, add_connection_options
from modelyard.cli.output import Output
from modelyard.errors import ModelyardError
from modelyard.transport import ADDRESS_ENV, DEFAULT_ADDRESS, TOKEN_ENV

__all__ = ["EXIT_ERROR", "EXIT_USAGE", "FAMILIES", "build_parser", "main"]

#: The command families, in the order ``--help`` lists them.
FAMILIES: Sequence[Callable[[Commands], None]] = (
    groups.add_commands,
    versions.add_commands,
    approvals.add_commands,
    stages.add_commands,
    aliases.add_commands,
    policy.add_commands,
    history.add_commands,
    audit.add_commands,
    watch.add_commands,
    webhooks.add_commands,
)

#: The call failed, or the check it ran found a problem.
EXIT_ERROR = 1
#: The command line or the local configuration is wrong.
EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    """Returns the parser of the whole command line."""
    parser = argparse.ArgumentParser(
        prog="modelyard",
        description="Call a modelyard model registry.",
        epilog=(
            f"The address defaults to ${ADDRESS_ENV} or {DEFAULT_ADDRESS}; the token to "
            f"${TOKEN_ENV}, $MODELYARD_TOKEN_FILE, $MODELYARD_DATA_DIR/admin.token or "
            "./modelyard-data/admin.token."
        ),
    )
    add_connection_options(parser, top_level=True)
    parser.add_argument("--version", action="version", version=f"modelyard {__version__}")
    commands = parser.add_subparsers(dest="family", required=True, metavar="FAMILY")
    for add_commands in FAMILIES:
        add_commands(commands)
    return parser


def _fail(message: str, code: int) -> int:
    sys.stderr.write(f"error: {message}\n")
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Runs one command line and returns the process exit code."""
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    run = Invocation(args, Output(as_json=args.json))
    try:
        return handler(run) or 0
    except ModelyardError as error:
        return _fail(str(error), EXIT_ERROR)
    except (ValueError, TypeError) as error:
        # The SDK's checks of the caller's input, e.g. a bad name or a naive time.
        return _fail(str(error), EXIT_USAGE)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `modelyard versions list | head`: the reader left; that is not an error.
        sys.stderr.close()
        return 0
    except Exception as error:  # a bug of ours: one line, and the traceback on request
        if os.environ.get("MODELYARD_DEBUG"):
            traceback.print_exc()
        return _fail(
            f"unexpected {type(error).__name__}: {error} (set MODELYARD_DEBUG=1 for details)",
            EXIT_ERROR,
        )
    finally:
        run.close()
