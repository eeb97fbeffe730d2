"""The SDK's pure parts: resource names, token discovery, and the requests it builds."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import grpc
import modelyard
import pytest
from modelyard import _requests as build
from modelyard._watch_cursor import resumable
from modelyard.transport import (
    RetryPolicy,
    TlsFiles,
    TokenSearch,
    call_metadata,
    discover_token,
    find_token,
    normalize_address,
    resolve_address,
    resolve_tls,
    user_token_file,
)
from modelyard.v1 import resources_pb2 as pb

# Resource names


@pytest.mark.parametrize("group", ["fraud", "groups/fraud"])
def test_a_group_may_be_named_by_id_or_resource_name(group: str) -> None:
    assert modelyard.group_name(group) == "groups/fraud"


@pytest.mark.parametrize(
    ("group", "version", "name"),
    [
        ("fraud", 3, "groups/fraud/versions/3"),
        ("groups/fraud", "3", "groups/fraud/versions/3"),
        ("fraud", "latest", "groups/fraud/versions/latest"),
        ("groups/fraud/versions/7", None, "groups/fraud/versions/7"),
        ("groups/fraud/aliases/champion", None, "groups/fraud/aliases/champion"),
    ],
)
def test_a_version_may_be_named_by_group_and_number_or_by_name(
    group: str, version: int | str | None, name: str
) -> None:
    assert modelyard.version_name(group, version) == name


def test_a_group_without_a_version_is_not_a_version_name() -> None:
    with pytest.raises(ValueError, match="pass the version too"):
        modelyard.version_name("fraud")


def test_a_version_name_with_another_version_is_refused() -> None:
    with pytest.raises(ValueError, match="already names a version"):
        modelyard.version_name("groups/fraud/versions/3", 4)


def test_an_empty_group_is_refused() -> None:
    with pytest.raises(ValueError, match="group id is required"):
        modelyard.group_name("")


def test_a_version_name_splits_into_group_and_version() -> None:
    assert modelyard.split_version_name("groups/fraud/versions/3") == ("fraud", "3")
    with pytest.raises(ValueError, match="is not a version name"):
        modelyard.split_version_name("groups/fraud")


# Address and token discovery


def test_the_address_comes_from_the_argument_the_environment_or_the_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MODELYARD_ADDRESS", raising=False)
    assert resolve_address() == "127.0.0.1:50051"
    monkeypatch.setenv("MODELYARD_ADDRESS", "registry:443")
    assert resolve_address() == "registry:443"
    assert resolve_address("other:1") == "other:1"


@pytest.mark.parametrize(
    ("given", "dialed"),
    [
        ("registry", "registry:50051"),
        ("registry:", "registry:50051"),
        (" registry:7000 ", "registry:7000"),
        ("::1", "[::1]:50051"),
        ("[::1]", "[::1]:50051"),
        ("[::1]:7000", "[::1]:7000"),
        ("dns:///registry:7000", "dns:///registry:7000"),
        ("unix:/run/modelyard.sock", "unix:/run/modelyard.sock"),
    ],
)
def test_an_address_without_a_port_gets_the_default_port(given: str, dialed: str) -> None:
    assert normalize_address(given) == dialed


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "http://registry:7000/",
            "the registry's address is host:port, not a URL: give registry:7000 instead of "
            "http://registry:7000/",
        ),
        (
            "https://registry.example.com",
            "the registry's address is host:port, not a URL: give registry.example.com:50051 "
            "instead of https://registry.example.com (for TLS, give host:port and the CA that "
            "signed the server's certificate: --tls-ca FILE, tls_ca= or $MODELYARD_TLS_CA)",
        ),
        ("registry:http", "the port in the address 'registry:http' is not a number"),
        ("", "the registry's address is empty"),
    ],
)
def test_a_url_or_a_bad_port_is_refused_with_the_address_to_give(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        normalize_address(url)


def test_the_token_variable_comes_first(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("from-file\n")
    env = {"MODELYARD_TOKEN": "from-env", "MODELYARD_TOKEN_FILE": str(tmp_path / "file")}
    assert find_token(env) == TokenSearch("from-env", "$MODELYARD_TOKEN", ())


def test_then_the_token_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("  from-file\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "admin.token").write_text("from-data-dir")
    env = {
        "MODELYARD_TOKEN_FILE": str(tmp_path / "file"),
        "MODELYARD_DATA_DIR": str(tmp_path / "data"),
    }
    assert discover_token(env) == "from-file"


def test_a_token_file_that_cannot_be_read_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"MODELYARD_TOKEN_FILE names .*, which cannot be read"):
        discover_token({"MODELYARD_TOKEN_FILE": str(tmp_path / "missing")})
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(ValueError, match=r"which is empty"):
        discover_token({"MODELYARD_TOKEN_FILE": str(tmp_path / "empty")})


def test_then_the_data_directory_then_the_per_user_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "admin.token").write_text("from-data-dir\n")
    user = tmp_path / "config" / "modelyard"
    user.mkdir(parents=True)
    (user / "token").write_text("from-user-file\n")
    env = {"HOME": str(tmp_path / "home"), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    assert discover_token({**env, "MODELYARD_DATA_DIR": str(data)}) == "from-data-dir"
    assert find_token(env) == TokenSearch(
        "from-user-file",
        str(user / "token"),
        (
            "$MODELYARD_TOKEN (unset)",
            "$MODELYARD_TOKEN_FILE (unset)",
            "$MODELYARD_DATA_DIR/admin.token (unset)",
        ),
    )


def test_the_per_user_file_is_under_the_home_without_an_absolute_xdg_config_home(
    tmp_path: Path,
) -> None:
    home = str(tmp_path)
    expected = tmp_path / ".config" / "modelyard" / "token"
    assert user_token_file({"HOME": home}) == expected
    assert user_token_file({"HOME": home, "XDG_CONFIG_HOME": "relative"}) == expected


def test_the_current_directory_is_not_searched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "modelyard-data").mkdir()
    (tmp_path / "modelyard-data" / "admin.token").write_text("from-the-current-directory\n")
    monkeypatch.chdir(tmp_path)
    assert discover_token({"HOME": str(tmp_path / "home")}) is None


def test_no_token_anywhere_means_none_and_says_where_it_looked(tmp_path: Path) -> None:
    found = find_token({"HOME": str(tmp_path), "MODELYARD_DATA_DIR": str(tmp_path / "data")})
    assert found == TokenSearch(
        None,
        "",
        (
            "$MODELYARD_TOKEN (unset)",
            "$MODELYARD_TOKEN_FILE (unset)",
            f"{tmp_path / 'data' / 'admin.token'} (absent)",
            f"{tmp_path / '.config' / 'modelyard' / 'token'} (absent)",
        ),
    )


def test_the_token_is_sent_as_a_bearer_authorization() -> None:
    assert call_metadata("abc", [("x-a", "1")]) == [("authorization", "Bearer abc"), ("x-a", "1")]
    assert call_metadata(None, None) == []


# Retry policy


def test_backoff_grows_exponentially_with_jitter_and_a_ceiling() -> None:
    policy = RetryPolicy(max_attempts=10, initial_backoff=0.1, max_backoff=1.0, multiplier=2.0)
    for attempt, ceiling in [(1, 0.1), (2, 0.2), (3, 0.4), (4, 0.8), (5, 1.0), (9, 1.0)]:
        pauses = [policy.backoff(attempt) for _ in range(50)]
        assert all(ceiling / 2 <= p <= ceiling for p in pauses)
        assert len(set(pauses)) > 1


def test_a_tls_handshake_that_cannot_succeed_is_not_tried_again() -> None:
    def unavailable(said: str) -> modelyard.Unavailable:
        return modelyard.Unavailable(said, code=grpc.StatusCode.UNAVAILABLE, reason="UNAVAILABLE")

    policy = RetryPolicy()
    untrusted = (
        "Tls handshake failed (TSI_PROTOCOL_FAILURE): SSL_ERROR_SSL: ...:CERTIFICATE_VERIFY_FAILED"
    )
    assert not policy.should_retry(unavailable(untrusted), 1)
    assert policy.should_retry(unavailable("ipv4:127.0.0.1:50051: Connection refused"), 1)


def test_a_retry_policy_needs_at_least_one_attempt() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        RetryPolicy(max_attempts=0)


# Requests


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("onnx", modelyard.ArtifactFormat.ONNX),
        ("ONNX", modelyard.ArtifactFormat.ONNX),
        ("saved-model", modelyard.ArtifactFormat.SAVED_MODEL),
        ("ARTIFACT_FORMAT_PICKLE", modelyard.ArtifactFormat.PICKLE),
        (modelyard.ArtifactFormat.JOBLIB, modelyard.ArtifactFormat.JOBLIB),
    ],
)
def test_an_artifact_format_may_be_given_by_name(
    given: build.ArtifactFormatLike, expected: int
) -> None:
    assert build.artifact_format(given) == expected


def test_an_unknown_format_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown format 'h5'; use one of: onnx, pmml"):
        build.artifact_format("h5")


def test_register_sends_every_field_it_was_given() -> None:
    version = build.new_version(
        uri="s3://b/k",
        sha256="a" * 64,
        size_bytes=10,
        format="onnx",
        framework="sklearn",
        framework_version="1.5",
        metrics={"auc": 0.9},
        hyperparameters={"depth": "6"},
        tags={"team": "risk"},
        description="d",
        inference_image="img:1",
        lineage=modelyard.Lineage(code_commit="abc"),
        model_card=modelyard.ModelCard(intended_use="u"),
        schema=modelyard.ModelSchema(inputs=[modelyard.ColumnSpec(name="x")]),
    )
    assert version.artifact.format == pb.ARTIFACT_FORMAT_ONNX
    assert version.artifact.size_bytes == 10
    assert dict(version.metrics) == {"auc": 0.9}
    assert version.lineage.code_commit == "abc"
    assert version.schema.inputs[0].name == "x"
    assert not version.name


def test_mutating_requests_get_a_fresh_request_id_unless_one_is_given() -> None:
    first = build.create_group("fraud", description="", tags=None, request_id_=None)
    second = build.create_group("fraud", description="", tags=None, request_id_=None)
    given = build.create_group("groups/fraud", description="", tags=None, request_id_="r-1")
    assert len(first.request_id) == 36
    assert first.request_id != second.request_id
    assert given.request_id == "r-1"
    assert given.model_group_id == "fraud"


@pytest.mark.parametrize("kind", [modelyard.ModelGroup, pb.ModelGroup], ids=["view", "message"])
def test_an_update_does_not_change_the_callers_message(
    kind: type[modelyard.ModelGroup | pb.ModelGroup],
) -> None:
    group = kind(name="fraud", description="new")
    request = build.update_group(group, update_mask=["description"], request_id_=None)
    assert request.model_group.name == "groups/fraud"
    assert request.model_group.description == "new"
    assert group.name == "fraud"


def test_an_update_mask_must_be_a_list_of_paths() -> None:
    group = modelyard.ModelGroup(name="fraud")
    with pytest.raises(TypeError, match=r"\['description'\]"):
        build.update_group(group, update_mask="description", request_id_=None)
    with pytest.raises(ValueError, match="at least one field"):
        build.update_group(group, update_mask=[], request_id_=None)


def test_audit_filters_take_action_names_and_aware_times() -> None:
    request = build.list_audit_events(
        resource="groups/fraud",
        actor="",
        actions=["MODEL_GROUP_CREATED", modelyard.Action.MODEL_VERSION_DELETED],
        start_time=datetime(2026, 1, 1, tzinfo=UTC),
        end_time=None,
        newest_first=True,
        page_size=5,
    )
    assert list(request.actions) == [pb.ACTION_MODEL_GROUP_CREATED, pb.ACTION_MODEL_VERSION_DELETED]
    assert request.start_time.ToDatetime(tzinfo=UTC) == datetime(2026, 1, 1, tzinfo=UTC)
    assert not request.HasField("end_time")


def test_a_naive_time_is_refused_because_it_is_ambiguous() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        build.list_audit_events(
            resource="",
            actor="",
            actions=(),
            start_time=datetime(2026, 1, 1),
            end_time=None,
            newest_first=False,
            page_size=0,
        )


def test_errors_print_as_reason_and_message() -> None:
    err = modelyard.InvalidField(
        "bad fields", reason="INVALID_FIELD", field_violations=[("artifact.uri", "needs a scheme")]
    )
    assert str(err) == "INVALID_FIELD: bad fields\n  artifact.uri: needs a scheme"
    assert repr(err) == "InvalidField(reason='INVALID_FIELD', message='bad fields')"
    assert err.code == grpc.StatusCode.INVALID_ARGUMENT


def test_an_error_built_without_a_code_takes_its_class_code() -> None:
    assert modelyard.StaleEtag("changed").code == grpc.StatusCode.ABORTED
    assert modelyard.StaleEtag("changed").reason == "ABORTED"
    assert modelyard.ModelyardError("x").code == grpc.StatusCode.UNKNOWN


@pytest.mark.parametrize(
    ("code", "reason", "resumes"),
    [
        (grpc.StatusCode.UNAVAILABLE, "UNAVAILABLE", True),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, "SUBSCRIBER_TOO_SLOW", True),
        # grpc's own, for a message over the channel's limit: it would come back every time
        (grpc.StatusCode.RESOURCE_EXHAUSTED, "RESOURCE_EXHAUSTED", False),
        (grpc.StatusCode.PERMISSION_DENIED, "MISSING_PERMISSION", False),
    ],
)
def test_a_watch_resumes_only_after_failures_that_reconnecting_cures(
    code: grpc.StatusCode, reason: str, resumes: bool
) -> None:
    assert resumable(modelyard.ModelyardError("x", code=code, reason=reason)) is resumes


# TLS files


def test_tls_files_come_from_the_arguments_else_the_environment() -> None:
    environ = {
        "MODELYARD_TLS_CA": "/etc/ca.pem",
        "MODELYARD_TLS_CERT": "c.pem",
        "MODELYARD_TLS_KEY": "k.pem",
    }
    assert resolve_tls(environ=environ) == TlsFiles(
        Path("/etc/ca.pem"), Path("c.pem"), Path("k.pem")
    )
    assert resolve_tls("mine.pem", environ=environ) == TlsFiles(Path("mine.pem"))
    assert resolve_tls(environ={}) is None


def test_a_client_certificate_without_its_key_is_refused() -> None:
    with pytest.raises(ValueError, match="tls_cert needs tls_key"):
        resolve_tls(cert="c.pem", environ={})
    with pytest.raises(ValueError, match="tls_key needs tls_cert"):
        resolve_tls(environ={"MODELYARD_TLS_KEY": "k.pem"})


def test_credentials_and_tls_files_are_not_given_together() -> None:
    with pytest.raises(ValueError, match="credentials= or the tls_ca/tls_cert/tls_key files"):
        modelyard.Registry(
            "127.0.0.1:1", token="t", tls_ca="ca.pem", credentials=grpc.ssl_channel_credentials()
        )


def test_a_ca_file_that_cannot_be_used_is_refused_when_the_client_is_made(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"tls_ca names .*missing.pem, which cannot be read"):
        modelyard.Registry("127.0.0.1:1", token="t", tls_ca=tmp_path / "missing.pem")
    (tmp_path / "empty.pem").write_text("not a certificate")
    with pytest.raises(
        ValueError, match=r"tls_ca names .*empty.pem, which holds no PEM certificate"
    ):
        modelyard.Registry("127.0.0.1:1", token="t", tls_ca=tmp_path / "empty.pem")
