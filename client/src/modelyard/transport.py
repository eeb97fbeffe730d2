"""What every call of the SDK's clients shares: address, token, metadata, deadline, retries.

The transports themselves, ``Transport`` (sync) and ``AsyncTransport`` (``grpc.aio``),
live in ``modelyard._sync`` and ``modelyard._async`` and follow the policy set here: the
bearer token and the caller's metadata are attached, one deadline covers all attempts of
a call, and a call that fails with UNAVAILABLE is tried again with exponential backoff and
jitter. Mutating requests carry a ``request_id`` by the time they get here, so a retry of a
write the server already committed returns the first result instead of writing twice.
"""

from __future__ import annotations

import functools
import os
import random
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata as _dist_metadata
from pathlib import Path

import grpc

from modelyard.errors import ModelyardError, handshake_refused

__all__ = [
    "ADDRESS_ENV",
    "DATA_DIR_ENV",
    "DEFAULT_ADDRESS",
    "DEFAULT_DATA_DIR",
    "DEFAULT_PORT",
    "DEFAULT_TIMEOUT",
    "GRPC_SCHEMES",
    "TLS_CA_ENV",
    "TLS_CERT_ENV",
    "TLS_KEY_ENV",
    "TOKEN_ENV",
    "TOKEN_FILE_ENV",
    "TOKEN_FILE_NAME",
    "Deadline",
    "Metadata",
    "RetryPolicy",
    "TlsFiles",
    "TokenSearch",
    "call_metadata",
    "channel_options",
    "discover_token",
    "find_token",
    "normalize_address",
    "resolve_address",
    "resolve_tls",
    "user_token_file",
]

ADDRESS_ENV = "MODELYARD_ADDRESS"
TOKEN_ENV = "MODELYARD_TOKEN"
TOKEN_FILE_ENV = "MODELYARD_TOKEN_FILE"
DATA_DIR_ENV = "MODELYARD_DATA_DIR"
TLS_CA_ENV = "MODELYARD_TLS_CA"
TLS_CERT_ENV = "MODELYARD_TLS_CERT"
TLS_KEY_ENV = "MODELYARD_TLS_KEY"
#: The port the server listens on by default, and the one an address without a port gets.
DEFAULT_PORT = 50051
DEFAULT_ADDRESS = f"127.0.0.1:{DEFAULT_PORT}"
DEFAULT_DATA_DIR = "modelyard-data"
TOKEN_FILE_NAME = "admin.token"
#: Seconds a call may take, over all its attempts, unless the caller says otherwise.
DEFAULT_TIMEOUT = 30.0

#: gRPC's own target schemes (``dns:///host:port``, ``unix:/path``, ...), passed on as given.
GRPC_SCHEMES = frozenset({"dns", "unix", "unix-abstract", "ipv4", "ipv6", "vsock", "xds"})
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")

Metadata = Sequence[tuple[str, str]]


def resolve_address(address: str | None = None) -> str:
    """Returns the address to dial: ``address``, else $MODELYARD_ADDRESS, else the default,
    as :func:`normalize_address` completes it."""
    return normalize_address(address or os.environ.get(ADDRESS_ENV) or DEFAULT_ADDRESS)


def normalize_address(address: str) -> str:
    """Returns ``host:port`` for an address, with the default port (50051) when it names none.

    gRPC would dial port 443 for a bare host, which a modelyard server never listens on by
    default. A URL (``http://host:port``) is refused with the address to give instead: the
    registry speaks gRPC, not HTTP. gRPC target URIs (``dns:``, ``unix:``, ...) pass as they
    are. Raises ValueError.
    """
    text = address.strip()
    if not text:
        raise ValueError(f"the registry's address is empty; give host:port, e.g. {DEFAULT_ADDRESS}")
    scheme = _SCHEME.match(text)
    if scheme and scheme.group(1).lower() in GRPC_SCHEMES:
        return text
    if "://" in text:
        return _refuse_url(text)
    if text.startswith("["):  # [::1] or [::1]:50051
        host, _, rest = text.partition("]")
        if not rest:
            return f"{text}:{DEFAULT_PORT}"
        port = rest.removeprefix(":")
        host += "]"
    elif text.count(":") > 1:  # a bare IPv6 address: its colons are not a port
        return f"[{text}]:{DEFAULT_PORT}"
    else:
        host, _, port = text.partition(":")
    if not port:
        return f"{host}:{DEFAULT_PORT}"
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(
            f"the port in the address {address!r} is not a number from 1 to 65535; "
            f"give host:port, e.g. {DEFAULT_ADDRESS}"
        )
    return f"{host}:{port}"


def _refuse_url(url: str) -> str:
    scheme, _, rest = url.partition("://")
    hostport = rest.split("/", 1)[0].rpartition("@")[2]
    instead = normalize_address(hostport) if hostport else DEFAULT_ADDRESS
    tls = (
        " (for TLS, give host:port and the CA that signed the server's certificate: "
        f"--tls-ca FILE, tls_ca= or ${TLS_CA_ENV})"
        if scheme.lower() == "https"
        else ""
    )
    raise ValueError(
        f"the registry's address is host:port, not a URL: give {instead} instead of {url}{tls}"
    )


