"""The SDK's enums and views without a server: what a user relies on when reading what the
registry returns and building what they send. The views are generated into modelyard/types.py
by scripts/gen_types.py, on top of modelyard/_views.py."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta, timezone
from typing import assert_never

import modelyard
import pytest
from modelyard import ApprovalStatus, ArtifactFormat, ColumnType, Stage
from modelyard.v1 import resources_pb2 as pb

# Enums


def test_a_member_prints_as_its_short_name_and_equals_its_number() -> None:
    assert str(Stage.PRODUCTION) == f"{Stage.PRODUCTION}" == "PRODUCTION"
    assert f"{Stage.PRODUCTION:>12}" == "  PRODUCTION"  # a table column pads the name
    assert repr(Stage.PRODUCTION) == "Stage.PRODUCTION"
    wire: int = pb.STAGE_PRODUCTION
    assert Stage.PRODUCTION == wire == 3 and isinstance(Stage.PRODUCTION, int)
    assert sorted([Stage.ARCHIVED, Stage.NONE]) == [Stage.NONE, Stage.ARCHIVED]


def test_a_numeric_format_gives_the_number_as_for_any_int() -> None:
    assert f"{Stage.PRODUCTION:d}" == "3" and f"{Stage.PRODUCTION:03d}" == "003"
    assert f"{Stage.PRODUCTION:x}" == "3" and int(Stage.PRODUCTION) == 3


def test_the_protobuf_names_are_aliases_of_the_short_ones() -> None:
    assert Stage.STAGE_PRODUCTION is Stage.PRODUCTION
    assert ApprovalStatus.APPROVAL_STATUS_APPROVED is ApprovalStatus.APPROVED
    assert str(ArtifactFormat.ARTIFACT_FORMAT_SAVED_MODEL) == "SAVED_MODEL"
    assert list(Stage) == [Stage.UNSPECIFIED, Stage.NONE, Stage.STAGING, Stage.PRODUCTION,
                           Stage.ARCHIVED]  # fmt: skip


def test_to_a_type_checker_an_alias_is_the_member_it_names() -> None:
    # mypy checks this module (make lint): were the aliases members of their own to it, this
    # match would not be exhaustive, and `Stage.STAGE_PRODUCTION is Stage.PRODUCTION` an
    # error of comparing members that cannot be the same.
    def described(stage: Stage) -> str:
        match stage:
            case Stage.UNSPECIFIED | Stage.NONE | Stage.STAGING:
                return "not live"
            case Stage.STAGE_PRODUCTION:
                return "live"
            case Stage.ARCHIVED:
                return "retired"
            case _:
                assert_never(stage)

    assert [described(stage) for stage in Stage][2:] == ["not live", "live", "retired"]


@pytest.mark.parametrize(
    "given",
    ["production", "PRODUCTION", "Production", " production ", "stage_production",
     "STAGE_PRODUCTION", 3, Stage.PRODUCTION],
)  # fmt: skip
def test_parse_takes_a_name_in_any_case_the_protobuf_name_or_the_number(given: str | int) -> None:
    assert Stage.parse(given) is Stage.PRODUCTION


def test_parse_takes_dashes_and_spaces_for_underscores() -> None:
    assert ArtifactFormat.parse("saved-model") is ArtifactFormat.SAVED_MODEL
    assert ArtifactFormat.parse("Saved Model") is ArtifactFormat.SAVED_MODEL


@pytest.mark.parametrize(
    "given", ["live", "", "unspecified", "STAGE_UNSPECIFIED", "STAGE_99", 0, 99]
)
def test_parse_refuses_anything_else_naming_the_choices(given: str | int) -> None:
    with pytest.raises(
        ValueError, match=r"not a Stage; choose one of none, staging, production, archived$"
    ):
        Stage.parse(given)


def test_the_choices_are_the_short_names_in_lower_case_without_unspecified() -> None:
    assert Stage.choices() == ["none", "staging", "production", "archived"]


def test_a_member_is_made_from_its_number_and_parsed_from_its_name() -> None:
    assert Stage(3) is Stage.PRODUCTION
    with pytest.raises(ValueError, match="is not a valid Stage"):
        Stage("production")  # type: ignore[arg-type]


def test_a_number_from_a_newer_server_reads_as_a_member_named_by_it() -> None:
    newer = Stage(99)
    assert newer == 99 and isinstance(newer, Stage)
    assert newer.name == str(newer) == "STAGE_99" and repr(newer) == "Stage.STAGE_99"
    assert f"{newer:d}" == "99"
    # Named with the prefix the protobuf enum gives its values.
    assert ArtifactFormat(42).name == "ARTIFACT_FORMAT_42"
    assert ApprovalStatus(9).name == "APPROVAL_STATUS_9"
    version = modelyard.ModelVersion(pb.ModelVersion(stage=99))  # type: ignore[arg-type]
    assert version.stage == 99 and version.stage.name == "STAGE_99"
    assert repr(version) == "ModelVersion(stage=Stage.STAGE_99)"


def test_members_pickle_as_themselves() -> None:
    assert pickle.loads(pickle.dumps(Stage.PRODUCTION)) is Stage.PRODUCTION
    newer = pickle.loads(pickle.dumps(Stage(99)))
    assert newer == 99 and newer.name == "STAGE_99"


# Views


def example_version() -> modelyard.ModelVersion:
    """A version with nested messages, enums, maps and lists set, as the registry returns it."""
    return modelyard.ModelVersion(
        name="groups/fraud/versions/3",
        version=3,
        artifact=modelyard.Artifact(uri="s3://m/3.onnx", format=ArtifactFormat.ONNX),
        metrics={"auc": 0.91},
        tags={"team": "risk"},
        schema=modelyard.ModelSchema(
            inputs=[modelyard.ColumnSpec(name="amount", type=ColumnType.DOUBLE)]
        ),
        approval_status=ApprovalStatus.APPROVED,
        stage=Stage.PRODUCTION,
        approvers=["ann", "bob"],
    )


def test_a_view_is_built_from_fields_as_its_message_is_including_views_and_enums() -> None:
    version = example_version()
    sent = version.proto
    assert isinstance(sent, pb.ModelVersion)
    assert sent.artifact.format == pb.ARTIFACT_FORMAT_ONNX and sent.stage == pb.STAGE_PRODUCTION
    assert sent.schema.inputs[0].type == pb.COLUMN_TYPE_DOUBLE
    assert version.artifact == modelyard.Artifact(uri="s3://m/3.onnx", format=ArtifactFormat.ONNX)
    assert version.artifact.format is ArtifactFormat.ONNX and version.stage is Stage.PRODUCTION
    # Messages are taken where views are, as the message's constructor takes them.
    assert modelyard.ModelVersion(artifact=pb.Artifact(uri="s3://m/3.onnx")).artifact.uri == (
        "s3://m/3.onnx"
    )


def test_a_repeated_message_reads_as_a_tuple_of_views() -> None:
    response = modelyard.TransitionModelVersionStageResponse(
        model_version=example_version(),
        archived_versions=[modelyard.ModelVersion(name="groups/fraud/versions/2")],
    )
    assert response.archived_versions == (modelyard.ModelVersion(name="groups/fraud/versions/2"),)
    assert isinstance(response.model_version, modelyard.ModelVersion)
    inputs = example_version().schema.inputs
    assert isinstance(inputs, tuple) and inputs[0].type is ColumnType.DOUBLE


def test_a_view_reads_the_message_it_is_given_and_nothing_else() -> None:
    message = pb.ModelVersion(name="groups/fraud/versions/3")
    assert modelyard.ModelVersion(message).proto is message
    with pytest.raises(TypeError, match=r"takes a modelyard\.v1\.ModelVersion, not ModelGroup"):
        modelyard.ModelVersion(pb.ModelGroup())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="a message or fields, not both"):
        modelyard.ModelVersion(message, version=3)
    with pytest.raises(ValueError, match='no "stag" field'):
        modelyard.ModelVersion(stag=Stage.PRODUCTION)


def test_a_view_equals_its_message_and_a_view_of_an_equal_message() -> None:
    version = example_version()
    assert version == version.proto and version.proto == version
    assert version == example_version() == modelyard.ModelVersion(version.proto)
    assert version != modelyard.ModelVersion(name=version.name)
    assert version != pb.ModelVersion(name=version.name)
    # Views of different messages differ even when both are empty.
    other: object = modelyard.ModelGroup()
    assert modelyard.ModelVersion() != other and modelyard.ModelVersion() != "ModelVersion()"


def test_a_repr_shows_the_fields_that_are_set_with_enums_by_name() -> None:
    version = modelyard.ModelVersion(
        name="groups/fraud/versions/3",
        artifact=modelyard.Artifact(format=ArtifactFormat.ONNX),
        stage=Stage.PRODUCTION,
        approvers=["ann"],
    )
    assert repr(version) == (
        "ModelVersion(name='groups/fraud/versions/3', artifact=Artifact(format=ArtifactFormat.ONNX),"
        " stage=Stage.PRODUCTION, approvers=['ann'])"
    )
    assert repr(modelyard.ModelVersion()) == "ModelVersion()"


def test_a_view_is_read_only() -> None:
    version = example_version()
    with pytest.raises(AttributeError):
        version.stage = Stage.ARCHIVED  # type: ignore[misc]
    with pytest.raises(AttributeError):
        version.artifact = modelyard.Artifact()  # type: ignore[misc]
    with pytest.raises(AttributeError):
        version.nickname = "champion"  # type: ignore[attr-defined]
    assert version == example_version()


@pytest.mark.parametrize("protocol", range(2, pickle.HIGHEST_PROTOCOL + 1))
def test_a_view_pickles_to_an_equal_view(protocol: int) -> None:
    version = example_version()
    copied = pickle.loads(pickle.dumps(version, protocol=protocol))
    assert type(copied) is modelyard.ModelVersion and copied == version
    assert copied.stage is Stage.PRODUCTION and copied.proto is not version.proto


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
        metrics=version.metrics, tags=version.tags, approvers=version.approvers
    )
    assert copied.proto.metrics == version.proto.metrics and copied.tags == version.tags
    assert copied.approvers == version.approvers == ["ann", "bob"]


# Timestamps

NOON = datetime(2026, 3, 1, 12, 0, 0, 250_000, tzinfo=UTC)


def test_a_timestamp_reads_as_an_aware_utc_datetime_and_none_when_unset() -> None:
    version = modelyard.ModelVersion(create_time=NOON)
    assert version.create_time == NOON and version.proto.create_time.ToDatetime(UTC) == NOON
    assert version.create_time is not None and version.create_time.tzinfo is UTC
    assert version.stage_time is None and version.update_time is None
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    assert modelyard.ModelVersion(create_time=epoch).create_time == epoch  # all zero, yet set


def test_a_time_given_in_another_zone_reads_back_as_the_same_instant_in_utc() -> None:
    paris = timezone(timedelta(hours=1))
    version = modelyard.ModelVersion(create_time=datetime(2026, 3, 1, 13, 0, 0, 250_000, paris))
    assert version.create_time == NOON
    assert version.create_time is not None and version.create_time.utcoffset() == timedelta(0)


def test_a_naive_time_is_refused_because_it_is_ambiguous() -> None:
    with pytest.raises(ValueError, match="create_time must be timezone-aware"):
        modelyard.ModelVersion(create_time=datetime(2026, 3, 1, 12, 0))


# Structs


def test_a_struct_reads_as_a_dict_and_none_when_unset() -> None:
    snapshot = {"name": "groups/fraud/versions/3", "tags": {"team": "risk"}, "version": 3}
    event = modelyard.AuditEvent(action=modelyard.Action.MODEL_VERSION_CREATED, after=snapshot)
    assert event.after == snapshot and event.before is None
    assert modelyard.AuditEvent(before={}).before == {}  # set, though empty: not None
    related = modelyard.AuditEvent(related=[modelyard.RelatedChange(before=snapshot)]).related
    assert related[0].before == snapshot and related[0].after is None


def test_changing_the_dict_read_from_a_struct_does_not_change_the_view() -> None:
    event = modelyard.AuditEvent(after={"name": "groups/fraud"})
    after = event.after
    assert after is not None
    after["name"] = "groups/other"
    assert event.after == {"name": "groups/fraud"}


def test_an_optional_number_reads_as_none_when_unset_and_as_itself_when_zero() -> None:
    unbounded = modelyard.ColumnSpec(name="age", type=ColumnType.INTEGER)
    assert (unbounded.min, unbounded.max) == (None, None)
    bounded = modelyard.ColumnSpec(name="age", type=ColumnType.INTEGER, min=0.0, max=130.0)
    assert (bounded.min, bounded.max) == (0.0, 130.0)
