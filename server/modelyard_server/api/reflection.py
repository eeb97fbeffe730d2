"""Server reflection that keeps the proto comments, so grpcurl `describe` shows them."""

from __future__ import annotations

from importlib import resources
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.descriptor import FileDescriptor
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2


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


class CommentedPool:
    """The part of DescriptorPool that grpc's reflection servicer uses, answering with _File."""

    def __init__(self, files: list[descriptor_pb2.FileDescriptorProto]) -> None:
        self.pool = descriptor_pool.DescriptorPool()
        self.originals = {f.name: f for f in files}
        for file in files:
            self.pool.Add(file)
        for module in (health_pb2, reflection_pb2):
            proto = descriptor_pb2.FileDescriptorProto()
            module.DESCRIPTOR.CopyToProto(proto)
            if proto.name not in self.originals:
                self.pool.Add(proto)

    def FindFileByName(self, name: str) -> _File:
        return _File(self.pool.FindFileByName(name), self)

    def FindFileContainingSymbol(self, symbol: str) -> _File:
        return _File(self.pool.FindFileContainingSymbol(symbol), self)

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
