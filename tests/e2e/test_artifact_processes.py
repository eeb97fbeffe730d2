"""Artifacts across process boundaries: an upload cut by kill -9 leaves no blob and no
version and resumes after the restart; the operator's `modelyard-server gc` collects what
no version needs while the server serves."""

from __future__ import annotations

import hashlib
import itertools
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from modelyard import Registry
from modelyard.v1 import artifact_service_pb2 as arts

from tests.support.factory import ServerFactory
from tests.support.paths import SERVER_BIN
from tests.support.stubs import raw_stubs

CHUNK = 256 * 1024


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.timeout(120)
def test_an_upload_cut_by_kill_9_leaves_nothing_visible_and_resumes_after_the_restart(
    server_factory: ServerFactory,
) -> None:
    data = os.urandom(40 * CHUNK)
    name = f"groups/g/uploads/cut/blobs/{sha(data)}/{len(data)}"
    with server_factory("sqlite", process=True) as server:
        with Registry(server.address, token=server.token) as registry:
            registry.create_group("g")
        sent_half = threading.Event()
        never = threading.Event()

        def messages() -> Iterator[arts.WriteBlobRequest]:
            for offset in range(0, len(data) // 2, CHUNK):
                yield arts.WriteBlobRequest(
                    resource_name=name, write_offset=offset, data=data[offset : offset + CHUNK]
                )
            sent_half.set()
            never.wait(60)  # the server dies before the rest

        failure: list[BaseException] = []

        def upload() -> None:
            with raw_stubs(server.address, server.token) as raw:
                try:
                    raw.artifacts.WriteBlob(messages(), metadata=raw.metadata, timeout=60)
                except grpc.RpcError as error:
                    failure.append(error)

        writer = threading.Thread(target=upload)
        writer.start()
        assert sent_half.wait(30)
        server.kill9()
        never.set()
        writer.join(30)
        assert failure, "the upload cannot have succeeded"
        blob = server.data_dir / "blobs" / "sha256" / sha(data)[:2] / sha(data)
        assert not blob.exists()  # a partial blob is never visible under its digest

        server.start()
        with raw_stubs(server.address, server.token) as raw:
            status = raw.artifacts.QueryWriteStatus(
                arts.QueryWriteStatusRequest(resource_name=name), metadata=raw.metadata
            )
            kept = status.committed_size
            assert not status.complete and 0 <= kept <= len(data) // 2
            rest = [
                arts.WriteBlobRequest(
                    resource_name=name,
                    write_offset=offset,
                    data=data[offset : offset + CHUNK],
                    finish_write=offset + CHUNK >= len(data),
                )
                for offset in range(kept, len(data), CHUNK)
            ]
            done = raw.artifacts.WriteBlob(iter(rest), metadata=raw.metadata, timeout=60)
            assert done.committed_size == len(data)
        assert blob.read_bytes() == data
        with Registry(server.address, token=server.token) as registry:
            assert list(registry.list_versions("g")) == []  # an upload registers nothing


@pytest.mark.timeout(120)
def test_the_operator_collects_unneeded_blobs_while_the_server_serves(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    with server_factory("sqlite", process=True) as server:
        kept, dropped = tmp_path / "kept.bin", tmp_path / "dropped.bin"
        kept.write_bytes(os.urandom(10_000))
        dropped.write_bytes(os.urandom(20_000))
        with Registry(server.address, token=server.token) as registry:
            registry.create_group("g")
            version = registry.register("g", path=kept)
            registry.upload("g", dropped)
            gc = subprocess.run(
                [str(SERVER_BIN), "--data-dir", str(server.data_dir), "gc",
                 "--blob-grace-seconds", "0"],
                capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            assert gc.returncode == 0, gc.stderr
            assert gc.stdout.startswith(
                "removed 1 blobs (20000 bytes) that nothing references, 1 unused holdings"
            )
            assert registry.find_missing_blobs("g", [(sha(dropped.read_bytes()), 20_000)])
            copy = registry.download(version.name, dest=tmp_path / "copy")
            assert copy.read_bytes() == kept.read_bytes()


@pytest.mark.timeout(120)
def test_the_sdk_carries_an_upload_through_a_server_restart(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    """The server is killed with -9 a third of the way into register(path=): the SDK asks
    how much was kept once the server is back, sends the rest, and registers."""
    model = tmp_path / "model.bin"
    model.write_bytes(os.urandom(96 << 20))
    with server_factory("sqlite", process=True) as server:
        killed, restarted = threading.Event(), threading.Event()
        seen: list[int] = []

        def restart() -> None:
            server.kill9()
            killed.set()
            server.start()
            restarted.set()

        restarter = threading.Thread(target=restart)

        def progress(done: int, total: int) -> None:
            seen.append(done)
            if done >= total // 3 and not restarter.is_alive() and not restarted.is_set():
                restarter.start()
                assert killed.wait(30)  # the stream is still open: the kill cuts it

        # Enough attempts to outlast a restart on a loaded machine: ten back off for 21 to
        # 43 s in all, where the default five give up after 1.5 to 3 s.
        with Registry(server.address, token=server.token, timeout=60, max_attempts=10) as registry:
            registry.create_group("g")
            version = registry.register("g", path=model, progress=progress)
            assert restarted.is_set()
            restarter.join()
            copy = registry.download(version.name, dest=tmp_path / "copy.bin")
        # What the server had not kept when it died was sent again: the tally went back.
        assert any(b < a for a, b in itertools.pairwise(seen)), "no byte was resent"
        assert seen[-1] == model.stat().st_size
        assert copy.read_bytes() == model.read_bytes()
