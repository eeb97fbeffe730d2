"""The results of one `make bench` run as rows (results/latest.json) and as the Markdown
section of README.md: one table per backend, the empty-RPC limit they share, the followed
view, and the fan-out to 1,000 streams.

Standard library only; the driver (run.py) calls build_rows and render_markdown.
"""

from __future__ import annotations

import os
from typing import Any

from benchlib import DISTURBED
from workload import GOALS, LIMIT_FOR_OP, LIMITS, OPS, Config

Json = dict[str, Any]

BACKEND_TITLES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
FANOUT_P99_GOAL_MS = 100.0  # issue 15: a commit reaches 1,000 streams within 100 ms (p99)

# The followed view's rows: (key in the modelyard worker's "extra", title, compared with
# MLflow's get_model_version_by_alias or not).
FOLLOW_ROWS: list[tuple[str, str, bool]] = [
    ("view_production", "`production()` through `registry.follow()` (memory)", True),
    ("view_by_alias", "`by_alias()` through `registry.follow()` (memory)", True),
    ("get_alias_seq", "`by_alias()`, round trip (the get by alias row)", True),
    ("production_round_trip", "`production()`, round trip", False),
    ("promotion_commit_to_view", "a promotion's commit → the view answers with it", False),
    ("promotion_answer_to_view", "a promotion's answer → the view answers with it", False),
]


def ratio(a: Json | None, b: Json | None) -> float | None:
    if not a or not b or "ops_per_s" not in a or "ops_per_s" not in b or not b["ops_per_s"]:
        return None
    return round(float(a["ops_per_s"]) / float(b["ops_per_s"]), 2)


def goal(op: str, fraction: float | None) -> Json | None:
    """Issue 15's goal for op, and whether this run's fraction of the limit meets it."""
    wanted = GOALS.get(op)
    if wanted is None:
        return None
    return {"fraction": wanted, "met": None if fraction is None else fraction >= wanted}


def p99_goal(under_writes: Json | None, alone: Json | None) -> Json:
    """Issue 15's goal for the reads under writes: no p99 worse than the same reads' alone."""
    if not under_writes or not alone or "p99_ms" not in under_writes or "p99_ms" not in alone:
        return {"p99_ms_at_most": None, "met": None}
    bound = float(alone["p99_ms"])
    return {"p99_ms_at_most": bound, "met": float(under_writes["p99_ms"]) <= bound}


def op_rows(
    backend: str, modelyard: Json | None, mlflow: Json | None, empty: Json | None, cfg: Config
) -> list[Json]:
    """One row per op of the main table, on one backend."""
    rows: list[Json] = []
    limits: Json = empty["limits"] if empty else {}
    for op, title in OPS:
        if op == "list_10k":
            title = f"list 100 of {cfg.list_group_size:,} filtered by tag"
        ours = modelyard["ops"].get(op) if modelyard else None
        theirs = mlflow["ops"].get(op) if mlflow else None
        if op == "get_seq_under_writes":
            title = f"get version by number, sequential, while {cfg.writers} clients register"
        limit_name = LIMIT_FOR_OP[op]
        limit = limits.get(limit_name)
        fraction = ratio(ours, limit)
        row: Json = {
            "op": op,
            "backend": backend,
            "title": title,
            "modelyard": ours,
            "mlflow": theirs,
            "ratio": ratio(ours, theirs),
            "limit_op": limit_name,
            "limit": limit,
            "fraction_of_limit": fraction,
            "goal": goal(op, fraction),
        }
        if op == "get_seq_under_writes":
            alone = modelyard["ops"].get("get_seq") if modelyard else None
            row["goal"] = p99_goal(ours, alone)
        if op == "register_seq" and mlflow:
            version_only = mlflow["extra"].get("register_seq_version_only")
            row["mlflow_version_only"] = version_only
            row["ratio_vs_mlflow_version_only"] = ratio(ours, version_only)
        rows.append(row)
    return rows


def limit_rows(empty: Json | None) -> list[Json]:
    limits: Json = empty["limits"] if empty else {}
    return [
        {
            "op": name,
            "title": title,
            "kind": "limit",
            "clients": clients,
            "modelyard": None,
            "mlflow": None,
            "ratio": None,
            "empty_rpc": limits.get(name),
        }
        for name, title, clients in LIMITS
    ]


