"""Artifacts the registry holds: files in, the same bytes out, every digest checked by the
server, and nothing of a group's blobs visible from another group or tenant."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import modelyard
import pytest
from modelyard import Registry
from modelyard.v1 import artifact_service_pb2 as arts
from modelyard.v1 import registry_service_pb2 as rs
from modelyard.v1 import resources_pb2 as pb

from tests.support.factory import BACKENDS, ServerFactory
from tests.support.inprocess import InProcessServer
from tests.support.servers import Server
from tests.support.status import reason_of
from tests.support.stubs import Raw, raw_stubs


def tree(root: Path, files: int = 20) -> dict[str, bytes]:
    """Writes a directory of `files` files (nested, one empty, one over a MiB); returns
    path -> content."""
    contents: dict[str, bytes] = {}
    for index in range(files):
        path = f"layer{index % 3}/part-{index}.bin" if index % 2 else f"file-{index}.txt"
        contents[path] = os.urandom(index * 997)
    contents["variables/variables.data"] = os.urandom((1 << 20) + 12345)
    contents["empty"] = b""
    for path, data in contents.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    return contents


def read_tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_blob(
    raw: Raw, name: str, chunks: list[bytes], *, finish: bool = True, start: int = 0
) -> arts.WriteBlobResponse:
    def messages() -> Iterator[arts.WriteBlobRequest]:
        offset = start
        for index, chunk in enumerate(chunks):
            last = finish and index == len(chunks) - 1
            yield arts.WriteBlobRequest(
                resource_name=name, write_offset=offset, data=chunk, finish_write=last
            )
            offset += len(chunk)

    return raw.artifacts.WriteBlob(messages(), metadata=raw.metadata, timeout=30)


def missing(raw: Raw, group: str, data: bytes) -> list[arts.Digest]:
    request = arts.FindMissingBlobsRequest(
        parent=f"groups/{group}", blob_digests=[arts.Digest(sha256=sha(data), size_bytes=len(data))]
    )
    return list(raw.artifacts.FindMissingBlobs(request, metadata=raw.metadata).missing_blob_digests)


def uploads_left(server: Server) -> list[Path]:
    return list((server.data_dir / "blobs" / "uploads").glob("*.part"))


def test_a_single_file_goes_in_and_comes_back_bit_for_bit(
    registry: Registry, unique_group: str, tmp_path: Path
) -> None:
    registry.create_group(unique_group)
    model = tmp_path / "model.onnx"
    model.write_bytes(os.urandom(3 << 20))
    version = registry.register(unique_group, path=model, format="onnx")
    artifact = version.artifact
    assert artifact.held and not artifact.directory and artifact.file_count == 1
    assert artifact.size_bytes == 3 << 20
    assert artifact.uri == f"modelyard:{version.name}"
    line = f"{sha(model.read_bytes())} {3 << 20} model.onnx\n".encode()
    assert artifact.sha256 == sha(line)  # the canonical manifest's digest
    manifest = registry.get_artifact_manifest(version.name)
    assert [(f.path, f.size_bytes) for f in manifest.files] == [("model.onnx", 3 << 20)]

    copy = registry.download(unique_group, 1, dest=tmp_path / "out" / "copy.onnx")
    assert copy.read_bytes() == model.read_bytes()
    assert not (tmp_path / "out" / "copy.onnx.modelyard-partial").exists()


def test_a_directory_of_20_files_round_trips_and_is_one_identity(
    registry: Registry, unique_group: str, tmp_path: Path
) -> None:
    registry.create_group(unique_group)
    source = tmp_path / "saved_model"
    written = tree(source)
    progress: list[tuple[int, int]] = []
    version = registry.register(
        unique_group,
        path=source,
        format="saved_model",
        progress=lambda d, t: progress.append((d, t)),
    )
    assert version.artifact.directory and version.artifact.file_count == len(written)
    total = sum(len(d) for d in written.values())
    assert version.artifact.size_bytes == total
    assert progress[0] == (0, total) and progress[-1] == (total, total)

    got = registry.download(f"groups/{unique_group}/versions/1", dest=tmp_path / "copy")
    assert read_tree(got) == written

    # The same files again: nothing is uploaded, and the artifact is the same one.
    assert registry.upload(unique_group, source) == 0
    with pytest.raises(modelyard.DuplicateArtifact):
        registry.register(unique_group, path=source)


def test_a_second_group_must_send_the_bytes_too_and_the_store_keeps_one_copy(
    server: Server, registry: Registry, unique_group: str, tmp_path: Path
) -> None:
    other = f"{unique_group}-b"
    registry.create_group(unique_group)
    registry.create_group(other)
    source = tmp_path / "m"
    tree(source, files=4)
    first = registry.upload(unique_group, source)
    assert first == sum(p.stat().st_size for p in source.rglob("*") if p.is_file())
    # Another group must prove it has the bytes: a digest alone would reveal them.
    assert registry.upload(other, source) == first
    assert registry.upload(other, source) == 0
    for file in (p for p in source.rglob("*") if p.is_file()):  # one copy, whoever sent it
        digest = sha(file.read_bytes())
        blob = server.data_dir / "blobs" / "sha256" / digest[:2] / digest
        assert blob.read_bytes() == file.read_bytes()
    assert uploads_left(server) == []


def test_bytes_that_differ_from_their_digest_are_refused_and_nothing_is_kept(
    raw: Raw, server: Server, registry: Registry, unique_group: str
) -> None:
    registry.create_group(unique_group)
    data = os.urandom(5000)
    name = f"groups/{unique_group}/uploads/u1/blobs/{sha(data)}/{len(data)}"
    cases = {
        "other bytes": [os.urandom(5000)],
        "too few": [data[:4000]],
        "too many": [data, b"x"],
    }
    for case, chunks in cases.items():
        with pytest.raises(grpc.RpcError) as caught:
            write_blob(raw, name, chunks)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, case
        assert reason_of(caught.value) == "DIGEST_MISMATCH", case
        assert "nothing of it was kept" in (caught.value.details() or ""), case
        assert uploads_left(server) == [], case
        assert missing(raw, unique_group, data) != [], case
    assert write_blob(raw, name, [data[:3000], data[3000:]]).committed_size == len(data)
    assert missing(raw, unique_group, data) == []


def test_an_upload_resumes_where_it_stopped(
    raw: Raw, registry: Registry, unique_group: str
) -> None:
    registry.create_group(unique_group)
    data = os.urandom(300_000)
    name = f"groups/{unique_group}/uploads/resume-1/blobs/{sha(data)}/{len(data)}"
    # The client's stream ends (a broken connection) after 100000 bytes.
    assert write_blob(raw, name, [data[:100_000]], finish=False).committed_size == 100_000
    status = raw.artifacts.QueryWriteStatus(
        arts.QueryWriteStatusRequest(resource_name=name), metadata=raw.metadata
    )
    assert (status.committed_size, status.complete) == (100_000, False)
    with pytest.raises(grpc.RpcError) as caught:
        write_blob(raw, name, [data[50_000:]], start=50_000)
    assert reason_of(caught.value) == "WRITE_OFFSET_MISMATCH"
    assert "continue at 100000" in (caught.value.details() or "")
    assert write_blob(raw, name, [data[100_000:]], start=100_000).committed_size == len(data)
    status = raw.artifacts.QueryWriteStatus(
        arts.QueryWriteStatusRequest(resource_name=name), metadata=raw.metadata
    )
    assert (status.committed_size, status.complete) == (len(data), True)


def test_two_clients_uploading_the_same_blob_at_once_both_succeed(
    server: Server, raw: Raw, registry: Registry, unique_group: str
) -> None:
    registry.create_group(unique_group)
    data = os.urandom(4 << 20)
    results: list[int] = []
    errors: list[BaseException] = []

    def upload(client: int) -> None:
        name = f"groups/{unique_group}/uploads/client-{client}/blobs/{sha(data)}/{len(data)}"
        chunks = [data[i : i + (1 << 20)] for i in range(0, len(data), 1 << 20)]
        try:
            results.append(write_blob(raw, name, chunks).committed_size)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=upload, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and results == [len(data)] * 2
    blob = server.data_dir / "blobs" / "sha256" / sha(data)[:2] / sha(data)
    assert blob.read_bytes() == data
    assert uploads_left(server) == []


def test_a_version_names_only_blobs_its_group_holds(
    raw: Raw, registry: Registry, unique_group: str
) -> None:
    other = f"{unique_group}-b"
    registry.create_group(unique_group)
    registry.create_group(other)
    data = b"weights"
    name = f"groups/{unique_group}/uploads/u/blobs/{sha(data)}/{len(data)}"
    write_blob(raw, name, [data])
    files = [arts.ArtifactFile(path="w.bin", sha256=sha(data), size_bytes=len(data))]
    request = rs.CreateModelVersionRequest(
        parent=f"groups/{other}", model_version=pb.ModelVersion(), artifact_files=files
    )
    with pytest.raises(grpc.RpcError) as caught:
        raw.registry.CreateModelVersion(request, metadata=raw.metadata)
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert reason_of(caught.value) == "BLOBS_MISSING"
    assert f"{sha(data)}/{len(data)}" in (caught.value.details() or "")
    assert missing(raw, other, data) != []  # no fishing by digest across groups


def test_reads_and_uploads_need_a_role_on_the_group(
    server: Server, registry: Registry, unique_group: str, tmp_path: Path
) -> None:
    other = f"{unique_group}-b"
    registry.create_group(unique_group)
    registry.create_group(other)
    (tmp_path / "m.bin").write_bytes(b"secret model")
    version = registry.register(unique_group, path=tmp_path / "m.bin")
    outsider = server.mint_token("eve", f"contributor@{other}")
    with Registry(server.address, token=outsider) as eve:
        with pytest.raises(modelyard.MissingPermission):
            eve.download(version.name, dest=tmp_path / "stolen")
        with pytest.raises(modelyard.MissingPermission):
            eve.get_artifact_manifest(version.name)
        with pytest.raises(modelyard.MissingPermission):
            eve.find_missing_blobs(unique_group, [(sha(b"secret model"), 12)])
    stranger = server.mint_token("mallory", "admin", tenant="other-tenant")
    with (
        Registry(server.address, token=stranger) as mallory,
        pytest.raises(modelyard.ModelGroupNotFound),
    ):
        mallory.download(version.name, dest=tmp_path / "stolen")
    assert not (tmp_path / "stolen").exists()


def test_an_external_artifact_is_a_claim_the_registry_does_not_hold(
    raw: Raw, registry: Registry, unique_group: str, tmp_path: Path
) -> None:
    registry.create_group(unique_group)
    sent = pb.ModelVersion(artifact=pb.Artifact(uri="s3://b/k", sha256=sha(b"x"), held=True))
    created = raw.registry.CreateModelVersion(
        rs.CreateModelVersionRequest(parent=f"groups/{unique_group}", model_version=sent),
        metadata=raw.metadata,
    )
    assert not created.artifact.held  # output only: a caller cannot claim it
    with pytest.raises(modelyard.ArtifactNotHeld, match="fetch them from there"):
        registry.download(created.name, dest=tmp_path / "x")


@pytest.mark.parametrize(
    ("paths", "directory", "problem"),
    [
        (["../etc/passwd"], True, "not normalised"),
        (["/abs"], True, "is absolute"),
        (["a//b"], True, "not normalised"),
        (["a\\\\b"], True, "backslash"),
        (["same", "same"], True, "listed twice"),
        (["a", "a/b"], True, "both a file and a directory"),
        (["x", "y"], False, "set it for a directory"),
        (["dir/x"], False, "is named alone"),
        ([], True, "send artifact_files with it"),
    ],
)
def test_bad_manifests_are_refused_naming_the_problem(
    raw: Raw, unique_group: str, paths: list[str], directory: bool, problem: str
) -> None:
    raw.registry.CreateModelGroup(
        rs.CreateModelGroupRequest(model_group_id=unique_group), metadata=raw.metadata
    )
    files = [arts.ArtifactFile(path=p, sha256=sha(p.encode()), size_bytes=1) for p in paths]
    request = rs.CreateModelVersionRequest(
        parent=f"groups/{unique_group}",
        model_version=pb.ModelVersion(artifact=pb.Artifact(directory=directory)),
        artifact_files=files,
    )
    with pytest.raises(grpc.RpcError) as caught:
        raw.registry.CreateModelVersion(request, metadata=raw.metadata)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert problem in str(caught.value.trailing_metadata()) or problem in (
        caught.value.details() or ""
    )


# Collection: what no version needs goes, once older than the grace period; never a blob
# a version names, and never one an upload is publishing.


def blob_file(server: Server, data: bytes) -> Path:
    return server.data_dir / "blobs" / "sha256" / sha(data)[:2] / sha(data)


@pytest.fixture(params=BACKENDS)
def own_server(
    request: pytest.FixtureRequest, server_factory: ServerFactory
) -> Iterator[InProcessServer]:
    """A server of this test's own, on each backend: collections see every blob in its
    store."""
    with server_factory(request.param, gc_interval_seconds="0") as started:
        yield started


def test_collection_keeps_what_versions_name_and_removes_the_rest(
    own_server: InProcessServer, tmp_path: Path
) -> None:
    with (
        Registry(own_server.address, token=own_server.token) as registry,
        raw_stubs(own_server.address, own_server.token) as raw,
    ):
        registry.create_group("kept")
        named, unnamed = os.urandom(1000), os.urandom(2000)
        (tmp_path / "named.bin").write_bytes(named)
        version = registry.register("kept", path=tmp_path / "named.bin")
        write_blob(raw, f"groups/kept/uploads/u/blobs/{sha(unnamed)}/{len(unnamed)}", [unnamed])
        # A broken upload, never finished.
        partial = os.urandom(3000)
        name = f"groups/kept/uploads/p/blobs/{sha(partial)}/{len(partial)}"
        write_blob(raw, name, [partial[:1000]], finish=False)

        assert own_server.collect_blobs(grace_seconds=3600) == (0, 0, 0)  # all too young
        holdings, blobs, uploads = own_server.collect_blobs(grace_seconds=0)
        assert (holdings, blobs, uploads) == (1, 1, 1)
        assert blob_file(own_server, named).exists() and not blob_file(own_server, unnamed).exists()
        assert missing(raw, "kept", unnamed) != [] and missing(raw, "kept", named) == []
        assert registry.download(version.name, dest=tmp_path / "copy").read_bytes() == named

        # Once the version is gone, so is its blob.
        registry.delete_version(version.name)
        assert own_server.collect_blobs(grace_seconds=0)[1] == 1
        assert not blob_file(own_server, named).exists()


def test_a_blob_another_tenant_names_is_kept(own_server: InProcessServer, tmp_path: Path) -> None:
    data = os.urandom(5000)
    (tmp_path / "m.bin").write_bytes(data)
    other = own_server.mint_token("ops", "admin", tenant="other")
    with (
        Registry(own_server.address, token=own_server.token) as mine,
        Registry(own_server.address, token=other) as theirs,
    ):
        mine.create_group("a")
        theirs.create_group("a")
        first = mine.register("a", path=tmp_path / "m.bin")
        theirs.register("a", path=tmp_path / "m.bin")
        mine.delete_version(first.name)
        assert own_server.collect_blobs(grace_seconds=0)[1] == 0
        assert blob_file(own_server, data).read_bytes() == data


@pytest.mark.timeout(120)
def test_collections_racing_uploads_and_registrations_never_lose_a_named_blob(
    own_server: InProcessServer, tmp_path: Path
) -> None:
    """Collections with no grace run in a loop while clients upload and register the same
    blobs: every registration either succeeds with a blob that downloads, or is told to
    upload again (BLOBS_MISSING); a version never names a blob that is gone."""
    stop = threading.Event()
    collections = [0]

    def collect() -> None:
        # Back to back, with a breath between: a collector that never paused could starve
        # every registration (each told, rightly, to upload again), and prove nothing.
        while not stop.wait(0.01):
            own_server.collect_blobs(grace_seconds=0)
            collections[0] += 1

    collector = threading.Thread(target=collect)
    collector.start()
    outcomes: dict[str, int] = {"registered": 0, "told to upload again": 0}
    try:
        with Registry(own_server.address, token=own_server.token) as registry:
            registry.create_group("race")
            for round_ in range(40):
                model = tmp_path / f"m{round_ % 4}.bin"
                if not model.exists():
                    model.write_bytes(os.urandom(20_000))
                try:
                    version = registry.register("race", path=model)
                except modelyard.BlobsMissing:
                    outcomes["told to upload again"] += 1
                    continue
                except modelyard.DuplicateArtifact:
                    continue
                outcomes["registered"] += 1
                copy = registry.download(version.name, dest=tmp_path / f"copy-{round_}")
                assert copy.read_bytes() == model.read_bytes()
    finally:
        stop.set()
        collector.join()
    assert collections[0] > 5 and outcomes["registered"] > 0, (collections, outcomes)


def test_the_local_store_gives_no_urls_and_a_direct_download_goes_through_the_registry(
    registry: Registry, unique_group: str, tmp_path: Path
) -> None:
    registry.create_group(unique_group)
    (tmp_path / "m.bin").write_bytes(b"bytes")
    version = registry.register(unique_group, path=tmp_path / "m.bin")
    manifest = registry.get_artifact_manifest(version.name, download_urls=True)
    assert [f.download_url for f in manifest.files] == [""]
    assert (
        registry.download(version.name, dest=tmp_path / "c", direct=True).read_bytes() == b"bytes"
    )


def test_the_server_receives_each_blob_of_a_group_once(
    own_server: InProcessServer, tmp_path: Path
) -> None:
    """Counted by the server: registering a directory again in its group (a retrained
    model with one file changed) sends only the changed file's bytes."""
    model = tmp_path / "model"
    tree(model, files=20)
    with Registry(own_server.address, token=own_server.token) as registry:
        registry.create_group("dedup")
        before = own_server.bytes_received()
        registry.register("dedup", path=model)
        first = own_server.bytes_received() - before
        assert first == sum(p.stat().st_size for p in model.rglob("*") if p.is_file())
        assert registry.upload("dedup", model) == 0
        assert own_server.bytes_received() - before == first
        (model / "file-0.txt").write_bytes(b"retrained")
        registry.register("dedup", path=model)
        assert own_server.bytes_received() - before == first + len(b"retrained")


def test_a_file_cut_short_during_its_upload_is_refused_not_sent_forever(
    registry: Registry, unique_group: str, tmp_path: Path
) -> None:
    registry.create_group(unique_group)
    model = tmp_path / "m.bin"
    model.write_bytes(os.urandom(300_000))

    def cut(done: int, total: int) -> None:  # called before the first byte goes
        if done == 0:
            model.write_bytes(model.read_bytes()[:1000])

    with pytest.raises(modelyard.DigestMismatch, match="1000 bytes came, not the 300000"):
        registry.register(unique_group, path=model, progress=cut)
    assert list(registry.list_versions(unique_group)) == []
