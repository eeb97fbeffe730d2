"""``modelyard versions compare GROUP A B [C…]``: versions side by side, best metrics marked.

One row per stage, approval, metric, hyperparameter and tag, one column per version. The
best value of each metric that at least two versions have (and that differ) is marked with
``*``: the highest, unless lower is better, which is the case for the metrics named with
``--lower-is-better`` and, unless ``--higher-is-better`` names them, for those whose name
has a word that means an error or a cost (``loss``, ``val_loss``, ``logloss``, ``rmse``,
``error_rate``, ``latency_ms``, … see :data:`LOWER_IS_BETTER_WORDS`).
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from modelyard.cli.options import Commands, Invocation, add_command
from modelyard.cli.output import enum_label, proto
from modelyard.names import split_version_name, version_or_alias_name
from modelyard.v1.resources_pb2 import ApprovalStatus, ModelVersion, Stage

__all__ = ["LOWER_IS_BETTER_WORDS", "MetricRow", "add_compare", "best_of", "lower_is_better"]

#: Words that make a metric's name mean lower is better; a word ending in "loss" or "error"
#: does too (``logloss``, ``trainerror``).
LOWER_IS_BETTER_WORDS = frozenset(
    {
        "loss",
        "error",
        "err",
        "rmse",
        "mse",
        "mae",
        "mape",
        "smape",
        "wer",
        "cer",
        "perplexity",
        "latency",
        "brier",
        "fpr",
        "fnr",
    }
)
MARK = " *"
MISSING = "-"


def lower_is_better(name: str, lower: Iterable[str] = (), higher: Iterable[str] = ()) -> bool:
    """Returns whether a lower value of the metric ``name`` is better: it is named in
    ``lower``, or not in ``higher`` and its name has a word of LOWER_IS_BETTER_WORDS."""
    if name in set(lower):
        return True
    if name in set(higher):
        return False
    words = re.split(r"[^a-z0-9]+", name.lower())
    return any(w in LOWER_IS_BETTER_WORDS or w.endswith(("loss", "error")) for w in words if w)


def best_of(values: Sequence[float | None], lower: bool) -> set[int]:
    """Returns the indexes of the best values: none unless at least two values are given
    and they differ, all of them on a tie."""
    given = [v for v in values if v is not None]
    if len(given) < 2 or len(set(given)) == 1:
        return set()
    best = min(given) if lower else max(given)
    return {i for i, v in enumerate(values) if v == best}


@dataclass(frozen=True)
class MetricRow:
    """One metric across the versions compared."""

    name: str
    values: list[float | None]
    lower: bool
    best: set[int]


def _number(value: float) -> str:
    return f"{value:.10g}"


def _metric_rows(versions: Sequence[ModelVersion], args: argparse.Namespace) -> list[MetricRow]:
    names = sorted({name for v in versions for name in v.metrics})
    rows = []
    for name in names:
        values = [v.metrics.get(name) for v in versions]
        lower = lower_is_better(name, args.lower_is_better, args.higher_is_better)
        rows.append(MetricRow(name, values, lower, best_of(values, lower)))
    return rows


def _texts(versions: Sequence[ModelVersion], field: str) -> list[tuple[str, list[str | None]]]:
    maps = [dict(getattr(v, field)) for v in versions]
    names = sorted({name for m in maps for name in m})
    return [(name, [m.get(name) for m in maps]) for name in names]


def _stage(version: ModelVersion) -> str:
    return enum_label(Stage.Name(version.stage), "STAGE_")


def _approval(version: ModelVersion) -> str:
    return enum_label(ApprovalStatus.Name(version.approval_status), "APPROVAL_STATUS_")


def _document(versions: Sequence[ModelVersion], metrics: Sequence[MetricRow]) -> object:
    names = [v.name for v in versions]
    return {
        "versions": names,
        "stage": [Stage.Name(v.stage) for v in versions],
        "approvalStatus": [ApprovalStatus.Name(v.approval_status) for v in versions],
        "metrics": {
            row.name: {
                "values": row.values,
                "better": "lower" if row.lower else "higher",
                "best": [names[i] for i in sorted(row.best)],
            }
            for row in metrics
        },
        "hyperparameters": dict(_texts(versions, "hyperparameters")),
        "tags": dict(_texts(versions, "tags")),
    }


def compare_versions(run: Invocation) -> None:
    args = run.args
    if len(args.versions) < 2:
        raise ValueError(
            f"compare needs two versions or more, e.g. {args.group} 3 4 (or latest, champion)"
        )
    versions = [
        proto(run.registry.get_version(version_or_alias_name(args.group, v))) for v in args.versions
    ]
    metrics = _metric_rows(versions, args)
    if run.output.as_json:
        run.output.json(_document(versions, metrics))
        return
    marked = run.output.format == "table"
    numbers = [split_version_name(v.name)[1] for v in versions]
    # Each row: its label, one cell per version (None: the version has none), the best.
    rows: list[tuple[str, list[str | None], str]] = [
        ("stage", [_stage(v) for v in versions], ""),
        ("approval", [_approval(v) for v in versions], ""),
    ]
    for row in metrics:
        label = f"metrics.{row.name}" + (" (lower is better)" if row.lower else "")
        cells: list[str | None] = [
            None if v is None else _number(v) + (MARK if marked and i in row.best else "")
            for i, v in enumerate(row.values)
        ]
        rows.append((label, cells, " ".join(numbers[i] for i in sorted(row.best))))
    for field in ("hyperparameters", "tags"):
        rows += [(f"{field}.{name}", texts, "") for name, texts in _texts(versions, field)]
    headers = ["FIELD", *numbers]
    if marked:
        table = [[label, *(MISSING if c is None else c for c in cells)] for label, cells, _ in rows]
        run.output.table(headers, table, cut=numbers)
    else:
        run.output.csv(
            [*headers, "best"],
            ([label, *(c or "" for c in cells), best] for label, cells, best in rows),
        )


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def add_compare(commands: Commands) -> None:
    """Adds ``versions compare``."""
    p = add_command(
        commands, "compare", help="versions side by side: metrics (best marked), params, tags"
    )
    p.add_argument("group", help="group id, e.g. fraud")
    p.add_argument(
        "versions", nargs="+", metavar="VERSION", help="numbers, 'latest' or aliases (two or more)"
    )
    p.add_argument(
        "--lower-is-better",
        type=_names,
        action="extend",
        default=[],
        metavar="METRIC,...",
        help="metrics whose lowest value is best (default: names with loss, error, rmse, …)",
    )
    p.add_argument(
        "--higher-is-better",
        type=_names,
        action="extend",
        default=[],
        metavar="METRIC,...",
        help="metrics whose highest value is best, whatever their name says",
    )
    p.set_defaults(handler=compare_versions)
