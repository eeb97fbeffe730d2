"""Optional stage (`make -C bench million`): does listing stay flat at 1,000,000 versions?

Measures, on modelyard only, one page of 100 versions filtered by a tag on a group of
10,000 versions and on a group of 1,000,000 (target: the same cost within 2x), and the
server's resident memory once it holds them (target: under 300 MB). Writes
bench/results/million.json.

Seeding 1,000,000 versions one CreateModelVersion at a time takes hours on two cores, so
this stage needs the server's bulk path. The contract it expects (to be provided by the
server; until then the stage reports itself as pending):

    modelyard-server --data-dir DIR import --group GROUP FILE

run before `serve` on the same data directory; FILE holds one ModelVersion per line in
protobuf's JSON form (e.g. {"artifact": {"uri": ..., "sha256": ..., "sizeBytes": "1"},
"tags": {...}}); the group is created if it does not exist; versions are numbered from 1
in file order and each gets its log entry, as through the API.

`--via-api` seeds through the ordinary API instead (concurrent CreateModelVersion calls),
which is real but slow; with `--size` it makes a smaller version of the same comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchlib import Result, log, measure_async, measure_sequential, pending, sha256_for
from procs import Server, free_port, grpc_serving
from run import RESULTS, modelyard_argv
from workload import tags_for

SMALL_GROUP = "list-10k"
BIG_GROUP = "list-1m"
LIST_FILTER = 'tags.team = "risk"'


def import_available(exe: list[str]) -> tuple[bool, str]:
    """Whether `modelyard-server import` exists (its --help succeeds)."""
    done = subprocess.run(
        [*exe, "import", "--help"], capture_output=True, text=True, check=False, timeout=60
    )
    if done.returncode == 0:
        return True, ""
    said = (done.stderr or done.stdout).strip().splitlines()
    return False, said[-1] if said else f"exit code {done.returncode}"


def children_max_rss_mb() -> float:
    """The largest peak RSS of any child process waited for so far (the import)."""
    return round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)


def write_jsonl(path: Path, prefix: str, count: int) -> None:
    with open(path, "w") as f:
        for i in range(count):
            version = {
                "artifact": {
                    "uri": f"s3://bench/{prefix}/{i}",
                    "sha256": sha256_for(prefix, i),
                    "sizeBytes": "1",
                },
                "tags": tags_for(i),
            }
            f.write(json.dumps(version, separators=(",", ":")))
            f.write("\n")


def seed_by_import(base: list[str], workdir: Path, group: str, count: int) -> float:
    """Runs the import; returns its seconds (its peak RSS: children_max_rss_mb())."""
    data = workdir / f"{group}.jsonl"
    log(f"writing {count:,} versions to {data.name}")
    write_jsonl(data, group, count)
    log(f"importing {count:,} versions into {group}")
    started = time.monotonic()
    done = subprocess.run([*base, "import", "--group", group, str(data)], check=False)
    if done.returncode != 0:
        raise RuntimeError(f"import into {group} failed with exit code {done.returncode}")
    data.unlink()
    return round(time.monotonic() - started, 1)


async def seed_via_api(address: str, token: str, group: str, count: int) -> Result:
    from modelyard import AsyncRegistry

    async with AsyncRegistry(address, token=token) as reg:
        await reg.create_group(group, description="")

        async def op(i: int) -> object:
            if i < 0:
                return None
            return await reg.register(
                group,
                uri=f"s3://bench/{group}/{i}",
                sha256=sha256_for(group, i),
                size_bytes=1,
                tags=tags_for(i),
            )

        return await measure_async(op, 16, count, warmup_per_client=0, max_seconds=24 * 3600)


def measure_lists(address: str, token: str, n: int) -> dict[str, Result]:
    from modelyard import Registry

    out: dict[str, Result] = {}
    with Registry(address, token=token) as reg:
        for group in (SMALL_GROUP, BIG_GROUP):

            def list_page(i: int, group: str = group) -> int:
                pager = reg.list_versions(group, filter=LIST_FILTER, page_size=100)
                return len(next(iter(pager.pages)).model_versions)

            assert list_page(0) == 100
            log(f"list 100 of {group}, filtered by tag")
            out[group] = measure_sequential(list_page, n, warmup=10, max_seconds=30)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000, help="versions in the big group")
    parser.add_argument("--small", type=int, default=10_000, help="versions in the small group")
    parser.add_argument("--via-api", action="store_true", help="seed with CreateModelVersion")
    parser.add_argument("--n", type=int, default=500, help="list calls per group")
    parser.add_argument("--out", type=Path, default=RESULTS / "million.json")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="modelyard-million-"))
    data_dir = workdir / "modelyard-data"
    port = free_port()
    address = f"127.0.0.1:{port}"
    serve = modelyard_argv(address, data_dir)
    base = serve[:-1]  # the same global options, without the `serve` command
    report: dict[str, Any] = {"small": args.small, "size": args.size, "via_api": args.via_api}
    started = time.monotonic()
    try:
        if not args.via_api:
            ok, why = import_available(base)
            if not ok:
                report["result"] = pending(
                    f"no bulk seeding path yet (`modelyard-server import`: {why}); "
                    "`--via-api` seeds through CreateModelVersion instead (slow)"
                )
                raise SystemExit(0)
            # The import uses a database a server made, never a new one: make it first.
            subprocess.run([*base, "migrate"], check=True, capture_output=True)
            report["seed_seconds"] = {
                SMALL_GROUP: seed_by_import(base, workdir, SMALL_GROUP, args.small),
                BIG_GROUP: seed_by_import(base, workdir, BIG_GROUP, args.size),
            }
            report["import_peak_rss_mb"] = children_max_rss_mb()
        server = Server("modelyard-server", serve, workdir / "modelyard-server.log")
        try:
            token_file = data_dir / "admin.token"
            server.wait_ready(grpc_serving(address, also=token_file.exists), timeout_s=300)
            token = token_file.read_text().strip()
            if args.via_api:
                report["seed"] = {
                    SMALL_GROUP: asyncio.run(seed_via_api(address, token, SMALL_GROUP, args.small)),
                    BIG_GROUP: asyncio.run(seed_via_api(address, token, BIG_GROUP, args.size)),
                }
            report["server_rss_mb_after_seeding"] = server.rss_mb()
            lists = measure_lists(address, token, args.n)
            report["server_rss_mb_after_lists"] = server.rss_mb()
        finally:
            server.stop()
        small, big = lists[SMALL_GROUP], lists[BIG_GROUP]
        report["lists"] = lists
        report["p50_ratio_big_over_small"] = round(big["p50_ms"] / small["p50_ms"], 2)
        report["throughput_ratio_small_over_big"] = round(small["ops_per_s"] / big["ops_per_s"], 2)
        report["result"] = {
            "within_2x": report["p50_ratio_big_over_small"] <= 2.0,
            "rss_under_300_mb": report["server_rss_mb_after_lists"] < 300,
        }
    finally:
        report["seconds"] = round(time.monotonic() - started, 1)
        shutil.rmtree(workdir, ignore_errors=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
        print(json.dumps(report, indent=2))
        print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
