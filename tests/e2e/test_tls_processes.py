"""`modelyard-server serve` with TLS as an operator runs it: its workers all serve TLS and
all pick up a renewed certificate; a mistake in the TLS files, or plaintext beyond loopback
not asked for, is one line at start-up."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from modelyard import Registry

from tests.e2e.test_server_mistakes import modelyard_server, the_error
from tests.support.factory import ServerFactory
from tests.support.tls import Authority, write_pair


def test_every_worker_serves_mtls_and_the_renewed_certificate(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    server_ca = Authority(tmp_path / "certs", "server")
    clients_ca = Authority(tmp_path / "certs", "clients")
    pair, ann = server_ca.issue("server"), clients_ca.issue("ann", "ann")
    with server_factory(
        process=True,
        workers=2,
        tls_cert=str(pair.cert),
        tls_key=str(pair.key),
        tls_client_ca=str(clients_ca.file),
        credentials=server_ca.credentials(ann),
    ) as server:
        assert "(TLS, client certificates required;" in server.log_file.read_text()

        def groups_on_own_connection(ca: Path) -> list[str]:
            # A connection per call, so the kernel hands them to both workers.
            with Registry(
                server.address, token=server.token, tls_ca=ca, tls_cert=ann.cert, tls_key=ann.key
            ) as sdk:
                return [g.name for g in sdk.list_groups()]

        with Registry(
            server.address,
            token=server.token,
            tls_ca=server_ca.file,
            tls_cert=ann.cert,
            tls_key=ann.key,
        ) as sdk:
            sdk.create_group("everywhere")
        with ThreadPoolExecutor(max_workers=8) as pool:
            seen = list(pool.map(groups_on_own_connection, [server_ca.file] * 24))
        assert seen == [["groups/everywhere"]] * 24
        renewed = Authority(tmp_path / "renewed", "renewed")
        write_pair(renewed.issued(), pair)
        with ThreadPoolExecutor(max_workers=8) as pool:
            seen = list(pool.map(groups_on_own_connection, [renewed.file] * 24))
        assert seen == [["groups/everywhere"]] * 24


@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize("address", ["0.0.0.0:0", "[::]:0", "modelyard.example:0"])
def test_plaintext_beyond_loopback_is_refused_in_one_line(
    tmp_path: Path, address: str, workers: str
) -> None:
    data = tmp_path / "data"
    done = modelyard_server("--data-dir", data, "serve", "--address", address, "--workers", workers)
    assert the_error(done) == (
        f"error: refusing plaintext gRPC on {address}, which is not loopback: tokens would cross "
        "the network in the clear; pass --tls-cert FILE and --tls-key FILE, or --allow-plaintext "
        "(MODELYARD_ALLOW_PLAINTEXT=1) behind a proxy that terminates TLS"
    )
    assert not data.exists()


def test_plaintext_beyond_loopback_asked_for_is_served_with_a_warning(
    server_factory: ServerFactory,
) -> None:
    with server_factory(
        process=True, workers=2, address="0.0.0.0:0", allow_plaintext="1"
    ) as server:
        with Registry(server.address, token=server.token) as sdk:
            assert list(sdk.list_groups()) == []
        log = server.log_file.read_text()
        assert "(plaintext; data" in log
        assert "WARNING modelyard.server: serving plaintext gRPC on 0.0.0.0:" in log


def test_tls_files_that_cannot_be_served_are_one_line(tmp_path: Path) -> None:
    ca = Authority(tmp_path / "certs", "server")
    pair, other = ca.issue("server"), ca.issue("other")
    serve: list[str | Path] = ["--data-dir", tmp_path / "data", "serve", "--address", "127.0.0.1:0"]
    missing = modelyard_server(*serve, "--tls-cert", tmp_path / "nope.pem", "--tls-key", pair.key)
    assert the_error(missing) == (
        f"error: cannot read {tmp_path / 'nope.pem'}: no such file or directory; pass a "
        "readable PEM file with --tls-cert FILE (MODELYARD_TLS_CERT)"
    )
    mismatched = modelyard_server(*serve, "--tls-cert", pair.cert, "--tls-key", other.key)
    assert the_error(mismatched) == (
        f"error: the key {other.key} does not belong to the certificate {pair.cert}; pass the "
        "certificate's own key with --tls-key FILE (MODELYARD_TLS_KEY)"
    )
    swapped = modelyard_server(*serve, "--tls-cert", pair.key, "--tls-key", pair.key)
    assert the_error(swapped) == (
        f"error: {pair.key} holds no PEM certificate; pass the server's certificate chain with "
        "--tls-cert FILE (MODELYARD_TLS_CERT)"
    )
    alone = modelyard_server(*serve, "--tls-cert", pair.cert)
    assert the_error(alone) == (
        "error: --tls-cert needs --tls-key (MODELYARD_TLS_KEY): TLS takes a certificate and its key"
    )
    assert not (tmp_path / "data").exists()
