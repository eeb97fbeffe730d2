"""TLS on the gRPC port: the server's certificate and key, and the CA of the client
certificates it requires (mTLS), read from PEM files and read again when they change.

gRPC asks for the certificate configuration at the start of every new connection
(`grpc.dynamic_ssl_server_credentials`); the files are looked at (their size and mtime)
each time, and parsed only when they changed. A new pair is taken only once it is whole:
a certificate being written, or one whose key is not there yet, keeps the last good pair
and logs a warning, so a renewal (certbot, cert-manager) never breaks new connections, and
connections already open keep theirs.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import grpc
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from modelyard_server.config import Settings

log = logging.getLogger("modelyard.tls")

CERT_FLAG = "--tls-cert FILE (MODELYARD_TLS_CERT)"
KEY_FLAG = "--tls-key FILE (MODELYARD_TLS_KEY)"
CLIENT_CA_FLAG = "--tls-client-ca FILE (MODELYARD_TLS_CLIENT_CA)"


class TlsFileError(Exception):
    """A certificate, key or CA file that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class TlsFiles:
    """The PEM files TLS is served from."""

    cert: Path
    key: Path
    client_ca: Path | None

    @classmethod
    def of(cls, settings: Settings) -> TlsFiles | None:
        """Returns the files the settings name; None when the server speaks plaintext."""
        if not settings.tls:
            return None
        ca = Path(settings.tls_client_ca) if settings.tls_client_ca else None
        return cls(Path(settings.tls_cert), Path(settings.tls_key), ca)

    def stamp(self) -> tuple[tuple[int, int, int], ...]:
        """Returns what changes when any of the files does (inode, size, mtime)."""
        stamps = []
        for path in (self.cert, self.key, self.client_ca):
            if path is None:
                continue
            try:
                status = path.stat()
            except OSError:
                stamps.append((0, -1, 0))
            else:
                stamps.append((status.st_ino, status.st_size, status.st_mtime_ns))
        return tuple(stamps)


@dataclass(frozen=True)
class Pair:
    """A certificate chain, its key, and the client CAs, as PEM bytes that belong together."""

    cert: bytes
    key: bytes
    client_ca: bytes | None

    def configuration(self) -> grpc.ServerCertificateConfiguration:
        return grpc.ssl_server_certificate_configuration(
            [(self.key, self.cert)], root_certificates=self.client_ca
        )


def _read(path: Path, flag: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        why = (error.strerror or str(error)).lower()
        raise TlsFileError(
            f"cannot read {path}: {why}; pass a readable PEM file with {flag}"
        ) from None


def _certificates(path: Path, data: bytes, flag: str, what: str) -> list[x509.Certificate]:
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError:
        certificates = []
    if not certificates:
        raise TlsFileError(f"{path} holds no PEM certificate; pass {what} with {flag}")
    return certificates


def read_pair(files: TlsFiles) -> Pair:
    """Returns the files' contents once checked: PEM certificates, an unencrypted key that
    belongs to the first certificate. Raises TlsFileError saying what is wrong."""
    cert = _read(files.cert, CERT_FLAG)
    key = _read(files.key, KEY_FLAG)
    leaf = _certificates(files.cert, cert, CERT_FLAG, "the server's certificate chain")[0]
    try:
        private = serialization.load_pem_private_key(key, password=None)
    except TypeError:
        raise TlsFileError(
            f"the key {files.key} is encrypted; pass an unencrypted PEM key with {KEY_FLAG}"
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise TlsFileError(
            f"{files.key} holds no PEM private key; pass the certificate's key with {KEY_FLAG}"
        ) from None
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    encoding = serialization.Encoding.DER
    if private.public_key().public_bytes(encoding, public) != leaf.public_key().public_bytes(
        encoding, public
    ):
        raise TlsFileError(
            f"the key {files.key} does not belong to the certificate {files.cert}; "
            f"pass the certificate's own key with {KEY_FLAG}"
        )
    client_ca = None
    if files.client_ca is not None:
        client_ca = _read(files.client_ca, CLIENT_CA_FLAG)
        _certificates(files.client_ca, client_ca, CLIENT_CA_FLAG, "the clients' CA")
    return Pair(cert, key, client_ca)


class Reloader:
    """The certificate-configuration fetcher gRPC calls for each new connection: a new
    configuration when the files changed and make a whole pair, else None (keep serving the
    last one)."""

    def __init__(
        self, files: TlsFiles, first: Pair, stamp: tuple[tuple[int, int, int], ...]
    ) -> None:
        self.files = files
        self.pair = first
        # Taken before `first` was read: a change made meanwhile is read on the next connection.
        self._stamp = stamp
        # gRPC may ask from several threads at once.
        self._lock = threading.Lock()

    def __call__(self) -> grpc.ServerCertificateConfiguration | None:
        try:
            return self._fetch()
        except Exception:  # never into gRPC's core: the connection would fail for it
            log.exception("reading the TLS files failed; the last certificate is kept")
            return None

    def _fetch(self) -> grpc.ServerCertificateConfiguration | None:
        with self._lock:
            stamp = self.files.stamp()
            if stamp == self._stamp:
                return None
            self._stamp = stamp
            try:
                pair = read_pair(self.files)
            except TlsFileError as error:
                log.warning(
                    "the TLS files changed but cannot be used yet (%s); new connections keep "
                    "the last certificate",
                    error,
                )
                return None
            if pair == self.pair:
                return None
            self.pair = pair
            log.info("TLS files changed: new connections get the new certificate")
            return pair.configuration()


def server_credentials(files: TlsFiles) -> grpc.ServerCredentials:
    """Returns the port's credentials: the files' pair now, and again whenever they change;
    client certificates signed by the client CA are required when there is one. Raises
    TlsFileError when the files cannot be used now."""
    stamp = files.stamp()
    first = read_pair(files)
    return grpc.dynamic_ssl_server_credentials(
        first.configuration(),
        # gRPC takes None for "keep the current one"; grpc-stubs does not say so.
        Reloader(files, first, stamp),  # type: ignore[arg-type]
        require_client_authentication=files.client_ca is not None,
    )


def check_files(settings: Settings) -> None:
    """Raises TlsFileError when the settings name TLS files that cannot be served."""
    files = TlsFiles.of(settings)
    if files is not None:
        read_pair(files)
