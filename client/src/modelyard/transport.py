"""What every call of the SDK's clients shares: address, token, metadata, deadline, retries.

The transports themselves, ``Transport`` (sync) and ``AsyncTransport`` (``grpc.aio``),
live in ``modelyard._sync`` and ``modelyard._async`` and follow the policy set here: the
bearer token and the caller's metadata are attached, one deadline covers all attempts of
a call, and a call that fails with UNAVAILABLE is tried again with exponential backoff and
jitter. Mutating requests carry a ``request_id`` by the time they get here, so a retry of a
write the server already committed returns the first result instead of writing twice.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata as _dist_metadata
from pathlib import Path

import grpc

from modelyard.errors import ModelyardError

__all__ = [
    "ADDRESS_ENV",
    "DATA_DIR_ENV",
    "DEFAULT_ADDRESS",
    "DEFAULT_DATA_DIR",
    "DEFAULT_TIMEOUT",
    "TOKEN_ENV",
    "TOKEN_FILE_ENV",
    "TOKEN_FILE_NAME",
    "Deadline",
    "Metadata",
    "RetryPolicy",
    "call_metadata",
    "channel_options",
    "discover_token",
    "resolve_address",
]

ADDRESS_ENV = "MODELYARD_ADDRESS"
TOKEN_ENV = "MODELYARD_TOKEN"
TOKEN_FILE_ENV = "MODELYARD_TOKEN_FILE"
DATA_DIR_ENV = "MODELYARD_DATA_DIR"
DEFAULT_ADDRESS = "127.0.0.1:50051"
DEFAULT_DATA_DIR = "modelyard-data"
TOKEN_FILE_NAME = "admin.token"
#: Seconds a call may take, over all its attempts, unless the caller says otherwise.
DEFAULT_TIMEOUT = 30.0

Metadata = Sequence[tuple[str, str]]


def resolve_address(address: str | None = None) -> str:
    """Returns the address to dial: ``address``, else $MODELYARD_ADDRESS, else the default."""
    return address or os.environ.get(ADDRESS_ENV) or DEFAULT_ADDRESS


def _read_token(path: Path) -> str:
    token = path.read_text(encoding="utf-8").strip()
    if not token:
        raise ValueError(f"token file {path} is empty")
    return token


def discover_token(environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> str | None:
    """Returns the bearer token the environment provides, or None when there is none.

    Looked up in order: $MODELYARD_TOKEN; the file named by $MODELYARD_TOKEN_FILE (which
    must then be readable); ``$MODELYARD_DATA_DIR/admin.token``; ``./modelyard-data/
    admin.token`` (the file the server writes on first start of a data directory).
    """
    env = os.environ if environ is None else environ
    token = env.get(TOKEN_ENV, "").strip()
    if token:
        return token
    token_file = env.get(TOKEN_FILE_ENV)
    if token_file:
        try:
            return _read_token(Path(token_file).expanduser())
        except OSError as err:
            raise ValueError(
                f"${TOKEN_FILE_ENV} names {token_file}, which cannot be read: {err.strerror}"
            ) from err
    data_dir = env.get(DATA_DIR_ENV)
    base = cwd if cwd is not None else Path.cwd()
    candidates = [Path(data_dir).expanduser() / TOKEN_FILE_NAME] if data_dir else []
    candidates.append(base / DEFAULT_DATA_DIR / TOKEN_FILE_NAME)
    for candidate in candidates:
        if candidate.is_file():
            return _read_token(candidate)
    return None


def call_metadata(token: str | None, extra: Metadata | None = None) -> list[tuple[str, str]]:
    """Returns the metadata of one call: the caller's, plus the bearer token unless the
    caller sent its own ``authorization``."""
    result = list(extra or ())
    if token and not any(key.lower() == "authorization" for key, _ in result):
        result.insert(0, ("authorization", f"Bearer {token}"))
    return result


@dataclass(frozen=True)
class RetryPolicy:
    """When and how long to wait before trying an UNAVAILABLE call again.

    Attempt ``n`` (counting from 1) that fails is followed by a pause drawn uniformly from
    ``[d/2, d]`` with ``d = min(max_backoff, initial_backoff * multiplier**(n-1))``; the
    jitter keeps many clients that lost the same server from returning in lockstep.
    """

    max_attempts: int = 5
    initial_backoff: float = 0.2
    max_backoff: float = 10.0
    multiplier: float = 2.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")

    def backoff(self, attempt: int) -> float:
        """Returns the seconds to wait after failed attempt number ``attempt``."""
        ceiling = min(self.max_backoff, self.initial_backoff * self.multiplier ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)

    def should_retry(self, error: ModelyardError, attempt: int) -> bool:
        """Returns whether a call that failed this way on this attempt is tried again."""
        return error.code == grpc.StatusCode.UNAVAILABLE and attempt < self.max_attempts


def _user_agent() -> str:
    try:
        version = _dist_metadata.version("modelyard-client")
    except _dist_metadata.PackageNotFoundError:
        version = "0+unknown"
    return f"modelyard-python/{version}"


def channel_options() -> list[tuple[str, str | int]]:
    """Returns the options every channel is opened with."""
    return [
        ("grpc.primary_user_agent", _user_agent()),
        # gRPC's reconnect backoff grows to 120 s by default; a registry that restarts must
        # be reachable again within the few seconds the call's own retries last.
        ("grpc.initial_reconnect_backoff_ms", 200),
        ("grpc.max_reconnect_backoff_ms", 2000),
    ]


class Deadline:
    """One deadline shared by all attempts of a call (None: no deadline)."""

    def __init__(self, timeout: float | None) -> None:
        self._at = None if timeout is None else time.monotonic() + timeout

    def remaining(self) -> float | None:
        """Returns the seconds left, or None without a deadline."""
        return None if self._at is None else max(0.0, self._at - time.monotonic())

    def allows(self, pause: float) -> bool:
        """Returns whether a pause of ``pause`` seconds ends before the deadline."""
        return self._at is None or time.monotonic() + pause < self._at