def follow_rows(backend: str, modelyard: Json | None, mlflow: Json | None) -> list[Json]:
    """The followed view beside MLflow's get_model_version_by_alias of the same run."""
    if modelyard is None:
        return []
    extra: Json = modelyard.get("extra", {})
    alias_theirs = mlflow["ops"].get("get_alias_seq") if mlflow else None
    rows = []
    for key, title, compared in FOLLOW_ROWS:
        ours = modelyard["ops"].get(key) if key == "get_alias_seq" else extra.get(key)
        if ours is None:
            continue
        rows.append(
            {
                "op": key,
                "kind": "follow",
                "backend": backend,
                "title": title,
                "modelyard": ours,
                "mlflow": alias_theirs if compared else None,
                "mlflow_op": "get_alias_seq" if compared else None,
            }
        )
    return rows


def fanout_row(backend: str, fanout: Json | None, limit: Json | None = None) -> list[Json]:
    """The fan-out on one backend, with the limit (fanout.py --limit) measured in the run."""
    if fanout is None:
        return []
    p99 = fanout.get("from_commit", {}).get("p99")
    return [
        {
            "op": "fanout",
            "kind": "fanout",
            "backend": backend,
            "title": f"{fanout.get('subscribers', 0):,} WatchEvents streams, commit to receipt",
            "fanout": fanout,
            "limit": limit,
            "goal": {
                "p99_ms_below": FANOUT_P99_GOAL_MS,
                "met": None if p99 is None else p99 < FANOUT_P99_GOAL_MS,
            },
        }
    ]


# Markdown


