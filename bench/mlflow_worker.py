"""The workload against `mlflow server`, through MLflow's own client (MlflowClient).

Runs with bench/.venv-mlflow's python (it imports mlflow, which the top-level venv does
not have). Prints one JSON document on stdout: {"ops": {op: result}, "seed": {...}, ...}.

How the modelyard workload maps onto MLflow:
- register: modelyard takes metrics on the version itself; in MLflow metrics live on a
  run. Registering a version with 5 metrics is therefore create_run + log_batch (the 5
  metrics) + create_model_version(run_id=..., tags=5 tags): three calls, all timed as one
  operation, since that is what an MLflow user has to do to get the same record. A
  "version only" measurement (create_model_version with the 5 tags, no run, no metrics) is
  reported beside it as the lower bound for MLflow's cost.
- the list group is seeded with create_model_version + 5 tags only (no run): the list op
  filters on a tag and never reads metrics.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchlib import (
    ANALYZE,
    ANALYZE_EVERY_S,
    BackgroundLoad,
    Periodically,
    Result,
    emit,
    failed,
    least_disturbed,
    log,
    measure_sequential,
    measure_threads,
    measured_under,
    run_load_threads,
    sha256_for,
    watch_server,
)
from workload import (
    ALIAS,
    LIST_GROUP,
    REGISTER_GROUP,
    TITLES,
    Config,
    metrics_for,
    tags_for,
)

# Enough pooled HTTP connections for 16 client threads (MLflow's default pool keeps 10,
# and would open and drop connections under 16 threads). Set before mlflow is imported.
os.environ.setdefault("MLFLOW_HTTP_POOL_MAXSIZE", "64")
os.environ.setdefault("MLFLOW_HTTP_POOL_CONNECTIONS", "64")

from mlflow.entities import Metric
from mlflow.tracking import MlflowClient

_attempt = itertools.count(1)


def fresh(prefix: str) -> str:
    """A new artifact prefix for each attempt at a registration op, as on modelyard's side
    (MLflow would accept a repeated source; modelyard refuses a repeated sha256)."""
    return f"{prefix}{next(_attempt)}"


def new_client(uri: str) -> MlflowClient:
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def register_op(client: MlflowClient, experiment_id: str, prefix: str) -> Callable[[int], object]:
    """One registration with 5 tags and 5 metrics, the MLflow way (see the module doc)."""

    def op(i: int) -> object:
        run = client.create_run(experiment_id)
        run_id = run.info.run_id
        now_ms = int(time.time() * 1000)
        client.log_batch(
            run_id,
            metrics=[Metric(k, v, now_ms, 0) for k, v in metrics_for(i).items()],
        )
        return client.create_model_version(
            REGISTER_GROUP,
            source=f"s3://bench/{prefix}/{sha256_for(prefix, i)}",
            run_id=run_id,
            tags=tags_for(i),
            await_creation_for=0,
        )

    return op


def version_only_op(client: MlflowClient, prefix: str) -> Callable[[int], object]:
    def op(i: int) -> object:
        return client.create_model_version(
            REGISTER_GROUP,
            source=f"s3://bench/{prefix}/{sha256_for(prefix, i)}",
            tags=tags_for(i),
            await_creation_for=0,
        )

    return op


def seed_list_group(uri: str, cfg: Config) -> Result:
    """Fill LIST_GROUP with cfg.list_group_size versions, cfg.seed_clients threads at once."""
    client = new_client(uri)
    client.create_registered_model(LIST_GROUP)
    clients = [new_client(uri) for _ in range(cfg.seed_clients)]

    def make(index: int) -> Callable[[int], object]:
        c = clients[index]

        def op(i: int) -> object:
            if i < 0:
                return None  # no warm-up: every version counts toward the group's size
            return c.create_model_version(
                LIST_GROUP,
                source=f"s3://bench/list/{sha256_for('list', i)}",
                tags=tags_for(i),
                await_creation_for=0,
            )

        return op

    started = time.perf_counter()
    result = measure_threads(
        make, cfg.seed_clients, cfg.list_group_size, warmup_per_client=0, max_seconds=3600
    )
    result["total_seconds"] = round(time.perf_counter() - started, 2)
    return result


def analyze(database_url: str | None) -> None:
    """Refreshes the planner statistics of the server's database (see benchlib.ANALYZE)."""
    if database_url is None:
        return
    import psycopg2

    connection = psycopg2.connect(database_url)
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(ANALYZE)
    finally:
        connection.close()


def load_main(uri: str, clients: int, prefix: str) -> None:
    """A background writer process: `clients` threads, each its own MlflowClient, register
    (run, metrics, version: the register op) until the driver says stop."""
    client = new_client(uri)
    experiment_id = client.get_experiment_by_name("bench").experiment_id
    run_load_threads(
        lambda c: register_op(new_client(uri), experiment_id, f"{prefix}-{c}"), clients
    )


