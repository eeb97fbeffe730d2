"""The server on the wire: reflection and health for grpcurl, and who may call it.

The server as a process (durability, shutdown, its commands) is tested in tests/e2e."""

from __future__ import annotations

import json
import stat
import subprocess

import grpc
import pytest
from google.protobuf import descriptor_pb2
from grpc_reflection.v1alpha import reflection_pb2
from modelyard import Registry, errors

from tests.support.factory import ServerFactory
from tests.support.inprocess import SetupError
from tests.support.paths import GRPCURL
from tests.support.servers import Server
from tests.support.versions import register


def grpcurl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(GRPCURL), "-plaintext", *args], capture_output=True, text=True, timeout=30
    )


def test_grpcurl_lists_and_describes_every_service_without_a_token(
    sqlite_server: Server,
) -> None:
    listed = grpcurl(sqlite_server.address, "list")
    assert listed.returncode == 0, listed.stderr
    assert set(listed.stdout.split()) >= {
        "modelyard.v1.RegistryService",
        "modelyard.v1.AuditService",
        "grpc.health.v1.Health",
    }
    described = grpcurl(sqlite_server.address, "describe", "modelyard.v1.RegistryService")
    assert (
        "rpc CreateModelVersion" in described.stdout and "rpc ListModelVersions" in described.stdout
    )
    message = grpcurl(sqlite_server.address, "describe", "modelyard.v1.ModelVersion")
    assert "Output only. The version number" in message.stdout  # proto comments reach the user


def test_grpcurl_describes_methods_nested_types_and_enum_values_by_their_full_names(
    sqlite_server: Server,
) -> None:
    """grpcurl asks reflection for the file of the very symbol it is given."""
    method = grpcurl(
        sqlite_server.address, "describe", "modelyard.v1.RegistryService.GetModelVersion"
    )
    assert method.returncode == 0, method.stderr
    assert "is a method" in method.stdout
    assert "rpc GetModelVersion ( .modelyard.v1.GetModelVersionRequest )" in method.stdout
    assert "Returns a model version." in method.stdout
    health = grpcurl(sqlite_server.address, "describe", "grpc.health.v1.Health.Check")
    assert "rpc Check" in health.stdout, health.stderr
    entry = grpcurl(sqlite_server.address, "describe", "modelyard.v1.ModelVersion.MetricsEntry")
    assert "map<string, double> metrics" in entry.stdout, entry.stderr
    field = grpcurl(sqlite_server.address, "describe", "modelyard.v1.ModelVersion.name")
    assert "string name = 1" in field.stdout, field.stderr
    value = grpcurl(sqlite_server.address, "describe", "modelyard.v1.Stage.STAGE_PRODUCTION")
    assert "STAGE_PRODUCTION = 3;" in value.stdout, value.stderr
    methods = grpcurl(sqlite_server.address, "list", "modelyard.v1.RegistryService")
    assert "modelyard.v1.RegistryService.GetModelVersion" in methods.stdout.split()


def test_reflection_v1_is_served_beside_v1alpha(sqlite_server: Server) -> None:
    """grpcurl from 1.8.8 on, grpcui and buf curl ask v1 first; the grpcurl that `make
    install` pins asks v1alpha, so v1 is called here directly (the messages of both are the
    same on the wire)."""
    with grpc.insecure_channel(sqlite_server.address) as channel:
        call = channel.stream_stream(
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
            request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
            response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
        )
        listed, found = call(
            iter(
                [
                    reflection_pb2.ServerReflectionRequest(list_services=""),
                    reflection_pb2.ServerReflectionRequest(
                        file_containing_symbol="modelyard.v1.RegistryService.GetModelVersion"
                    ),
                ]
            ),
            timeout=10,
        )
    services = {s.name for s in listed.list_services_response.service}
    assert {
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
        "modelyard.v1.RegistryService",
    } <= services
    files = [
        descriptor_pb2.FileDescriptorProto.FromString(data).name
        for data in found.file_descriptor_response.file_descriptor_proto
    ]
    assert "modelyard/v1/registry_service.proto" in files
    described = grpcurl(sqlite_server.address, "describe", "grpc.reflection.v1.ServerReflection")
    assert "rpc ServerReflectionInfo ( stream .grpc.reflection.v1.ServerReflectionRequest )" in (
        described.stdout
    ), described.stderr


def test_a_server_started_on_a_busy_address_says_so(
    server_factory: ServerFactory, sqlite_server: Server
) -> None:
    """What grpc says when it cannot bind (only that it failed) becomes the operator's line."""
    busy = sqlite_server.address
    with pytest.raises(SetupError) as caught:
        server_factory(address=busy)
    assert str(caught.value) == (
        f"cannot listen on {busy}: address already in use; "
        "stop the other server or pass --address HOST:PORT"
    )


def test_grpcurl_health_check_says_serving(sqlite_server: Server) -> None:
    health = grpcurl(sqlite_server.address, "grpc.health.v1.Health/Check")
    assert json.loads(health.stdout) == {"status": "SERVING"}
    per_service = grpcurl(
        "-d",
        '{"service":"modelyard.v1.RegistryService"}',
        sqlite_server.address,
        "grpc.health.v1.Health/Check",
    )
    assert json.loads(per_service.stdout) == {"status": "SERVING"}


def test_grpcurl_calls_with_the_admin_token(sqlite_server: Server, unique_group: str) -> None:
    auth = f"authorization: Bearer {sqlite_server.token}"
    created = grpcurl(
        "-H",
        auth,
        "-d",
        json.dumps({"model_group_id": unique_group}),
        sqlite_server.address,
        "modelyard.v1.RegistryService/CreateModelGroup",
    )
    assert json.loads(created.stdout)["name"] == f"groups/{unique_group}"
    refused = grpcurl(
        "-d",
        json.dumps({"name": f"groups/{unique_group}"}),
        sqlite_server.address,
        "modelyard.v1.RegistryService/GetModelGroup",
    )
    assert (
        refused.returncode != 0
        and "Unauthenticated" in refused.stderr
        and "bearer token" in refused.stderr
    )


def test_calls_without_a_known_token_are_unauthenticated(
    sqlite_server: Server, unique_group: str
) -> None:
    with (
        Registry(sqlite_server.address, token="myd_not-a-real-token") as stranger,
        pytest.raises(errors.Unauthenticated),
    ):
        stranger.get_group(unique_group)


def test_roles_decide_what_a_caller_may_do(sqlite_server: Server, unique_group: str) -> None:
    with Registry(sqlite_server.address, token=sqlite_server.token) as admin:
        admin.create_group(unique_group)
        admin.create_group(unique_group + "-other")
    viewer = sqlite_server.mint_token("vera", "viewer")
    scoped = sqlite_server.mint_token("carl", f"contributor@{unique_group}")
    with Registry(sqlite_server.address, token=viewer) as vera:
        assert vera.get_group(unique_group).name == f"groups/{unique_group}"
        with pytest.raises(errors.MissingPermission) as caught:
            register(vera, unique_group)
        assert "register" in caught.value.message
    with Registry(sqlite_server.address, token=scoped) as carl:
        assert register(carl, unique_group).created_by == "carl"
        with pytest.raises(errors.MissingPermission):
            register(carl, unique_group + "-other")
        with pytest.raises(errors.MissingPermission):
            carl.delete_version(unique_group, 1)  # deletes are for admins


def test_the_admin_token_file_is_private(sqlite_server: Server) -> None:
    mode = stat.S_IMODE((sqlite_server.data_dir / "admin.token").stat().st_mode)
    assert mode == 0o600
    assert "admin.token" in sqlite_server.log_file.read_text()
