"""`serve --workers N`: several processes on one port behave as one registry."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest
from modelyard import Registry
from modelyard.v1 import registry_service_pb2 as rs
from modelyard.v1 import registry_service_pb2_grpc
from modelyard.v1 import resources_pb2 as pb

from tests.support.factory import BACKENDS, ServerFactory
from tests.support.paths import SERVER_BIN
from tests.support.versions import register, sha


def children_of(pid: int) -> list[int]:
    done = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False)
    return [int(p) for p in done.stdout.split()]


def wait_gone(pids: list[int], timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(Path(f"/proc/{p}").exists() for p in pids):
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_workers_number_concurrent_registrations_gaplessly(
    server_factory: ServerFactory, backend: str
) -> None:
    with server_factory(backend, process=True, workers=2) as two_workers:
        assert two_workers.process is not None
        assert len(children_of(two_workers.process.pid)) == 2
        with Registry(two_workers.address, token=two_workers.token) as admin:
            admin.create_group("shared")

        def register_on_own_connection(i: int) -> int:
            # A connection per caller, so the kernel spreads them over both workers.
            with Registry(two_workers.address, token=two_workers.token) as client:
                return register(client, "shared", sha256=sha(("workers", i))).version

        with ThreadPoolExecutor(max_workers=24) as pool:
            numbers = list(pool.map(register_on_own_connection, range(48)))
        assert sorted(numbers) == list(range(1, 49))
        with Registry(two_workers.address, token=two_workers.token) as admin:
            created = admin.list_audit_events(
                resource="groups/shared", actions=[pb.ACTION_MODEL_VERSION_CREATED]
            )
            assert [e.version for e in created] == list(range(1, 49))
            assert admin.verify_audit_log().ok


def test_sigterm_stops_every_worker(server_factory: ServerFactory) -> None:
    with server_factory(process=True, workers=2) as server:
        assert server.process is not None
        workers = children_of(server.process.pid)
        assert len(workers) == 2
        assert server.stop() == 0
        assert wait_gone(workers)


def test_a_dead_worker_stops_the_server_so_its_manager_can_restart_it(
    server_factory: ServerFactory,
) -> None:
    with server_factory(process=True, workers=2) as server:
        assert server.process is not None
        first, second = children_of(server.process.pid)
        os.kill(first, signal.SIGKILL)
        assert server.process.wait(timeout=30) == 1
        assert wait_gone([second])
        assert "exited with -9" in server.log_file.read_text()


def test_every_setting_given_on_the_command_line_reaches_the_workers(
    server_factory: ServerFactory,
) -> None:
    """`serve --workers 2 --heartbeat-seconds 0.5`: the workers send heartbeats every half
    second. (They once got only the address and the database, and beat every 5 s.)"""
    with server_factory(process=True, workers=2, heartbeat_seconds="0.5") as server:
        metadata = (("authorization", f"Bearer {server.token}"),)
        request = rs.WatchEventsRequest(groups=["groups/quiet"])
        # A connection each, so that the kernel hands them to both workers.
        channels = [grpc.insecure_channel(server.address) for _ in range(4)]
        try:
            for channel in channels:
                stub = registry_service_pb2_grpc.RegistryServiceStub(channel)
                stream = stub.WatchEvents(request, metadata=metadata, timeout=4.5)
                beats = 0
                with contextlib.suppress(grpc.RpcError):  # the deadline ends the stream
                    for response in stream:
                        beats += response.HasField("heartbeat")
                        if beats == 5:
                            break
                # The first comes at once; four more in 4.5 s need the half-second setting.
                assert beats == 5
        finally:
            for channel in channels:
                channel.close()


def test_workers_refuse_a_port_another_servers_workers_hold(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    """Workers share their port (SO_REUSEPORT) with their siblings only: a second, unrelated
    `serve --workers 2` on the same port is refused, instead of taking half of the calls."""
    with server_factory(process=True, workers=2) as first:
        with Registry(first.address, token=first.token) as admin:
            admin.create_group("only-on-the-first")
        env = {k: v for k, v in os.environ.items() if not k.startswith("MODELYARD_")}
        serve = ["serve", "--address", first.address, "--workers", "2"]
        second = subprocess.run(
            [str(SERVER_BIN), "--data-dir", str(tmp_path / "second"), *serve],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
        assert second.returncode == 1
        assert second.stderr.splitlines() == [
            f"error: cannot listen on {first.address}: address already in use; "
            "stop the other server or pass --address HOST:PORT"
        ]

        def groups_on_own_connection(_: int) -> list[str]:
            # A connection per call, so the kernel would hand some to a second server's workers.
            with Registry(first.address, token=first.token) as client:
                return [g.name for g in client.list_groups()]

        with ThreadPoolExecutor(max_workers=8) as pool:
            seen = list(pool.map(groups_on_own_connection, range(40)))
        assert seen == [["groups/only-on-the-first"]] * 40
