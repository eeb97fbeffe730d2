"""What a failed command prints: one line on stderr that says what went wrong and what to do
(``{"error": {...}}`` with ``--output json``), and the exit status it ends with.

The registry's errors carry a reason and a sentence; the ones no server sent (it could not be
reached, or did not answer) and a missing token are told in the CLI's terms: the address it
dialed and where that came from, the places it looked for a token.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TextIO

from modelyard.errors import ModelyardError, TlsHandshakeFailed, unreachable
from modelyard.transport import TlsFiles, TokenSearch, user_token_file

__all__ = ["EXIT_ERROR", "EXIT_USAGE", "Connection", "Failure", "from_error", "usage"]

#: The call failed, or the check it ran found a problem.
EXIT_ERROR = 1
#: The command line or the local configuration is wrong.
EXIT_USAGE = 2

#: The reason of a failure found before any call: the command line or the local setup.
COMMAND_LINE = "COMMAND_LINE"


@dataclass(frozen=True)
class Connection:
    """Where the CLI sends its calls, and where that came from, for the errors to say.

    Attributes:
        address: the address dialed, e.g. ``127.0.0.1:50051``.
        address_source: ``--address``, ``$MODELYARD_ADDRESS`` or ``the default``.
        token: the token sent (if any), where it came from, and where the CLI looked.
        tls: the TLS files the channel was made of; None for plaintext.
    """

    address: str
    address_source: str
    token: TokenSearch
    tls: TlsFiles | None = None


@dataclass(frozen=True)
class Failure:
    """One failure, as the user is told it.

    Attributes:
        code: the gRPC status code's name (``NOT_FOUND``); ``INVALID_ARGUMENT`` for a bad
            command line.
        reason: the registry's reason (``MODEL_GROUP_NOT_FOUND``), or ``COMMAND_LINE``.
        message: what went wrong and what to do, in one line.
        exit_status: the command's exit status.
    """

    code: str
    reason: str
    message: str
    exit_status: int = EXIT_ERROR
    metadata: dict[str, str] = field(default_factory=dict)
    field_violations: list[tuple[str, str]] = field(default_factory=list)

    def line(self) -> str:
        """Returns the one line people read: ``error: REASON: message``."""
        if self.reason == COMMAND_LINE:
            return f"error: {self.message}"
        return f"error: {self.reason}: {self.message}"

    def document(self) -> dict[str, object]:
        """Returns the JSON form scripts read: ``{"error": {"code", "reason", "message"}}``,
        with ``metadata`` and ``fieldViolations`` when the registry sent them."""
        error: dict[str, object] = {
            "code": self.code,
            "reason": self.reason,
            "message": self.message,
        }
        if self.metadata:
            error["metadata"] = self.metadata
        if self.field_violations:
            error["fieldViolations"] = [
                {"field": name, "description": description}
                for name, description in self.field_violations
            ]
        return {"error": error}

    def report(self, stream: TextIO, as_json: bool) -> int:
        """Writes the failure to ``stream`` and returns the exit status."""
        text = json.dumps(self.document()) if as_json else self.line()
        stream.write(text + "\n")
        return self.exit_status


def usage(message: str) -> Failure:
    """Returns the failure of a bad command line or local setup (exit status 2)."""
    return Failure("INVALID_ARGUMENT", COMMAND_LINE, message, EXIT_USAGE)


def _unreachable(error: ModelyardError, where: Connection) -> str:
    detail = error.message.lower()
    running = "is the server running? `make run` starts one"
    if "connection refused" in detail:
        cause, check = "connection refused", running
    elif "dns resolution failed" in detail or "lookup" in detail:
        cause, check = "no such host", "is the address right?"
    elif "socket closed" in detail:
        cause = "the server closed the connection"
        check = (
            "if it serves TLS, pass the CA that signed its certificate with --tls-ca FILE "
            "(or $MODELYARD_TLS_CA)"
        )
    else:
        cause, check = "no answer", f"is the address right, and {running}"
    return (
        f"cannot reach the registry at {where.address} ({where.address_source}, {cause}): {check}"
    )


def _handshake(error: ModelyardError, where: Connection) -> str | None:
    """Returns what a failed TLS handshake means, for an error that did not say it yet (a
    watch's); None when it was not one."""
    explained = unreachable(error, where.address, where.tls is not None, where.tls)
    return explained.message if isinstance(explained, TlsHandshakeFailed) else None


def _unauthenticated(error: ModelyardError, where: Connection) -> str:
    search = where.token
    if search.token is None:
        return (
            f"no token: looked at {', '.join(search.searched)}; put one in "
            f"{user_token_file()} or $MODELYARD_TOKEN (a new server writes its admin token "
            "to DATA_DIR/admin.token)"
        )
    return f"{error.message} (the token from {search.source}, sent to {where.address})"


def from_error(error: ModelyardError, where: Connection | None, timeout: float | None) -> Failure:
    """Returns the failure a registry error is told as.

    A failure no server sent (no ErrorInfo: its reason is the code's name) is told with the
    address and what to check; an INVALID_FIELD lists each field once (the server's message
    is a summary of the same violations).
    """
    message = error.message
    no_server_reason = error.reason == error.code.name
    if error.field_violations:
        message = "; ".join(f"{name}: {text}" for name, text in error.field_violations)
    elif isinstance(error, TlsHandshakeFailed):
        pass  # it says what failed and which options to pass
    elif where is not None and (handshake := _handshake(error, where)) is not None:
        message = handshake
    elif where is not None and no_server_reason and error.reason == "UNAVAILABLE":
        message = _unreachable(error, where)
    elif where is not None and no_server_reason and error.reason == "DEADLINE_EXCEEDED":
        waited = f" within {timeout:g} s" if timeout is not None else ""
        message = (
            f"the registry at {where.address} did not answer{waited}; "
            "is the address right? --timeout SECONDS waits longer"
        )
    elif where is not None and error.reason == "UNAUTHENTICATED":
        message = _unauthenticated(error, where)
    return Failure(
        error.code.name,
        error.reason,
        message,
        EXIT_ERROR,
        dict(error.metadata),
        list(error.field_violations),
    )