@dataclass(frozen=True)
class TlsFiles:
    """The PEM files a TLS channel is made of.

    Attributes:
        ca: the CA certificates that signed the server's certificate; None trusts the
            system's CAs.
        cert: the client's certificate chain, for a server that requires one (mTLS).
        key: the private key of ``cert``.
    """

    ca: Path | None = None
    cert: Path | None = None
    key: Path | None = None

    def __post_init__(self) -> None:
        if (self.cert is None) != (self.key is None):
            given, missing = ("tls_cert", "tls_key") if self.cert else ("tls_key", "tls_cert")
            raise ValueError(
                f"{given} needs {missing}: a client certificate goes with its private key "
                f"(${TLS_CERT_ENV} and ${TLS_KEY_ENV}, or --tls-cert and --tls-key)"
            )

    @property
    def client_certificate(self) -> bool:
        """Whether the channel presents a client certificate."""
        return self.cert is not None

    def credentials(self) -> grpc.ChannelCredentials:
        """Returns the channel's credentials, the files read now. Raises ValueError naming a
        file that cannot be read or holds no PEM."""
        return grpc.ssl_channel_credentials(
            root_certificates=_read_pem(self.ca, "tls_ca", "CERTIFICATE"),
            private_key=_read_pem(self.key, "tls_key", "PRIVATE KEY"),
            certificate_chain=_read_pem(self.cert, "tls_cert", "CERTIFICATE"),
        )


def _read_pem(path: Path | None, name: str, label: str) -> bytes | None:
    if path is None:
        return None
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ValueError(f"{name} names {path}, which cannot be read: {err.strerror}") from err
    if b"-----BEGIN " not in data or label.encode() not in data:
        raise ValueError(f"{name} names {path}, which holds no PEM {label.lower()}")
    return data


