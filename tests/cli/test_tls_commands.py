"""``modelyard`` over TLS: --tls-ca, --tls-cert and --tls-key, or their MODELYARD_TLS_*
variables; a handshake that fails is one line saying why and which option to pass."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import Cli
from tests.support.factory import ServerFactory
from tests.support.inprocess import InProcessServer
from tests.support.tls import Authority, Pair


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> tuple[Authority, Authority, Pair]:
    """The server's CA, the clients' CA, and a client certificate of the latter."""
    directory = tmp_path_factory.mktemp("certs")
    clients = Authority(directory, "clients")
    return Authority(directory, "server"), clients, clients.issue("ann", "ann")


@pytest.fixture(scope="module")
def mtls_server(
    server_factory: ServerFactory, certificates: tuple[Authority, Authority, Pair]
) -> Iterator[InProcessServer]:
    server_ca, clients_ca, _ = certificates
    pair = server_ca.issue("server")
    with server_factory(
        tls_cert=str(pair.cert), tls_key=str(pair.key), tls_client_ca=str(clients_ca.file)
    ) as server:
        yield server


def test_commands_reach_an_mtls_registry_with_the_tls_options(
    cli: Cli, mtls_server: InProcessServer, certificates: tuple[Authority, Authority, Pair]
) -> None:
    server_ca, _, ann = certificates
    created = cli.run(mtls_server, "groups", "create", "over-mtls", "--tls-ca", str(server_ca.file),
                      "--tls-cert", str(ann.cert), "--tls-key", str(ann.key))  # fmt: skip
    assert created.returncode == 0, created.stderr
    variables = {
        "MODELYARD_TLS_CA": str(server_ca.file),
        "MODELYARD_TLS_CERT": str(ann.cert),
        "MODELYARD_TLS_KEY": str(ann.key),
    }
    listed = cli.run(mtls_server, "groups", "list", "--json", env=variables)
    assert listed.returncode == 0, listed.stderr
    assert '"groups/over-mtls"' in listed.stdout


def test_a_client_that_does_not_trust_the_server_is_told_which_option_to_pass(
    cli: Cli, mtls_server: InProcessServer, tmp_path: Path
) -> None:
    other = Authority(tmp_path, "other")
    done = cli.run(mtls_server, "groups", "list", "--tls-ca", str(other.file))
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.startswith(
        f"error: UNAVAILABLE: the TLS handshake with {mtls_server.address} failed: its "
        "certificate is not signed by a CA this client trusts; pass the CA file that signed it "
        "as tls_ca= (--tls-ca, $MODELYARD_TLS_CA)"
    )
    assert done.stderr.count("\n") == 1
    plaintext = cli.run(mtls_server, "groups", "list")
    assert plaintext.returncode == 1
    assert plaintext.stderr == (
        f"error: UNAVAILABLE: cannot reach the registry at {mtls_server.address} "
        "($MODELYARD_ADDRESS, the server closed the connection): if it serves TLS, pass the CA "
        "that signed its certificate with --tls-ca FILE (or $MODELYARD_TLS_CA)\n"
    )


def test_a_watch_that_does_not_trust_the_server_says_so_at_once(
    cli: Cli, mtls_server: InProcessServer, tmp_path: Path
) -> None:
    other = Authority(tmp_path, "other")
    done = cli.run(mtls_server, "watch", "--tls-ca", str(other.file), "--timeout", "30")
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.startswith(
        f"error: UNAVAILABLE: the TLS handshake with {mtls_server.address} failed: its "
        "certificate is not signed by a CA this client trusts"
    ), done.stderr
    assert "waiting" not in done.stderr  # no reconnecting can mend it


def test_a_client_without_a_certificate_is_told_the_registry_may_require_one(
    cli: Cli, mtls_server: InProcessServer, certificates: tuple[Authority, Authority, Pair]
) -> None:
    server_ca, _, _ = certificates
    done = cli.run(mtls_server, "groups", "list", env={"MODELYARD_TLS_CA": str(server_ca.file)})
    assert done.returncode == 1
    assert "it may require a client certificate (mTLS): pass tls_cert= and tls_key= " in (
        done.stderr
    )


def test_a_certificate_without_its_key_is_a_local_error(
    cli: Cli, mtls_server: InProcessServer, certificates: tuple[Authority, Authority, Pair]
) -> None:
    _, _, ann = certificates
    done = cli.run(mtls_server, "groups", "list", "--tls-cert", str(ann.cert))
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        "error: tls_cert needs tls_key: a client certificate goes with its private key "
        "($MODELYARD_TLS_CERT and $MODELYARD_TLS_KEY, or --tls-cert and --tls-key)\n"
    )
