"""A real Chromium for the UI's tests: Debian's /usr/bin/chromium driven by playwright.

Never `playwright install` (it downloads a browser of its own). Without Chromium the browser
tests are skipped with a message that says so, except under CI, where they must run.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.support.paths import REPO

CHROMIUM = Path(os.environ.get("MODELYARD_TEST_CHROMIUM", "/usr/bin/chromium"))
# Screenshots of the main pages, kept after the run (make test prints nothing about them).
SCREENSHOTS = Path(os.environ.get("MODELYARD_TEST_OUTPUT", REPO / "test-output")) / "ui"


def chromium_or_skip() -> str:
    """Returns the Chromium binary to launch; skips without one (fails under CI)."""
    if CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK):
        return str(CHROMIUM)
    message = (
        f"no Chromium at {CHROMIUM}: the browser tests need Debian's package "
        "(`apt-get install -y chromium`; .ci/run installs it)"
    )
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the browser tests, but: {message}")
    pytest.skip(f"browser tests skipped: {message}")


def screenshot_dir() -> Path:
    """Returns the emptied folder the UI's screenshots go to."""
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
