"""The unit layer: no gRPC and no server; the domain is called directly on a real store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.inprocess import Domain, open_domain


@pytest.fixture
async def domain(tmp_path: Path) -> AsyncIterator[Domain]:
    """The registry's use cases on a fresh, migrated SQLite file, in the default tenant."""
    async with open_domain(tmp_path / "registry.db") as opened:
        yield opened
