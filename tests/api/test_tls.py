"""TLS and mTLS on the gRPC port: the SDK trusts the server by its CA, the server requires
client certificates of its own CA when given one, and certificates renewed on disk are
served to new connections without a restart. Tokens are still required over TLS.

Start-up mistakes (missing files, plaintext beyond loopback) as an operator meets them are
in tests/e2e/test_tls_processes.py."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from modelyard import Registry, errors

from tests.support.factory import ServerFactory
from tests.support.inprocess import InProcessServer, SetupError
from tests.support.paths import GRPCURL
from tests.support.servers import Server
from tests.support.tls import Authority, Pair, write_pair

# One attempt, soon over: a refused handshake is not waited out.
QUICK = {"max_attempts": 1, "timeout": 5.0}


def refusal(
    server: Server, error: type[errors.ModelyardError], **options: Any
) -> errors.ModelyardError:
    """Returns the error that listing groups on `server` with these SDK options raises."""
    options = {"token": server.token, **QUICK, **options}
    with Registry(server.address, **options) as sdk, pytest.raises(error) as raised:
        sdk.list_groups()
    return raised.value


@pytest.fixture
def ca(tmp_path: Path) -> Authority:
    return Authority(tmp_path / "certs", "server")


@pytest.fixture
def clients_ca(tmp_path: Path) -> Authority:
    return Authority(tmp_path / "certs", "clients")


@pytest.fixture
def tls_server(server_factory: ServerFactory, ca: Authority) -> InProcessServer:
    pair = ca.issue("server")
    return server_factory(tls_cert=str(pair.cert), tls_key=str(pair.key))


@pytest.fixture
def mtls_server(
    server_factory: ServerFactory, ca: Authority, clients_ca: Authority
) -> InProcessServer:
    pair = ca.issue("server")
    return server_factory(
        tls_cert=str(pair.cert), tls_key=str(pair.key), tls_client_ca=str(clients_ca.file)
    )


def test_the_sdk_calls_a_tls_server_that_it_trusts_by_its_ca(
    tls_server: InProcessServer, ca: Authority
) -> None:
    with tls_server, Registry(tls_server.address, token=tls_server.token, tls_ca=ca.file) as sdk:
        sdk.create_group("over-tls")
        assert [g.name for g in sdk.list_groups()] == ["groups/over-tls"]


def test_the_ca_may_come_from_the_environment(
    tls_server: InProcessServer, ca: Authority, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELYARD_TLS_CA", str(ca.file))
    with tls_server, Registry(tls_server.address, token=tls_server.token) as sdk:
        assert list(sdk.list_groups()) == []


def test_a_client_without_the_ca_is_told_to_pass_it(
    tls_server: InProcessServer, tmp_path: Path
) -> None:
    other = Authority(tmp_path / "other", "other")
    with tls_server:
        untrusted = refusal(tls_server, errors.TlsHandshakeFailed, tls_ca=other.file)
        assert untrusted.code.name == "UNAVAILABLE"
        assert f"the TLS handshake with {tls_server.address} failed" in untrusted.message
        assert "not signed by a CA this client trusts" in untrusted.message
        assert "tls_ca= (--tls-ca, $MODELYARD_TLS_CA)" in untrusted.message
        plaintext = refusal(tls_server, errors.Unavailable)
        assert "if it serves TLS, pass the CA file that signed its certificate as tls_ca=" in (
            plaintext.message
        )


def test_a_tls_client_of_a_plaintext_server_is_told_so(
    sqlite_server: Server, ca: Authority
) -> None:
    failed = refusal(sqlite_server, errors.TlsHandshakeFailed, tls_ca=ca.file)
    assert "the server speaks plaintext, not TLS" in failed.message


def test_tokens_are_still_required_over_tls(tls_server: InProcessServer, ca: Authority) -> None:
    with tls_server:
        refusal(tls_server, errors.Unauthenticated, token="", tls_ca=ca.file)


def test_mtls_serves_a_client_with_a_certificate_of_its_ca_and_a_token(
    mtls_server: InProcessServer, ca: Authority, clients_ca: Authority
) -> None:
    alice = clients_ca.issue("alice", "alice")
    with mtls_server:
        with Registry(
            mtls_server.address,
            token=mtls_server.token,
            tls_ca=ca.file,
            tls_cert=alice.cert,
            tls_key=alice.key,
        ) as sdk:
            sdk.create_group("mutual")
            assert [g.name for g in sdk.list_groups()] == ["groups/mutual"]
        client = {"tls_ca": ca.file, "tls_cert": alice.cert, "tls_key": alice.key}
        refusal(mtls_server, errors.Unauthenticated, token="", **client)


def test_mtls_refuses_a_client_without_a_certificate(
    mtls_server: InProcessServer, ca: Authority
) -> None:
    with mtls_server:
        refused = refusal(mtls_server, errors.TlsHandshakeFailed, tls_ca=ca.file)
    assert "it may require a client certificate (mTLS): pass tls_cert= and tls_key=" in (
        refused.message
    )


def test_mtls_refuses_a_certificate_of_another_ca(
    mtls_server: InProcessServer, ca: Authority, tmp_path: Path
) -> None:
    mallory = Authority(tmp_path / "elsewhere", "elsewhere").issue("mallory", "mallory")
    client = {"tls_ca": ca.file, "tls_cert": mallory.cert, "tls_key": mallory.key}
    with mtls_server:
        refused = refusal(mtls_server, errors.TlsHandshakeFailed, **client)
    assert f"it may not accept the client certificate {mallory.cert}" in refused.message


def test_a_certificate_renewed_on_disk_is_served_to_new_connections_without_a_restart(
    tls_server: InProcessServer, ca: Authority, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    served = Pair(ca.directory / "server-server.pem", ca.directory / "server-server.key")
    renewed = Authority(tmp_path / "renewed", "renewed")
    with tls_server:
        before = Registry(tls_server.address, token=tls_server.token, tls_ca=ca.file)
        before.create_group("before-renewal")
        write_pair(renewed.issued(), served)
        with Registry(tls_server.address, token=tls_server.token, tls_ca=renewed.file) as after:
            assert [g.name for g in after.list_groups()] == ["groups/before-renewal"]
        refusal(tls_server, errors.TlsHandshakeFailed, tls_ca=ca.file)
        # A connection made before the renewal keeps its session.
        assert [g.name for g in before.list_groups()] == ["groups/before-renewal"]
        before.close()
        # gRPC's own threads read the files: the log is the process's, not the server thread's.
        assert "TLS files changed: new connections get the new certificate" in caplog.text


def test_a_half_written_renewal_keeps_the_last_certificate_until_it_is_whole(
    tls_server: InProcessServer, ca: Authority, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    served = Pair(ca.directory / "server-server.pem", ca.directory / "server-server.key")
    renewed = Authority(tmp_path / "renewed", "renewed")
    new = renewed.issued()
    with tls_server:
        # The certificate is written, its key not yet: they do not belong together.
        served.cert.write_bytes(new.cert_chain_pems[0].bytes()[:300])
        with Registry(tls_server.address, token=tls_server.token, tls_ca=ca.file) as old:
            assert list(old.list_groups()) == []
        served.cert.write_bytes(b"".join(blob.bytes() for blob in new.cert_chain_pems))
        with Registry(tls_server.address, token=tls_server.token, tls_ca=ca.file) as old:
            assert list(old.list_groups()) == []
        log = caplog.text
        assert "the TLS files changed but cannot be used yet" in log
        assert "does not belong to the certificate" in log
        time.sleep(0.01)  # a new mtime, even on a coarse clock
        served.key.write_bytes(new.private_key_pem.bytes())
        with Registry(tls_server.address, token=tls_server.token, tls_ca=renewed.file) as sdk:
            assert list(sdk.list_groups()) == []


def test_grpcurl_lists_the_services_over_tls_with_the_ca(
    mtls_server: InProcessServer, ca: Authority, clients_ca: Authority
) -> None:
    operator = clients_ca.issue("operator", "operator")
    client = ["-cert", str(operator.cert), "-key", str(operator.key)]
    target = [mtls_server.address, "list"]
    with mtls_server:
        listed = subprocess.run(
            [str(GRPCURL), "-cacert", str(ca.file), *client, *target],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert listed.returncode == 0, listed.stderr
        assert {"modelyard.v1.RegistryService", "grpc.health.v1.Health"} <= set(
            listed.stdout.split()
        )
        without = subprocess.run(
            [str(GRPCURL), "-connect-timeout", "2", "-cacert", str(ca.file), *target],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert without.returncode != 0
        assert "Failed to dial target host" in without.stderr, without.stderr


def test_a_key_that_is_not_the_certificates_is_refused_at_start(
    server_factory: ServerFactory, ca: Authority
) -> None:
    one, other = ca.issue("one"), ca.issue("other")
    with pytest.raises(SetupError) as refused:
        server_factory(tls_cert=str(one.cert), tls_key=str(other.key))
    assert str(refused.value) == (
        f"the key {other.key} does not belong to the certificate {one.cert}; "
        "pass the certificate's own key with --tls-key FILE (MODELYARD_TLS_KEY)"
    )


def test_plaintext_beyond_loopback_is_served_only_when_asked_for_with_a_warning(
    server_factory: ServerFactory,
) -> None:
    with pytest.raises(SetupError) as refused:
        server_factory(address="0.0.0.0:0")
    assert "refusing plaintext gRPC on 0.0.0.0:0, which is not loopback" in str(refused.value)
    with server_factory(address="0.0.0.0:0", allow_plaintext="1") as allowed:
        with Registry(allowed.address, token=allowed.token) as sdk:
            assert list(sdk.list_groups()) == []
        assert "WARNING modelyard.server: serving plaintext gRPC on 0.0.0.0:0, beyond this" in (
            allowed.log_file.read_text()
        )
