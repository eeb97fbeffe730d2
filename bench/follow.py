"""The followed view (registry.follow): "which version is in production?" and "where does
champion point?" answered from memory, beside the same questions asked of the server, and
how long a promotion takes to reach the view.

`make bench` measures this inside its modelyard stage, on each backend (measure_view,
called by modelyard_worker.py), beside MLflow's `get_model_version_by_alias` measured in
the same run. Run alone, this script starts one server (SQLite in a temporary directory),
and prints the same figures:

    .venv/bin/python bench/follow.py [--calls 5000] [--promotions 100]

What is timed, per call as the client sees it (p50/p99): `production()` and `by_alias()`
through the followed view (memory), the same as round trips, and over `promotions`
promotions the time from the promotion's commit (the time in its log entry, set while the
server makes the change, so at or before the commit) and from its answer to the view
answering with the new version.
Not a test: it asserts nothing about time.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import signal
import tempfile
import time
from pathlib import Path

import modelyard
from benchlib import Result, measure_sequential, percentile
from fanout import start_server  # bench/ is the script's directory, first on sys.path

GROUP = "bench-follow"
ALIAS = "champion"


def release(registry: modelyard.Registry, n: int) -> str:
    """Registers, approves, stages and promotes a new version; returns its name."""
    version = registry.register(
        GROUP, uri=f"s3://m/{n}", sha256=hashlib.sha256(f"follow-{n}".encode()).hexdigest()
    )
    registry.approve(version.name)
    registry.transition(version.name, modelyard.Stage.STAGING)
    registry.promote(version.name)
    return version.name


def delays(samples_ns: list[int]) -> Result:
    ordered = sorted(samples_ns)
    return {
        "ops": len(ordered),
        "p50_ms": round(percentile(ordered, 0.50), 4),
        "p99_ms": round(percentile(ordered, 0.99), 4),
        "max_ms": round(ordered[-1] / 1e6, 4) if ordered else None,
    }


def commit_time_ns(registry: modelyard.Registry, name: str) -> int:
    """When the promotion of `name` committed: its log entry's time (server clock)."""
    entry = next(
        iter(
            registry.list_audit_events(
                resource=name, actions=["STAGE_CHANGED"], newest_first=True, page_size=1
            )
        )
    )
    assert entry.time is not None, entry
    return int(entry.time.timestamp() * 1e9)


def measure_view(
    registry: modelyard.Registry, calls: int, promotions: int, max_seconds: float
) -> dict[str, Result]:
    """The followed view's answers and the round trips they replace, and the time a
    promotion takes to reach the view (see the module doc). Creates GROUP."""
    registry.create_group(GROUP)
    policy = registry.get_approval_policy(GROUP)
    registry.update_approval_policy(
        modelyard.ApprovalPolicy(name=policy.name, allow_self_approval=True, etag=policy.etag),
        update_mask=["allow_self_approval"],
    )
    serving = release(registry, 0)
    registry.set_alias(GROUP, ALIAS, serving)
    results: dict[str, Result] = {}
    with registry.follow([GROUP]) as view:
        deadline = time.monotonic() + 30
        while not view.current:  # until the stream has been heard from, it asks the server
            if time.monotonic() > deadline:
                raise RuntimeError("the followed view never became current")
            time.sleep(0.01)
        results["view_production"] = measure_sequential(
            lambda i: view.production(GROUP), calls, max_seconds=max_seconds
        )
        results["view_by_alias"] = measure_sequential(
            lambda i: view.by_alias(GROUP, ALIAS), calls, max_seconds=max_seconds
        )
        results["production_round_trip"] = measure_sequential(
            lambda i: registry.production(GROUP), calls, max_seconds=max_seconds
        )
        from_commit: list[int] = []
        from_answer: list[int] = []
        for n in range(1, promotions + 1):
            name = release(registry, n)
            answered = time.perf_counter_ns()
            while (found := view.production(GROUP)) is None or found.name != name:
                time.sleep(0.0002)
            seen_ns, seen_wall_ns = time.perf_counter_ns(), time.time_ns()
            from_answer.append(seen_ns - answered)
            from_commit.append(seen_wall_ns - commit_time_ns(registry, name))
        results["promotion_commit_to_view"] = delays(from_commit)
        results["promotion_answer_to_view"] = delays(from_answer)
        results["view_current_after"] = {"current": view.current}
    return results


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
            with modelyard.Registry(address, token=token) as registry:
                results = measure_view(registry, args.calls, args.promotions, 60.0)
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
    print(f"{'question':<44} {'p50 us':>10} {'p99 us':>10}")
    for label, result in results.items():
        if "p50_ms" in result:
            p50, p99 = result["p50_ms"] * 1000, result["p99_ms"] * 1000
            print(f"{label:<44} {p50:>10.1f} {p99:>10.1f}")


if __name__ == "__main__":
    main()