def resolve_tls(
    ca: str | os.PathLike[str] | None = None,
    cert: str | os.PathLike[str] | None = None,
    key: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> TlsFiles | None:
    """Returns the TLS files to dial with: those given, else those $MODELYARD_TLS_CA,
    $MODELYARD_TLS_CERT and $MODELYARD_TLS_KEY name; None (plaintext) when none is named.
    Raises ValueError for a certificate without its key, or the reverse."""
    if ca is None and cert is None and key is None:
        env = os.environ if environ is None else environ
        ca, cert, key = (env.get(name) or None for name in (TLS_CA_ENV, TLS_CERT_ENV, TLS_KEY_ENV))
        if ca is None and cert is None and key is None:
            return None

    def path(value: str | os.PathLike[str] | None) -> Path | None:
        return None if value is None else Path(value).expanduser()

    return TlsFiles(path(ca), path(cert), path(key))


def user_token_file(environ: Mapping[str, str] | None = None) -> Path:
    """Returns the per-user token file, ``${XDG_CONFIG_HOME:-~/.config}/modelyard/token``."""
    env = os.environ if environ is None else environ
    config = env.get("XDG_CONFIG_HOME", "")
    if not config or not Path(config).is_absolute():  # the XDG spec ignores relative paths
        home = env.get("HOME")
        config = str((Path(home) if home else Path.home()) / ".config")
    return Path(config) / "modelyard" / "token"


@dataclass(frozen=True)
class TokenSearch:
    """Where the token was found, and where it was looked for before.

    Attributes:
        token: the bearer token, or None when no place held one.
        source: where it came from, e.g. ``$MODELYARD_TOKEN`` or a file's path; "" for none.
        searched: each place looked at, in order, with what was there, e.g.
            ``$MODELYARD_TOKEN (unset)``.
    """

    token: str | None
    source: str
    searched: tuple[str, ...]


def _read_token(path: Path, named_by: str = "") -> str:
    subject = f"{named_by} names {path}, which" if named_by else f"the token file {path}"
    try:
        token = path.read_text(encoding="utf-8").strip()
    except OSError as err:
        raise ValueError(f"{subject} cannot be read: {err.strerror}") from err
    if not token:
        raise ValueError(f"{subject} is empty; put a token in it or remove it")
    return token


def find_token(environ: Mapping[str, str] | None = None) -> TokenSearch:
    """Returns the bearer token the environment provides, and where it looked.

    Looked up in order, the same from any directory: $MODELYARD_TOKEN; the file named by
    $MODELYARD_TOKEN_FILE (which must then be readable); ``$MODELYARD_DATA_DIR/admin.token``
    when that variable is set (the admin token a server writes on the first start of its
    data directory); the per-user file ``${XDG_CONFIG_HOME:-~/.config}/modelyard/token``.
    A file that exists but cannot be read, or is empty, raises ValueError.
    """
    env = os.environ if environ is None else environ
    searched: list[str] = []
    token = env.get(TOKEN_ENV, "").strip()
    if token:
        return TokenSearch(token, f"${TOKEN_ENV}", tuple(searched))
    searched.append(f"${TOKEN_ENV} (unset)")
    token_file = env.get(TOKEN_FILE_ENV)
    if token_file:
        path = Path(token_file).expanduser()
        return TokenSearch(_read_token(path, f"${TOKEN_FILE_ENV}"), str(path), tuple(searched))
    searched.append(f"${TOKEN_FILE_ENV} (unset)")
    data_dir = env.get(DATA_DIR_ENV)
    if data_dir:
        path = Path(data_dir).expanduser().absolute() / TOKEN_FILE_NAME
        if path.exists():
            return TokenSearch(_read_token(path), str(path), tuple(searched))
        searched.append(f"{path} (absent)")
    else:
        searched.append(f"${DATA_DIR_ENV}/{TOKEN_FILE_NAME} (unset)")
    path = user_token_file(env)
    if path.exists():
        return TokenSearch(_read_token(path), str(path), tuple(searched))
    searched.append(f"{path} (absent)")
    return TokenSearch(None, "", tuple(searched))


def discover_token(environ: Mapping[str, str] | None = None) -> str | None:
    """Returns the bearer token the environment provides (see :func:`find_token`), or None."""
    return find_token(environ).token


def call_metadata(token: str | None, extra: Metadata | None = None) -> list[tuple[str, str]]:
    """Returns the metadata of one call: the caller's, plus the bearer token unless the
    caller sent its own ``authorization``, plus the caller's trace context (W3C
    ``traceparent``) when OpenTelemetry is installed and a span is active, so the server's
    spans join the caller's trace."""
    result = list(extra or ())
    if token and not any(key.lower() == "authorization" for key, _ in result):
        result.insert(0, ("authorization", f"Bearer {token}"))
    inject = _trace_injector()
    if inject is not None and not any(key.lower() == "traceparent" for key, _ in result):
        carrier: dict[str, str] = {}
        inject(carrier)
        result.extend((key.lower(), value) for key, value in carrier.items())
    return result


@functools.cache
def _trace_injector() -> Callable[[dict[str, str]], None] | None:
    """OpenTelemetry's context injection, if the application has OpenTelemetry; the SDK
    does not depend on it."""
    try:
        from opentelemetry.propagate import inject
    except ImportError:
        return None
    return inject


@dataclass(frozen=True)
class RetryPolicy:
    """When and how long to wait before trying an UNAVAILABLE call again.

    Attempt ``n`` (counting from 1) that fails is followed by a pause drawn uniformly from
    ``[d/2, d]`` with ``d = min(max_backoff, initial_backoff * multiplier**(n-1))``; the
    jitter keeps many clients that lost the same server from returning in lockstep.
    """

    max_attempts: int = 5
    initial_backoff: float = 0.2
    max_backoff: float = 10.0
    multiplier: float = 2.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")

    def backoff(self, attempt: int) -> float:
        """Returns the seconds to wait after failed attempt number ``attempt``."""
        ceiling = min(self.max_backoff, self.initial_backoff * self.multiplier ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)

    def should_retry(self, error: ModelyardError, attempt: int) -> bool:
        """Returns whether a call that failed this way on this attempt is tried again."""
        return (
            error.code == grpc.StatusCode.UNAVAILABLE
            and attempt < self.max_attempts
            and not handshake_refused(error)
        )


def _user_agent() -> str:
    try:
        version = _dist_metadata.version("modelyard-client")
    except _dist_metadata.PackageNotFoundError:
        version = "0+unknown"
    return f"modelyard-python/{version}"


#: The largest message the SDK takes from the registry.
MAX_RECEIVE_BYTES = 64 * 1024 * 1024


def channel_options() -> list[tuple[str, str | int]]:
    """Returns the options every channel is opened with."""
    return [
        ("grpc.primary_user_agent", _user_agent()),
        # gRPC's reconnect backoff grows to 120 s by default; a registry that restarts must
        # be reachable again within the few seconds the call's own retries last. Until the
        # channel tries again, every call fails at once: with at most 1 s between tries
        # (1.2 s with gRPC's jitter), a registry that is back is reconnected to before the
        # default retries' last attempt, which comes 1.5 to 3 s after the first.
        ("grpc.initial_reconnect_backoff_ms", 200),
        ("grpc.max_reconnect_backoff_ms", 1000),
        # gRPC refuses a message over 4 MiB by default. The server keeps a version's JSON
        # form under 512 KiB and a page under 3 MiB, but one log entry may hold many
        # versions (a promotion that archives ten production versions holds 22 snapshots):
        # a watch or a page of the audit log must take any entry the server accepted.
        ("grpc.max_receive_message_length", MAX_RECEIVE_BYTES),
    ]


class Deadline:
    """One deadline shared by all attempts of a call (None: no deadline)."""

    def __init__(self, timeout: float | None) -> None:
        self._at = None if timeout is None else time.monotonic() + timeout

    def remaining(self) -> float | None:
        """Returns the seconds left, or None without a deadline."""
        return None if self._at is None else max(0.0, self._at - time.monotonic())

    def allows(self, pause: float) -> bool:
        """Returns whether a pause of ``pause`` seconds ends before the deadline."""
        return self._at is None or time.monotonic() + pause < self._at
