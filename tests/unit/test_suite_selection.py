"""The suite's own selection, as `make test-fast` and the README use it: `-m postgres` and
`-m "not postgres"` split the tests that run on PostgreSQL from the rest."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.paths import REPO

BOTH_BACKENDS = "tests/unit/test_reads.py"  # tests on SQLite alone and on both


def collected(marker: str) -> list[str]:
    """Returns the ids pytest selects in BOTH_BACKENDS with `-m marker`."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
         "-m", marker, BOTH_BACKENDS],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return [line for line in done.stdout.splitlines() if "::" in line]


@pytest.mark.parametrize("marker", ["postgres", "not postgres"])
def test_the_postgres_half_is_selected_by_its_marker(marker: str) -> None:
    ids = collected(marker)
    assert ids
    # The backend is one of the id's parameters: test[postgres], test[postgres-True].
    on_postgres = [test for test in ids if "postgres" in test.partition("[")[2][:-1].split("-")]
    assert on_postgres == (ids if marker == "postgres" else [])
