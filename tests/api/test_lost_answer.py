"""A write whose answer is lost on the way back is retried by the SDK and happens once.

A TCP proxy on loopback forwards the SDK's calls to a real server. Armed, it lets the
server's answer to the next call start (so the server has committed the change), then cuts
the connection before the answer reaches the client. The SDK sees UNAVAILABLE and tries
again with the same request_id; the registry must answer with the first result instead of
registering the artifact a second time.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Iterator

import pytest
from modelyard import Registry
from modelyard.v1 import resources_pb2 as pb

from tests.support.factory import ServerFactory
from tests.support.servers import Server
from tests.support.versions import sha

HEADERS = 0x1  # the HTTP/2 frame that starts an answer: sent once the handler has returned


class CuttingProxy:
    """Forwards TCP between a client and `upstream`; when armed, closes the connection whose
    server side starts an answer (an HTTP/2 HEADERS frame on a stream), instead of passing it."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.listener.getsockname()[1]}"
        self.armed = threading.Event()
        self.cuts = 0
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            threading.Thread(target=self._pipe, args=(client, server), daemon=True).start()
            threading.Thread(target=self._answers, args=(server, client), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, target):
                end.close()

    def _answers(self, server: socket.socket, client: socket.socket) -> None:
        """Passes the server's frames on, one at a time, watching for the start of an answer."""
        try:
            while True:
                header = _read(server, 9)
                length = int.from_bytes(header[:3], "big")
                kind = header[3]
                (stream,) = struct.unpack(">I", header[5:9])
                payload = _read(server, length)
                if self.armed.is_set() and kind == HEADERS and stream & 0x7FFFFFFF:
                    self.armed.clear()
                    self.cuts += 1
                    break  # the change is committed; its answer never arrives
                client.sendall(header + payload)
        except OSError:
            pass
        for end in (server, client):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()

    def close(self) -> None:
        self.closed = True
        self.listener.close()


def _read(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise OSError("connection closed")
        data += chunk
    return data


@pytest.fixture
def proxied(server_factory: ServerFactory) -> Iterator[tuple[Server, CuttingProxy]]:
    with server_factory("sqlite") as server:
        proxy = CuttingProxy(("127.0.0.1", server.port))
        yield server, proxy
        proxy.close()


def test_a_registration_whose_answer_is_lost_is_retried_and_happens_once(
    proxied: tuple[Server, CuttingProxy],
) -> None:
    process, proxy = proxied
    with Registry(proxy.address, token=process.token, max_attempts=5) as registry:
        registry.create_group("lost-answers")
        digest = sha()
        proxy.armed.set()
        version = registry.register("lost-answers", uri="s3://m/1.onnx", sha256=digest)
        assert proxy.cuts == 1  # the first answer really was lost
        assert version.version == 1
        assert [v.version for v in registry.list_versions("lost-answers")] == [1]
        created = registry.list_audit_events(
            resource="groups/lost-answers", actions=[pb.ACTION_MODEL_VERSION_CREATED]
        )
        assert [e.resource for e in created] == ["groups/lost-answers/versions/1"]
