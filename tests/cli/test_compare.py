"""``modelyard versions compare GROUP A B [C…]``: metrics, hyperparameters and tags side by
side, the best value of each metric marked."""

from __future__ import annotations

import json

import pytest
from modelyard.cli.compare import lower_is_better

from tests.support.cli import Cli, table
from tests.support.servers import Server
from tests.support.versions import sha


def register(cli: Cli, server: Server, group: str, *flags: str) -> None:
    cli.ok(server, "versions", "create", group, "--uri", "s3://m/v", "--sha256", sha(), *flags)


@pytest.fixture
def three_versions(cli: Cli, cli_server: Server, unique_group: str) -> str:
    """A group with versions 1-3: auc and val_loss (3 has no loss), depth, and tags."""
    cli.ok(cli_server, "groups", "create", unique_group)
    register(cli, cli_server, unique_group, "--metric", "auc=0.91", "--metric", "val_loss=0.3",
             "--param", "depth=6", "--tag", "team=risk")  # fmt: skip
    register(cli, cli_server, unique_group, "--metric", "auc=0.95", "--metric", "val_loss=0.2",
             "--param", "depth=8", "--tag", "team=risk", "--tag", "owner=ann")  # fmt: skip
    register(cli, cli_server, unique_group, "--metric", "auc=0.95", "--param", "depth=8")
    return unique_group


def test_compare_puts_versions_side_by_side_and_marks_the_best_metric(
    cli: Cli, cli_server: Server, three_versions: str
) -> None:
    group = three_versions
    rows = table(cli.ok(cli_server, "versions", "compare", group, "1", "2", "3"))
    assert rows == [
        {"FIELD": "stage", "1": "NONE", "2": "NONE", "3": "NONE"},
        {"FIELD": "approval", **dict.fromkeys("123", "PENDING_MANUAL_APPROVAL")},
        {"FIELD": "metrics.auc", "1": "0.91", "2": "0.95 *", "3": "0.95 *"},  # a tie
        {"FIELD": "metrics.val_loss (lower is better)", "1": "0.3", "2": "0.2 *", "3": "-"},
        {"FIELD": "hyperparameters.depth", "1": "6", "2": "8", "3": "8"},
        {"FIELD": "tags.owner", "1": "-", "2": "ann", "3": "-"},
        {"FIELD": "tags.team", "1": "risk", "2": "risk", "3": "-"},
    ]


def test_the_direction_of_a_metric_can_be_given(
    cli: Cli, cli_server: Server, three_versions: str
) -> None:
    group = three_versions
    rows = table(
        cli.ok(cli_server, "versions", "compare", group, "1", "2",
               "--lower-is-better", "auc", "--higher-is-better", "val_loss")
    )  # fmt: skip
    assert rows[2:4] == [
        {"FIELD": "metrics.auc (lower is better)", "1": "0.91 *", "2": "0.95"},
        {"FIELD": "metrics.val_loss", "1": "0.3 *", "2": "0.2"},
    ]


def test_versions_may_be_named_by_number_latest_or_alias(
    cli: Cli, cli_server: Server, three_versions: str
) -> None:
    group = three_versions
    cli.ok(cli_server, "alias", "set", group, "champion", "1")
    [header, *_] = cli.ok(cli_server, "versions", "compare", group, "champion", "latest").split(
        "\n"
    )
    assert header.split() == ["FIELD", "1", "3"]
    one = cli.run(cli_server, "versions", "compare", group, "1")
    assert (one.returncode, one.stderr) == (
        2,
        f"error: compare needs two versions or more, e.g. {group} 3 4 (or latest, champion)\n",
    )
    missing = cli.run(cli_server, "versions", "compare", group, "1", "9")
    assert missing.returncode == 1
    assert missing.stderr.startswith("error: MODEL_VERSION_NOT_FOUND: ")


def test_compare_as_csv_has_a_best_column_and_empty_cells_for_missing_values(
    cli: Cli, cli_server: Server, three_versions: str
) -> None:
    lines = cli.ok(cli_server, "versions", "compare", three_versions, "1", "2", "3", "-o", "csv")
    assert lines.splitlines() == [
        "FIELD,1,2,3,best",
        "stage,NONE,NONE,NONE,",
        "approval,PENDING_MANUAL_APPROVAL,PENDING_MANUAL_APPROVAL,PENDING_MANUAL_APPROVAL,",
        "metrics.auc,0.91,0.95,0.95,2 3",
        "metrics.val_loss (lower is better),0.3,0.2,,2",
        "hyperparameters.depth,6,8,8,",
        "tags.owner,,ann,,",
        "tags.team,risk,risk,,",
    ]


def test_compare_as_json_aligns_values_with_the_versions(
    cli: Cli, cli_server: Server, three_versions: str
) -> None:
    group = three_versions
    names = [f"groups/{group}/versions/{n}" for n in (1, 2, 3)]
    as_json = json.loads(cli.ok(cli_server, "versions", "compare", group, "1", "2", "3", "--json"))
    assert as_json == {
        "versions": names,
        "stage": ["STAGE_NONE"] * 3,
        "approvalStatus": ["APPROVAL_STATUS_PENDING_MANUAL_APPROVAL"] * 3,
        "metrics": {
            "auc": {"values": [0.91, 0.95, 0.95], "better": "higher", "best": names[1:]},
            "val_loss": {"values": [0.3, 0.2, None], "better": "lower", "best": [names[1]]},
        },
        "hyperparameters": {"depth": ["6", "8", "8"]},
        "tags": {"owner": [None, "ann", None], "team": ["risk", "risk", None]},
    }


def test_a_metric_only_one_version_has_or_with_equal_values_is_not_marked(
    cli: Cli, cli_server: Server, unique_group: str
) -> None:
    cli.ok(cli_server, "groups", "create", unique_group)
    register(cli, cli_server, unique_group, "--metric", "auc=0.9", "--metric", "f1=0.5")
    register(cli, cli_server, unique_group, "--metric", "auc=0.9")
    rows = table(cli.ok(cli_server, "versions", "compare", unique_group, "1", "2"))
    assert [(r["FIELD"], r["1"], r["2"]) for r in rows[2:]] == [
        ("metrics.auc", "0.9", "0.9"),
        ("metrics.f1", "0.5", "-"),
    ]


@pytest.mark.parametrize(
    ("metric", "lower"),
    [
        ("loss", True),
        ("val_loss", True),
        ("logloss", True),
        ("error_rate", True),
        ("RMSE", True),
        ("mae", True),
        ("latency_ms", True),
        ("p99-latency", True),
        ("auc", False),
        ("f1", False),
        ("accuracy", False),
        ("recall_at_10", False),
    ],
)
def test_lower_is_better_for_names_that_mean_an_error_or_a_cost(metric: str, lower: bool) -> None:
    assert lower_is_better(metric) is lower
