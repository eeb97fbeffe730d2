"""The SDK's enums and views without a server: what a user relies on when reading what the
registry returns and building what they send. The views are generated into modelyard/types.py
by scripts/gen_types.py, on top of modelyard/_views.py."""

from __future__ import annotations

import modelyard
import pytest


def example_version() -> modelyard.ModelVersion:
    """A version with maps and lists set, as the registry returns them."""
    return modelyard.ModelVersion(
        name="groups/fraud/versions/3",
        metrics={"auc": 0.91},
        tags={"team": "risk"},
        approvers=["ann", "bob"],
    )


# Maps and lists


def test_a_map_reads_as_a_mapping_and_a_missing_key_is_a_key_error() -> None:
    version = example_version()
    assert version.metrics == {"auc": 0.91} and dict(version.tags) == {"team": "risk"}
    with pytest.raises(KeyError):
        version.metrics["precision"]
    assert version.metrics.get("precision") is None and "precision" not in version.metrics
    number: object = 1
    assert number not in version.tags  # a key of another type is not there, as in a dict
    # Reading a missing key did not add it, as the message's own map would have.
    assert version == example_version() and dict(version.proto.metrics) == {"auc": 0.91}
    assert repr(version.tags) == "{'team': 'risk'}"


def test_maps_and_lists_cannot_be_changed_through_the_view() -> None:
    version = example_version()
    with pytest.raises(TypeError):
        version.tags["team"] = "growth"  # type: ignore[index]
    with pytest.raises(AttributeError):
        version.approvers.append("carl")  # type: ignore[attr-defined]
    assert version == example_version()


def test_a_list_reads_as_a_sequence_equal_to_a_list_or_tuple_of_its_items() -> None:
    approvers = example_version().approvers
    given: list[object] = [["ann", "bob"], ("ann", "bob"), ["bob", "ann"], "annbob", None]
    assert [approvers == other for other in given] == [True, True, False, False, False]
    assert approvers[0] == "ann" and approvers[-1] == "bob" and approvers[:1] == ["ann"]
    assert list(approvers) == ["ann", "bob"] and "bob" in approvers
    assert repr(approvers) == "['ann', 'bob']"


def test_maps_and_lists_of_a_view_build_another_view() -> None:
    version = example_version()
    copied = modelyard.ModelVersion(
        name=version.name, metrics=version.metrics, tags=version.tags, approvers=version.approvers
    )
    assert copied == version
