"""Server reflection that keeps the proto comments, so grpcurl `describe` shows them, served
as both grpc.reflection.v1 (what current grpcurl, grpcui and buf curl ask first) and
v1alpha (what older ones ask)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from importlib import resources
from typing import Any

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.descriptor import FileDescriptor
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_reflection.v1alpha._async import ReflectionServicer

V1ALPHA_SERVICE: str = reflection_pb2.DESCRIPTOR.services_by_name["ServerReflection"].full_name
V1_SERVICE = "grpc.reflection.v1.ServerReflection"


class _File:
    """A file descriptor that serializes to its original form, comments included."""

    def __init__(self, descriptor: FileDescriptor, pool: CommentedPool) -> None:
        self._descriptor = descriptor
        self._pool = pool
        self.name = descriptor.name

    @property
    def dependencies(self) -> list[_File]:
        return [_File(d, self._pool) for d in self._descriptor.dependencies]

    def CopyToProto(self, proto: descriptor_pb2.FileDescriptorProto) -> None:
        original = self._pool.originals.get(self.name)
        if original is not None:
            proto.CopyFrom(original)
        else:
            self._descriptor.CopyToProto(proto)


def _v1_reflection_file() -> descriptor_pb2.FileDescriptorProto:
    """Returns grpc/reflection/v1/reflection.proto: v1alpha's file under the v1 package.

    The two differ in nothing but their package (same messages, same field numbers), and
    grpcio-reflection ships only v1alpha."""
    proto = descriptor_pb2.FileDescriptorProto()
    reflection_pb2.DESCRIPTOR.CopyToProto(proto)
    old, new = f".{proto.package}.", ".grpc.reflection.v1."
    proto.name = "grpc/reflection/v1/reflection.proto"
    proto.package = "grpc.reflection.v1"
    proto.options.Clear()
    proto.options.java_package = "io.grpc.reflection.v1"
    proto.options.java_outer_classname = "ServerReflectionProto"
    proto.options.java_multiple_files = True
    proto.options.go_package = "google.golang.org/grpc/reflection/grpc_reflection_v1"
    for message in proto.message_type:
        for field in message.field:
            if field.type_name.startswith(old):
                field.type_name = new + field.type_name[len(old) :]
    for service in proto.service:
        for method in service.method:
            method.input_type = new + method.input_type[len(old) :]
            method.output_type = new + method.output_type[len(old) :]
    return proto


def _symbols(file: descriptor_pb2.FileDescriptorProto) -> Iterator[str]:
    """Yields the full name of everything a file declares, as protoc's pool finds them:
    messages (nested too), their fields and oneofs, enums and their values (which protobuf
    scopes beside the enum and grpcurl inside it), extensions, services and their methods."""

    def enum(scope: str, declared: descriptor_pb2.EnumDescriptorProto) -> Iterator[str]:
        yield f"{scope}{declared.name}"
        for value in declared.value:
            yield f"{scope}{value.name}"
            yield f"{scope}{declared.name}.{value.name}"  # as grpcurl names them

    def message(scope: str, declared: descriptor_pb2.DescriptorProto) -> Iterator[str]:
        name = f"{scope}{declared.name}"
        yield name
        inner = name + "."
        yield from (inner + field.name for field in (*declared.field, *declared.extension))
        yield from (inner + oneof.name for oneof in declared.oneof_decl)
        for nested in declared.nested_type:
            yield from message(inner, nested)
        for nested_enum in declared.enum_type:
            yield from enum(inner, nested_enum)

    scope = f"{file.package}." if file.package else ""
    for declared in file.message_type:
        yield from message(scope, declared)
    for declared_enum in file.enum_type:
        yield from enum(scope, declared_enum)
    yield from (scope + extension.name for extension in file.extension)
    for service in file.service:
        yield scope + service.name
        yield from (f"{scope}{service.name}.{method.name}" for method in service.method)


class CommentedPool:
    """The part of DescriptorPool that grpc's reflection servicer uses, answering with _File.

    It finds the file of any symbol grpcurl asks for, methods included
    (`describe modelyard.v1.RegistryService.GetModelVersion`), which protobuf's own pool
    does not."""

    def __init__(self, files: list[descriptor_pb2.FileDescriptorProto]) -> None:
        self.pool = descriptor_pool.DescriptorPool()
        self.originals = {f.name: f for f in files}
        extra = [_v1_reflection_file()]
        for module in (health_pb2, reflection_pb2):
            proto = descriptor_pb2.FileDescriptorProto()
            module.DESCRIPTOR.CopyToProto(proto)
            extra.append(proto)
        # Every symbol's file, for what protobuf's pool does not find (methods).
        self.files_of: dict[str, str] = {}
        for file in (*files, *(f for f in extra if f.name not in self.originals)):
            self.pool.Add(file)
            self.files_of.update(dict.fromkeys(_symbols(file), file.name))

    def FindFileByName(self, name: str) -> _File:
        return _File(self.pool.FindFileByName(name), self)

    def FindFileContainingSymbol(self, symbol: str) -> _File:
        name = self.files_of.get(symbol)
        if name is None:
            return _File(self.pool.FindFileContainingSymbol(symbol), self)  # KeyError if none
        return self.FindFileByName(name)

    def FindMessageTypeByName(self, name: str) -> Any:
        return self.pool.FindMessageTypeByName(name)

    def FindExtensionByNumber(self, message: Any, number: int) -> Any:
        return self.pool.FindExtensionByNumber(message, number)

    def FindAllExtensions(self, message: Any) -> Any:
        return self.pool.FindAllExtensions(message)


def commented_pool() -> CommentedPool:
    """Returns the pool built from the descriptor set `make proto` writes beside the code."""
    data = resources.files("modelyard.v1").joinpath("descriptor_set.binpb").read_bytes()
    return CommentedPool(list(descriptor_pb2.FileDescriptorSet.FromString(data).file))


def add_reflection(services: Iterable[str], server: grpc.aio.Server) -> None:
    """Serves reflection v1 and v1alpha on `server`, listing `services` and themselves."""
    servicer = ReflectionServicer(
        (*services, V1_SERVICE, V1ALPHA_SERVICE),
        pool=commented_pool(),
    )
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(servicer, server)
    # One servicer for both: their messages are the same on the wire.
    v1 = grpc.stream_stream_rpc_method_handler(
        servicer.ServerReflectionInfo,
        request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
        response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
    )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(V1_SERVICE, {"ServerReflectionInfo": v1}),)
    )