def writers(uri: str, cfg: Config) -> BackgroundLoad:
    """cfg.writers threads registering at full speed in a process of their own (threads in
    this one would take the GIL from the reader being timed), for a `with` block."""
    argv = [sys.executable, str(Path(__file__).resolve()), "--uri", uri, "--config", "{}"]
    argv += ["--load-clients", str(cfg.writers), "--load-prefix", fresh("load")]
    return BackgroundLoad([argv], cfg.writers)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--uri", required=True)
    parser.add_argument("--config", required=True, help="workload.Config as JSON")
    parser.add_argument("--server-sid", type=int, help="session id of the server under test")
    parser.add_argument("--database-url", help="the server's PostgreSQL database, if any")
    parser.add_argument("--load-clients", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--load-prefix", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load_clients:  # the writer process of get_seq_under_writes
        load_main(args.uri, args.load_clients, args.load_prefix)
        return
    cfg = Config.from_json(json.loads(args.config))
    watch_server(args.server_sid, args.database_url)
    uri: str = args.uri
    client = new_client(uri)
    ops: dict[str, Result] = {}
    extra: dict[str, Any] = {}

    experiment_id = client.create_experiment("bench")
    client.create_registered_model(REGISTER_GROUP)
    thread_clients = [new_client(uri) for _ in range(16)]
    reads = cfg.read_versions
    list_filter = f"name = '{LIST_GROUP}' AND tags.team = 'risk'"

    seed: Result | None = None
    if cfg.wants("list_10k"):
        log(f"mlflow: seeding {cfg.list_group_size} versions into {LIST_GROUP}")
        refresh = (lambda: analyze(args.database_url)) if args.database_url else None
        with Periodically(refresh, ANALYZE_EVERY_S):
            seed = seed_list_group(uri, cfg)
        log(f"mlflow: seeded in {seed['total_seconds']} s ({seed['ops_per_s']} versions/s)")
        if seed["errors"]:
            log(f"mlflow: seeding failed: {seed.get('first_error')}")

    def check_reads() -> None:
        # The reads cycle over versions 1..reads; register them if --ops left out the
        # registration ops that normally create them.
        latest = client.search_model_versions(
            f"name = '{REGISTER_GROUP}'", max_results=1, order_by=["version_number DESC"]
        )
        fill = register_op(client, experiment_id, "fill")
        for i in range(int(latest[0].version) if latest else 0, reads):
            fill(i)
        client.set_registered_model_alias(REGISTER_GROUP, ALIAS, "1")
        first = client.get_model_version(REGISTER_GROUP, "1")
        assert first.tags["framework"] == "sklearn", first.tags
        assert client.get_model_version_by_alias(REGISTER_GROUP, ALIAS).version == "1"

    def check_list() -> None:
        page = client.search_model_versions(list_filter, max_results=100)
        assert len(page) == 100 and all(v.tags["team"] == "risk" for v in page), len(page)

    def register_concurrent() -> Result:
        prefix = fresh("c8")
        return measure_threads(
            lambda c: register_op(thread_clients[c], experiment_id, f"{prefix}-{c}"),
            8,
            cfg.register_c8_n,
            max_seconds=cfg.max_seconds,
        )

    def get_under_writes() -> Result:
        with writers(uri, cfg) as load:
            result = measure_sequential(
                lambda i: client.get_model_version(REGISTER_GROUP, str(1 + i % reads)),
                cfg.seq_n,
                max_seconds=cfg.max_seconds,
            )
        return measured_under(result, load.result)

    def get_op(c: int) -> Callable[[int], object]:
        tc = thread_clients[c]
        return lambda i: tc.get_model_version(REGISTER_GROUP, str(1 + i % reads))

    plan: list[tuple[str, Callable[[], None] | None, Callable[[], Result]]] = [
        (
            "register_seq",
            None,
            lambda: measure_sequential(
                register_op(client, experiment_id, fresh("seq")),
                cfg.register_seq_n,
                max_seconds=cfg.max_seconds,
            ),
        ),
        (
            "register_c8",
            None,
            register_concurrent,
        ),
        (
            "get_seq",
            check_reads,
            lambda: measure_sequential(
                lambda i: client.get_model_version(REGISTER_GROUP, str(1 + i % reads)),
                cfg.seq_n,
                max_seconds=cfg.max_seconds,
            ),
        ),
        (
            "get_alias_seq",
            check_reads,
            lambda: measure_sequential(
                lambda i: client.get_model_version_by_alias(REGISTER_GROUP, ALIAS),
                cfg.seq_n,
                max_seconds=cfg.max_seconds,
            ),
        ),
        (
            "get_c16",
            check_reads,
            lambda: measure_threads(get_op, 16, cfg.get_c16_n, max_seconds=cfg.max_seconds),
        ),
        (
            "list_10k",
            check_list,
            lambda: measure_sequential(
                lambda i: client.search_model_versions(list_filter, max_results=100),
                cfg.list_n,
                warmup=5,
                max_seconds=cfg.max_seconds,
            ),
        ),
        (
            "set_tag_seq",
            check_reads,
            lambda: measure_sequential(
                lambda i: client.set_model_version_tag(
                    REGISTER_GROUP, str(1 + i % reads), "team", f"team-{i % 7}"
                ),
                cfg.seq_n,
                max_seconds=cfg.max_seconds,
            ),
        ),
        # Last: its writers add versions to the group the others use.
        ("get_seq_under_writes", check_reads, get_under_writes),
    ]
    for name, check, measure in plan:
        if not cfg.wants(name):
            continue
        if name == "list_10k" and seed is not None and seed["errors"]:
            ops[name] = failed(f"seeding the list group failed: {seed.get('first_error')}")
            continue
        log(f"mlflow: {TITLES[name]}")
        try:
            analyze(args.database_url)
            if check is not None:
                check()
            ops[name] = least_disturbed(measure, name)
        except Exception as exc:  # one broken op must not hide the others' numbers
            log(f"mlflow: {name} failed: {exc!r}")
            ops[name] = failed(repr(exc))
            continue
        if name == "register_seq":
            log("mlflow: register (version only: no run, no metrics), sequential")
            extra["register_seq_version_only"] = measure_sequential(
                version_only_op(client, "vo"), cfg.register_seq_n, max_seconds=cfg.max_seconds
            )

    import mlflow

    emit({"ops": ops, "seed": seed, "extra": extra, "client_version": mlflow.__version__})


if __name__ == "__main__":
    main()
