"""Server settings: flags first, then MODELYARD_* environment variables, then defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_ADDRESS = "127.0.0.1:50051"
DEFAULT_DATA_DIR = "modelyard-data"


@dataclass(frozen=True)
class Settings:
    address: str
    data_dir: Path
    database_url: str
    grace_seconds: float = 5.0

    @property
    def token_file(self) -> Path:
        return self.data_dir / "admin.token"


def load(
    address: str | None = None, data_dir: str | None = None, database_url: str | None = None
) -> Settings:
    """Returns the settings, each taken from its flag, else its environment variable, else the default."""
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
    )
