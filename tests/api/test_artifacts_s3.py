"""The S3 blob store, against a real S3-speaking server on loopback: what the registry holds
on S3 comes back bit for bit, a mismatch leaves nothing in the bucket, and each blob is one
object whatever groups sent it."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import grpc
import modelyard
import pytest
from modelyard import Registry
from modelyard.v1 import artifact_service_pb2 as arts

from tests.support.factory import ServerFactory
from tests.support.s3 import CREDENTIALS, S3, s3_server
from tests.support.servers import Server
from tests.support.status import reason_of
from tests.support.stubs import raw_stubs

PREFIX = "registry/blobs"


@pytest.fixture(scope="module")
def s3() -> Iterator[S3]:
    with s3_server() as started:
        yield started


@pytest.fixture
def s3_registry(
    s3: S3, server_factory: ServerFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Server, Registry]]:
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    server = server_factory(
        "sqlite", artifact_store=f"s3://{s3.bucket}/{PREFIX}", s3_endpoint_url=s3.endpoint_url
    )
    with server, Registry(server.address, token=server.token) as registry:
        yield server, registry


def tree(root: Path) -> dict[str, bytes]:
    contents = {f"dir{i % 4}/f{i}.bin": os.urandom(i * 4099) for i in range(20)}
    contents["big.bin"] = os.urandom(6 << 20)  # several chunks, and a multipart upload
    for path, data in contents.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    return contents


def test_a_file_and_a_directory_round_trip_through_s3(
    s3: S3, s3_registry: tuple[Server, Registry], unique_group: str, tmp_path: Path
) -> None:
    server, registry = s3_registry
    registry.create_group(unique_group)
    single = tmp_path / "model.onnx"
    single.write_bytes(os.urandom(2 << 20))
    one = registry.register(unique_group, path=single)
    source = tmp_path / "dir"
    written = tree(source)
    many = registry.register(unique_group, path=source)
    assert one.artifact.held and many.artifact.held

    assert registry.download(one.name, dest=tmp_path / "a.onnx").read_bytes() == single.read_bytes()
    got = registry.download(many.name, dest=tmp_path / "copy")
    assert {
        p.relative_to(got).as_posix(): p.read_bytes() for p in got.rglob("*") if p.is_file()
    } == written

    digest = hashlib.sha256(single.read_bytes()).hexdigest()
    assert f"{PREFIX}/sha256/{digest[:2]}/{digest}" in s3.keys(PREFIX)
    # Nothing is left staged on the server's disk once the blobs are in the bucket.
    assert list((server.data_dir / "blobs" / "staging" / "uploads").glob("*.part")) == []


def test_a_mismatch_leaves_nothing_in_the_bucket_and_dedup_keeps_one_object(
    s3: S3, s3_registry: tuple[Server, Registry], unique_group: str, tmp_path: Path
) -> None:
    server, registry = s3_registry
    registry.create_group(unique_group)
    registry.create_group(f"{unique_group}-b")
    data = os.urandom(10_000)
    digest = hashlib.sha256(data).hexdigest()
    name = f"groups/{unique_group}/uploads/u/blobs/{digest}/{len(data)}"
    with raw_stubs(server.address, server.token) as raw:
        with pytest.raises(grpc.RpcError) as caught:
            raw.artifacts.WriteBlob(
                iter(
                    [
                        arts.WriteBlobRequest(
                            resource_name=name, data=os.urandom(10_000), finish_write=True
                        )
                    ]
                ),
                metadata=raw.metadata,
            )
        assert reason_of(caught.value) == "DIGEST_MISMATCH"
    assert not any(digest in key for key in s3.keys(PREFIX))

    (tmp_path / "w.bin").write_bytes(data)
    assert registry.upload(unique_group, tmp_path / "w.bin") == len(data)
    assert registry.upload(f"{unique_group}-b", tmp_path / "w.bin") == len(data)
    assert [k for k in s3.keys(PREFIX) if digest in k] == [f"{PREFIX}/sha256/{digest[:2]}/{digest}"]


def test_a_download_can_come_straight_from_s3_and_is_checked_the_same_way(
    s3: S3, s3_registry: tuple[Server, Registry], unique_group: str, tmp_path: Path
) -> None:
    _, registry = s3_registry
    registry.create_group(unique_group)
    model = tmp_path / "model.bin"
    model.write_bytes(os.urandom(5 << 20))
    version = registry.register(unique_group, path=model)
    manifest = registry.get_artifact_manifest(version.name, download_urls=True)
    [file] = manifest.files
    assert file.download_url.startswith(f"{s3.endpoint_url}/{s3.bucket}/{PREFIX}/sha256/")
    copy = registry.download(version.name, dest=tmp_path / "copy.bin", direct=True)
    assert copy.read_bytes() == model.read_bytes()

    # Bytes changed behind the registry's back are caught, wherever they come from.
    key = f"{PREFIX}/sha256/{file.sha256[:2]}/{file.sha256}"
    s3.client().put_object(Bucket=s3.bucket, Key=key, Body=os.urandom(5 << 20))
    with pytest.raises(modelyard.DigestMismatch, match="expected 5242880 bytes with sha256"):
        registry.download(version.name, dest=tmp_path / "tampered.bin", direct=True)
    assert not (tmp_path / "tampered.bin").exists()
