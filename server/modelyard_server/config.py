"""Server settings: flags first, then MODELYARD_* environment variables, then defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_ADDRESS = "127.0.0.1:50051"
DEFAULT_DATA_DIR = "modelyard-data"
DEFAULT_HEARTBEAT_SECONDS = 5.0


def _positive(name: str, text: str | None, default: float) -> float:
    """Returns the number an environment variable or flag gives, if it is one above zero."""
    if text is None or text == "":
        return default
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise ValueError(f"{name} must be a number above 0, got {text!r}")
    return value


@dataclass(frozen=True)
class Settings:
    address: str
    data_dir: Path
    database_url: str
    grace_seconds: float = 5.0
    # Server processes sharing the port (SO_REUSEPORT); more than 1 uses more cores.
    workers: int = 1
    # Whether this process shares its port with sibling workers.
    reuse_port: bool = False
    # Event streams: a heartbeat after this long without a message.
    heartbeat_seconds: float = DEFAULT_HEARTBEAT_SECONDS
    # How often the hub looks for commits nobody announced (0: 0.25 s on SQLite, where other
    # processes may share the file; 5 s on PostgreSQL, where NOTIFY announces them).
    watch_poll_seconds: float = 0.0
    # Events a stream may have waiting before it is ended as too slow.
    watch_buffer: int = 1000
    # Webhooks: the first retry's delay (doubling after each failure), attempts in all, and
    # how long one attempt may take.
    webhook_backoff_seconds: float = 10.0
    webhook_max_attempts: int = 8
    webhook_timeout_seconds: float = 10.0

    @property
    def token_file(self) -> Path:
        return self.data_dir / "admin.token"


def load(
    address: str | None = None,
    data_dir: str | None = None,
    database_url: str | None = None,
    heartbeat_seconds: str | None = None,
    workers: str | None = None,
) -> Settings:
    """Returns the settings, each taken from its flag, else its environment variable, else the default.

    Raises ValueError naming the setting when a value is not usable.
    """
    env = os.environ.get
    directory = Path(data_dir or os.environ.get("MODELYARD_DATA_DIR") or DEFAULT_DATA_DIR).resolve()
    url = (
        database_url
        or os.environ.get("MODELYARD_DATABASE_URL")
        or f"sqlite:///{directory / 'modelyard.db'}"
    )
    return Settings(
        address=address or os.environ.get("MODELYARD_ADDRESS") or DEFAULT_ADDRESS,
        data_dir=directory,
        database_url=url,
        workers=int(_positive("MODELYARD_WORKERS", workers or env("MODELYARD_WORKERS"), 1)),
        reuse_port=env("MODELYARD_REUSE_PORT") == "1",
        heartbeat_seconds=_positive(
            "--heartbeat-seconds (MODELYARD_HEARTBEAT_SECONDS)",
            heartbeat_seconds or env("MODELYARD_HEARTBEAT_SECONDS"),
            DEFAULT_HEARTBEAT_SECONDS,
        ),
        watch_poll_seconds=_positive(
            "MODELYARD_WATCH_POLL_SECONDS", env("MODELYARD_WATCH_POLL_SECONDS"), 0.0
        ),
        watch_buffer=int(_positive("MODELYARD_WATCH_BUFFER", env("MODELYARD_WATCH_BUFFER"), 1000)),
        webhook_backoff_seconds=_positive(
            "MODELYARD_WEBHOOK_BACKOFF_SECONDS", env("MODELYARD_WEBHOOK_BACKOFF_SECONDS"), 10.0
        ),
        webhook_max_attempts=int(
            _positive("MODELYARD_WEBHOOK_MAX_ATTEMPTS", env("MODELYARD_WEBHOOK_MAX_ATTEMPTS"), 8)
        ),
        webhook_timeout_seconds=_positive(
            "MODELYARD_WEBHOOK_TIMEOUT_SECONDS", env("MODELYARD_WEBHOOK_TIMEOUT_SECONDS"), 10.0
        ),
    )
