"""Certificates made for a test: a CA of its own (trustme), server certificates for the
loopback addresses, client certificates, written to PEM files as an operator has them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import grpc
import trustme

# The names a test server is dialed by.
LOOPBACK = ("127.0.0.1", "localhost")


@dataclass(frozen=True)
class Pair:
    """A certificate chain and its private key, in PEM files."""

    cert: Path
    key: Path


class Authority:
    """A certificate authority whose certificate is in a PEM file, issuing certificates into
    the same directory."""

    def __init__(self, directory: Path, name: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.name = name
        self.ca = trustme.CA(organization_name=f"modelyard tests {name}")
        self.file = directory / f"{name}-ca.pem"
        self.ca.cert_pem.write_to_path(str(self.file))

    def issue(self, label: str, *names: str) -> Pair:
        """Returns a new certificate for `names` (the loopback names when none)."""
        issued = self.ca.issue_cert(*(names or LOOPBACK))
        pair = Pair(
            self.directory / f"{self.name}-{label}.pem",
            self.directory / f"{self.name}-{label}.key",
        )
        write_pair(issued, pair)
        return pair

    def issued(self, *names: str) -> trustme.LeafCert:
        """Returns a new certificate in memory, for a test that writes it itself."""
        return self.ca.issue_cert(*(names or LOOPBACK))

    def credentials(self, client: Pair | None = None) -> grpc.ChannelCredentials:
        """Returns channel credentials that trust this CA (and present `client`)."""
        return grpc.ssl_channel_credentials(
            self.file.read_bytes(),
            client.key.read_bytes() if client else None,
            client.cert.read_bytes() if client else None,
        )


def write_pair(issued: trustme.LeafCert, pair: Pair) -> None:
    """Writes an issued certificate's chain and key over the files of `pair`."""
    pair.cert.write_bytes(b"".join(blob.bytes() for blob in issued.cert_chain_pems))
    pair.key.write_bytes(issued.private_key_pem.bytes())