def _num(value: Any, digits: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def _cells(result: Json | None) -> list[str]:
    if result is None:
        return ["—", "—", "—"]
    if "pending" in result:
        return ["pending", "", ""]
    if "failed" in result:
        return ["failed", "", ""]
    errors = f" ({result['errors']} errors)" if result.get("errors") else ""
    share = other_load([result])
    mark = "\\*" if share is not None and share > DISTURBED else ""
    return [
        _num(result["ops_per_s"]) + mark + errors,
        _num(result["p50_ms"], 2),
        _num(result["p99_ms"], 2),
    ]


def _us(result: Json | None) -> list[str]:
    if result is None:
        return ["—", "—"]
    if "failed" in result or "pending" in result:
        return ["failed" if "failed" in result else "pending", ""]
    return [_num(result["p50_ms"] * 1000, 1), _num(result["p99_ms"] * 1000, 1)]


def other_load(results: list[Json | None]) -> float | None:
    """Share of the machine's CPU that other processes used during these measurements."""
    cpus = os.cpu_count() or 1
    other = wall = 0.0
    for r in results:
        if r and "other_cpu_s" in r:
            other += r["other_cpu_s"]
            wall += r["seconds"]
    return other / (wall * cpus) if wall else None


def _goal_cell(row: Json) -> str:
    wanted = row.get("goal")
    if not wanted:
        return "—"
    if "p99_ms_at_most" in wanted:
        bound = wanted["p99_ms_at_most"]
        if wanted["met"] is None:
            return "p99 ≤ alone's"
        return f"p99 ≤ alone's {bound:.2f} ms: {'met' if wanted['met'] else 'not met'}"
    if wanted["met"] is None:  # not measured in this run
        return f"≥{wanted['fraction']:.0%}"
    return f"≥{wanted['fraction']:.0%}: {'met' if wanted['met'] else 'not met'}"


def _title(row: Json) -> str:
    if row["op"] != "get_seq_under_writes":
        return str(row["title"])
    writes = [
        f"{who} {side['load']['ops_per_s']:,.0f}/s"
        for who, side in (("modelyard", row["modelyard"]), ("MLflow", row["mlflow"]))
        if side and "load" in side
    ]
    done = f"; they registered: {', '.join(writes)}" if writes else ""
    return f"{row['title']} (alone: the row before{done})"


def render_op_table(rows: list[Json]) -> list[str]:
    header = (
        "| operation | modelyard ops/s | p50 ms | p99 ms | MLflow ops/s | p50 ms | p99 ms "
        "| modelyard / MLflow | empty-RPC limit ops/s | fraction of limit | goal |"
    )
    lines = [header, "|" + "---|" * 11]
    for row in rows:
        limit = row["limit"]
        fraction = row["fraction_of_limit"]
        cells = [
            _title(row),
            *_cells(row["modelyard"]),
            *_cells(row["mlflow"]),
            f"{row['ratio']:.1f}x" if row["ratio"] is not None else "—",
            _num(limit["ops_per_s"]) if limit else "—",
            f"{fraction:.0%}" if fraction is not None else "—",
            _goal_cell(row),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def render_follow(rows: list[Json]) -> list[str]:
    lines = [
        "| question | backend | modelyard p50 µs | p99 µs "
        "| MLflow `get_model_version_by_alias` p50 µs | p99 µs |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        if row["mlflow_op"]:
            theirs = _us(row["mlflow"])
        elif row["op"].startswith("promotion"):
            theirs = ["no push: a client polls", ""]
        else:
            theirs = ["", ""]
        cells = [row["title"], BACKEND_TITLES[row["backend"]], *_us(row["modelyard"]), *theirs]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def render_fanout(rows: list[Json]) -> list[str]:
    lines = [
        "| server | streams x events | every stream got every event once "
        "| commit → receipt p50 ms | p99 ms | max ms | answer → receipt p50 ms | p99 ms "
        "| CPU µs per receipt: server | clients "
        f"| goal: p99 < {FANOUT_P99_GOAL_MS:.0f} ms |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    limit = next((row["limit"] for row in rows if row.get("limit")), None)
    shown: list[tuple[str, Json, str]] = []
    if limit is not None:
        shown.append(("the limit: a bare gRPC server (`fanout.py --limit`)", limit, "—"))
    for row in rows:
        met = row["goal"]["met"]
        verdict = "—" if met is None else ("met" if met else "not met")
        shown.append((f"modelyard on {BACKEND_TITLES[row['backend']]}", row["fanout"], verdict))
    for name, f, verdict in shown:
        if "failed" in f:
            lines.append(f"| {name} | failed: {f['failed']} |")
            continue
        cells = [
            name,
            f"{f['subscribers']:,} x {f['events']}",
            "yes" if f["complete"] else "**no**",
            _num(f["from_commit"]["p50"], 1),
            _num(f["from_commit"]["p99"], 1),
            _num(f["from_commit"]["max"], 1),
            _num(f["from_ack"]["p50"], 1),
            _num(f["from_ack"]["p99"], 1),
            *(_num(f.get("cpu_us_per_receipt", {}).get(side), 0) for side in ("server", "clients")),
            verdict,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def render_markdown(rows: list[Json], backends: list[str]) -> str:
    lines: list[str] = []
    for backend in backends:
        ops = [r for r in rows if r.get("backend") == backend and "kind" not in r]
        if not ops:
            continue
        where = "SQLite files" if backend == "sqlite" else "the same PostgreSQL server"
        lines += [f"**On {BACKEND_TITLES[backend]}** (modelyard and MLflow on {where}):", ""]
        lines += render_op_table(ops)
        lines.append("")
    limits = [r for r in rows if r.get("kind") == "limit" and r["empty_rpc"]]
    if limits:
        lines += [
            "| empty-RPC limit (both tables) | ops/s | p50 ms | p99 ms |",
            "|---|---|---|---|",
        ]
        for row in limits:
            lines.append(f"| {row['title']} | " + " | ".join(_cells(row["empty_rpc"])) + " |")
    follow = [r for r in rows if r.get("kind") == "follow"]
    if follow:
        lines += ["", "**The followed view** (per call, as the client sees it):", ""]
        lines += render_follow(follow)
    fanout = [r for r in rows if r.get("kind") == "fanout"]
    if fanout:
        lines += ["", "**Fan-out** (every stream watches the group each commit writes to):", ""]
        lines += render_fanout(fanout)
    starred = any("\\*" in line for line in lines)
    lines += _load_lines(rows, backends, starred)
    return "\n".join(lines)


def _load_lines(rows: list[Json], backends: list[str], starred: bool) -> list[str]:
    loads = []
    disturbed = False
    stages: list[tuple[str, list[Json | None]]] = [
        ("the limit's", [r.get("empty_rpc") for r in rows if r.get("kind") == "limit"])
    ]
    for backend in backends:
        ops = [r for r in rows if r.get("backend") == backend and "kind" not in r]
        name = BACKEND_TITLES[backend]
        stages.append((f"modelyard's on {name}", [r["modelyard"] for r in ops]))
        stages.append((f"MLflow's on {name}", [r["mlflow"] for r in ops]))
    for label, results in stages:
        share = other_load(results)
        if share is not None:
            loads.append(f"{share:.0%} during {label}")
            disturbed = disturbed or share > DISTURBED
    lines: list[str] = []
    if loads:
        lines += [
            "",
            "CPU used by other processes on the machine (not the server under test, not its "
            "clients) while the measurements ran: " + ", ".join(loads) + ".",
        ]
    if starred:
        lines += [
            "",
            f"\\* other processes took over {DISTURBED:.0%} of the machine's CPU during "
            "this measurement.",
        ]
    if disturbed:
        lines[-1] += (
            f" **Over {DISTURBED:.0%}: this run was disturbed by other work on the machine; "
            "rerun when it is quiet.**"
        )
    return lines
