"""The followed view (registry.follow): "which version is in production?" and "where does
champion point?" answered from memory, beside the same questions asked of the server, and
how long a promotion takes to reach the view.

Starts a modelyard server (one process, SQLite in a temporary directory), fills a group
with versions, one in production and one under the alias `champion`, then times, per call
as the client sees it (p50/p99):
- `production()` and `by_alias()` through the followed view (memory),
- `registry.production()` and `registry.by_alias()` (a round trip each),
and, over --promotions promotions, the time from the promotion's answer to the view
answering with the new version (commit to view). MLflow's `get_model_version_by_alias`
from the last `make bench` run (results/latest.json) is printed beside them for scale;
it is not measured here.

    .venv/bin/python bench/follow.py [--calls 5000] [--promotions 100]

Not a test: it asserts nothing about time.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import modelyard
from fanout import start_server  # bench/ is the script's directory, first on sys.path

HERE = Path(__file__).resolve().parent
GROUP = "fraud"


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def timed(action: Callable[[], object], calls: int) -> tuple[float, float]:
    """p50 and p99 of `calls` calls, in microseconds."""
    samples = []
    for _ in range(calls):
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1e6)
    return percentiles(samples)


def release(registry: modelyard.Registry, n: int) -> str:
    version = registry.register(
        GROUP, uri=f"s3://m/{n}", sha256=hashlib.sha256(f"bench-{n}".encode()).hexdigest()
    )
    registry.approve(version.name)
    registry.transition(version.name, modelyard.Stage.STAGING)
    registry.promote(version.name)
    return version.name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--promotions", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="modelyard-follow-bench-") as tmp:
        data = Path(tmp)
        process, address = start_server(data, None)
        try:
            token = (data / "admin.token").read_text().strip()
            results = run(address, token, args.calls, args.promotions)
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
    mlflow = next(
        (r["mlflow"] for r in json.loads((HERE / "results" / "latest.json").read_text())
         if r["op"] == "get_alias_seq"),
        None,
    )  # fmt: skip
    print(f"{'question':<44} {'p50 us':>10} {'p99 us':>10}")
    for label, (p50, p99) in results.items():
        print(f"{label:<44} {p50:>10.1f} {p99:>10.1f}")
    if mlflow is not None:
        print(
            f"{'MLflow get_model_version_by_alias (last run)':<44} "
            f"{mlflow['p50_ms'] * 1000:>10.1f} {mlflow['p99_ms'] * 1000:>10.1f}"
        )


def run(address: str, token: str, calls: int, promotions: int) -> dict[str, tuple[float, float]]:
    with modelyard.Registry(address, token=token) as registry:
        registry.create_group(GROUP)
        policy = registry.get_approval_policy(GROUP)
        registry.update_approval_policy(
            modelyard.ApprovalPolicy(name=policy.name, allow_self_approval=True, etag=policy.etag),
            update_mask=["allow_self_approval"],
        )
        serving = release(registry, 0)
        registry.set_alias(GROUP, "champion", serving)
        results: dict[str, tuple[float, float]] = {}
        with registry.follow([GROUP]) as view:
            results["production(), followed view"] = timed(lambda: view.production(GROUP), calls)
            results["by_alias(), followed view"] = timed(
                lambda: view.by_alias(GROUP, "champion"), calls
            )
            results["production(), round trip"] = timed(lambda: registry.production(GROUP), calls)
            results["by_alias(), round trip"] = timed(
                lambda: registry.by_alias(GROUP, "champion"), calls
            )
            delays = []
            for n in range(1, promotions + 1):
                name = release(registry, n)
                start = time.perf_counter()
                while (found := view.production(GROUP)) is None or found.name != name:
                    time.sleep(0.0002)
                delays.append((time.perf_counter() - start) * 1e6)
            results["promotion answered -> view answers it"] = percentiles(delays)
        return results


if __name__ == "__main__":
    main()
