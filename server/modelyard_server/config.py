"""Server settings: every one declared once, with its flag, its MODELYARD_* variable, its
type and default. A flag wins over the variable, the variable over the default.

The same table builds the command line's options, reads them back, and renders settings as
the environment of worker processes, so a setting added here reaches every worker.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from modelyard_server.deliveries.destinations import parse_networks

DEFAULT_ADDRESS = "127.0.0.1:50051"
DEFAULT_DATA_DIR = "modelyard-data"
DEFAULT_HEARTBEAT_SECONDS = 5.0


@dataclass(frozen=True)
class Settings:
    address: str = DEFAULT_ADDRESS
    data_dir: Path = Path(DEFAULT_DATA_DIR)
    # "" until load() fills in SQLite in the data directory.
    database_url: str = ""
    # How long a shutdown lets calls in flight finish.
    grace_seconds: float = 5.0
    # Server processes sharing the port (SO_REUSEPORT); more than 1 uses more cores.
    workers: int = 1
    # Whether this process shares its port with sibling workers (set for the workers).
    reuse_port: bool = False
    # Event streams: a heartbeat after this long without a message.
    heartbeat_seconds: float = DEFAULT_HEARTBEAT_SECONDS
    # How often the hub looks for commits nobody announced (0: 0.25 s on SQLite, where other
    # processes may share the file; 5 s on PostgreSQL, where NOTIFY announces them).
    watch_poll_seconds: float = 0.0
    # Events a stream may have waiting before it is ended as too slow.
    watch_buffer: int = 1000
    # Webhooks: the first retry's delay (doubling after each failure), attempts in all, and
    # how long one attempt may take.
    webhook_backoff_seconds: float = 10.0
    webhook_max_attempts: int = 8
    webhook_timeout_seconds: float = 10.0
    # Where the bytes of held artifacts go: "" for blobs/ in the data directory, or
    # s3://bucket/prefix; and the S3 API's URL for an S3-compatible store ("": AWS's).
    artifact_store: str = ""
    s3_endpoint_url: str = ""
    # Blobs no version names, and abandoned uploads, are collected once this old; a
    # collection runs this often (0: never; `modelyard-server gc` runs one).
    blob_grace_seconds: float = 86400.0
    gc_interval_seconds: float = 3600.0
    # Retention (issue 12): the sweeper applies every group's retention policy this often
    # (0: never; ApplyRetention or `modelyard retention apply` runs it by hand).
    retention_interval_seconds: float = 0.0
    # The server's secret, outside the database ("": server.key in the data directory,
    # created on the first start). See keyring.py.
    key_file: str = ""
    # --- observability ---
    # Where GET /metrics answers (Prometheus; "": off), how logs are written (text for
    # people, or one JSON object per line with a line per request), and when a unary call
    # is logged as slow.
    metrics_address: str = ""
    log_format: str = "text"
    slow_request_seconds: float = 1.0
    # Limits (issue 11): WatchEvents streams one principal (tenant and subject) may hold
    # open at once on one server process.
    watch_streams_per_principal: int = 100
    # Calls that change the registry running at once in one server process while reads are
    # being answered; the others wait their turn before any of their work starts, so that
    # reads are not slowed by a flood of writes (api/admission.py).
    max_concurrent_writes: int = 2
    # Transport security (TLS): the server's certificate chain and key (PEM; "": plaintext),
    # the CA whose client certificates are required (mTLS; "": none asked for), and whether
    # plaintext may be served on an address other than loopback.
    tls_cert: str = ""
    tls_key: str = ""
    tls_client_ca: str = ""
    allow_plaintext: bool = False

    @property
    def tls(self) -> bool:
        """Whether the gRPC port speaks TLS."""
        return bool(self.tls_cert)

    # Token lifecycle and failed-auth throttling: the lifetime of a token issued without an
    # expiry of its own (0: such tokens never expire), and how many failed authentications a
    # source address may make within the window before it is refused for a window.
    token_expiry_days: float = 90.0
    auth_failure_limit: int = 20
    auth_failure_window_seconds: float = 60.0
    # OIDC / JWT bearer tokens from an identity provider (identity/): off unless the issuer
    # is set. The JWKS URL is discovered from the issuer unless given; the tenant comes from
    # a claim when one is named, else it is the fixed tenant; roles are `role` or
    # `role@group` strings in the roles claim.
    oidc_issuer: str = ""
    oidc_audience: str = ""
    oidc_jwks_url: str = ""
    oidc_subject_claim: str = "sub"
    oidc_tenant_claim: str = ""
    oidc_tenant: str = "default"
    oidc_roles_claim: str = "modelyard_roles"
    oidc_algorithms: str = "RS256,ES256,EdDSA"
    oidc_leeway_seconds: float = 30.0
    # An unknown key id (key rotation) refetches the JWKS at most this often.
    oidc_refetch_seconds: float = 30.0
    # Webhooks and secrets (issue 11): internal address ranges (comma-separated CIDRs) that
    # webhook deliveries may reach; loopback, private, link-local and metadata addresses are
    # refused otherwise.
    webhook_allow_cidr: str = ""
    # Audit checkpoints: a directory where the server writes each tenant's log head, signed,
    # every audit_checkpoint_seconds ("": none), for the operator to ship elsewhere.
    audit_checkpoint_dir: str = ""
    audit_checkpoint_seconds: float = 3600.0
    # The web UI (issue 13): the HTTP address its pages are served on ("": no UI).
    http_address: str = ""

    @property
    def token_file(self) -> Path:
        return self.data_dir / "admin.token"

    @property
    def key_path(self) -> Path:
        """The key file: the one given, or server.key in the data directory."""
        return Path(self.key_file) if self.key_file else self.data_dir / "server.key"

    @property
    def database_in_data_dir(self) -> bool:
        """Whether the database is the default one, SQLite in the data directory."""
        return self.database_url == sqlite_url(self.data_dir)

    @property
    def blob_dir(self) -> Path:
        """Where the local blob store keeps the bytes of held artifacts."""
        return self.data_dir / "blobs"

    def as_environment(self) -> dict[str, str]:
        """Returns every setting as its MODELYARD_* variable: what a worker process needs to
        load exactly these settings."""
        return {option.variable: option.render(getattr(self, option.field)) for option in OPTIONS}


def sqlite_url(data_dir: Path) -> str:
    """Returns the URL of the default database: SQLite in the data directory."""
    return f"sqlite:///{data_dir / 'modelyard.db'}"


def _address(text: str) -> str:
    host, colon, port = text.rpartition(":")
    if not (colon and host and port.isdigit() and int(port) <= 65535):
        raise ValueError
    return text


def _database_url(text: str) -> str:
    try:
        backend = make_url(text).get_backend_name()
    except ArgumentError:
        raise ValueError from None
    if backend not in ("sqlite", "postgresql", "postgres"):
        raise ValueError
    return text


def _number(text: str, *, integer: bool, minimum: float, above: bool) -> float:
    value = float(text)  # ValueError for what is not a number
    if not math.isfinite(value) or value < minimum or (above and value == minimum):
        raise ValueError
    if integer and not value.is_integer():
        raise ValueError
    return value


@dataclass(frozen=True)
class Option:
    """One setting: the Settings field it fills, its flag and variable, and how to read it."""

    field: str
    variable: str
    help: str
    # text, path, address, database, positive, non-negative, count, switch, networks
    kind: str = "text"
    flag: bool = True  # False: set by the environment only (the supervisor sets it)
    metavar: str | None = None

    @property
    def option(self) -> str:
        return "--" + self.field.replace("_", "-")

    @property
    def names(self) -> str:
        """How an error names the setting: its flag and its variable."""
        return f"{self.option} ({self.variable})" if self.flag else self.variable

    def parse(self, text: str) -> Any:
        """Returns the setting's value from its text; ValueError naming it when unusable."""
        try:
            if self.kind == "path":
                return Path(text).resolve()
            if self.kind == "address":
                return _address(text)
            if self.kind == "database":
                return _database_url(text)
            if self.kind == "switch":
                if text not in ("0", "1"):
                    raise ValueError
                return text == "1"
            if self.kind == "positive":
                return _number(text, integer=False, minimum=0, above=True)
            if self.kind == "non-negative":
                return _number(text, integer=False, minimum=0, above=False)
            if self.kind == "count":
                return int(_number(text, integer=True, minimum=1, above=False))
            if self.kind == "networks":
                return ",".join(str(network) for network in parse_networks(text))
        except ValueError as error:
            wanted = {
                "address": "HOST:PORT, e.g. 127.0.0.1:50051 (port 0: any free port)",
                "database": "a postgresql:// or sqlite:/// URL",
                "switch": "0 or 1",
                "positive": "a number above 0",
                "non-negative": "a number of 0 or more",
                "count": "a whole number of 1 or more",
                "networks": f"CIDRs separated by commas ({error})",
            }.get(self.kind, "a path")
            if self.kind == "database":  # the password stays out of the message
                text = _redacted(text)
            raise ValueError(f"{self.names} must be {wanted}, got {text!r}") from None
        if not text:
            raise ValueError(f"{self.names} must not be empty")
        return text

    def render(self, value: Any) -> str:
        """Returns the text that parses back to `value`."""
        if isinstance(value, bool):
            return "1" if value else "0"
        if isinstance(value, float):
            return repr(value)
        return str(value)


OPTIONS: tuple[Option, ...] = (
    Option("address", "MODELYARD_ADDRESS", "host:port to listen on", kind="address"),
    Option(
        "artifact_store",
        "MODELYARD_ARTIFACT_STORE",
        "where held artifacts' bytes go: s3://bucket/prefix (default: blobs/ in the data dir)",
        metavar="URL",
    ),
    Option(
        "blob_grace_seconds",
        "MODELYARD_BLOB_GRACE_SECONDS",
        "blobs no version names, and abandoned uploads, are removed once this old",
        kind="non-negative",
        metavar="SECONDS",
    ),
    Option(
        "gc_interval_seconds",
        "MODELYARD_GC_INTERVAL_SECONDS",
        "how often unreferenced blobs are collected (0: only by `modelyard-server gc`)",
        kind="non-negative",
        metavar="SECONDS",
    ),
    Option(
        "s3_endpoint_url",
        "MODELYARD_S3_ENDPOINT_URL",
        "the URL of an S3-compatible store's API (default: AWS's); credentials as AWS's tools find them",
        metavar="URL",
    ),
    Option("data_dir", "MODELYARD_DATA_DIR", "the data directory", kind="path"),
    # --- observability ---
    Option(
        "metrics_address",
        "MODELYARD_METRICS_ADDRESS",
        "host:port where GET /metrics serves Prometheus metrics (default off)",
        kind="address",
    ),
    Option(
        "log_format",
        "MODELYARD_LOG_FORMAT",
        "text (for people) or json (one object per line, and a line per request)",
        metavar="text|json",
    ),
    Option(
        "slow_request_seconds",
        "MODELYARD_SLOW_REQUEST_SECONDS",
        "a unary call that takes this long is logged as slow",
        kind="positive",
        metavar="SECONDS",
    ),
    # Retention (issue 12)
    Option(
        "retention_interval_seconds",
        "MODELYARD_RETENTION_INTERVAL_SECONDS",
        "how often the sweeper applies the retention policies (0: never, only by hand)",
        kind="non-negative",
        metavar="SECONDS",
    ),
    Option(
        "key_file",
        "MODELYARD_KEY_FILE",
        "the server's secret key, outside the database; replicas share it",
        metavar="FILE",
    ),
    # Audit checkpoints
    Option(
        "audit_checkpoint_dir",
        "MODELYARD_AUDIT_CHECKPOINT_DIR",
        "a directory where the server writes signed audit log checkpoints to ship elsewhere",
        metavar="DIR",
    ),
    Option(
        "audit_checkpoint_seconds",
        "MODELYARD_AUDIT_CHECKPOINT_SECONDS",
        "how often checkpoints are written to --audit-checkpoint-dir",
        kind="positive",
        metavar="SECONDS",
    ),
    Option(
        "database_url",
        "MODELYARD_DATABASE_URL",
        "SQLAlchemy URL of the database",
        kind="database",
    ),
    Option(
        "grace_seconds",
        "MODELYARD_GRACE_SECONDS",
        "how long a shutdown lets calls in flight finish",
        kind="positive",
        metavar="SECONDS",
    ),
    Option(
        "workers",
        "MODELYARD_WORKERS",
        "server processes sharing the port, e.g. one per core",
        kind="count",
        metavar="N",
    ),
    Option(
        "reuse_port",
        "MODELYARD_REUSE_PORT",
        "share the port with sibling workers",
        kind="switch",
        flag=False,
    ),
    Option(
        "heartbeat_seconds",
        "MODELYARD_HEARTBEAT_SECONDS",
        "event streams send a heartbeat after this long without a message",
        kind="positive",
        metavar="SECONDS",
    ),
    Option(
        "watch_poll_seconds",
        "MODELYARD_WATCH_POLL_SECONDS",
        "how often to look for commits nobody announced (0: 0.25 on SQLite, 5 on PostgreSQL)",
        kind="non-negative",
        metavar="SECONDS",
    ),
    Option(
        "watch_buffer",
        "MODELYARD_WATCH_BUFFER",
        "events a stream may have waiting before it is ended as too slow",
        kind="count",
        metavar="N",
    ),
    # Limits (issue 11)
    Option(
        "watch_streams_per_principal",
        "MODELYARD_WATCH_STREAMS_PER_PRINCIPAL",
        "WatchEvents streams one principal may hold open at once on one server process",
        kind="count",
        metavar="N",
    ),
    Option(
        "max_concurrent_writes",
        "MODELYARD_MAX_CONCURRENT_WRITES",
        "calls that change the registry running at once in a server process while reads are "
        "answered; the others wait their turn, so that reads stay fast while writes flood",
        kind="count",
        metavar="N",
    ),
    # The web UI (issue 13).
    Option(
        "http_address",
        "MODELYARD_HTTP_ADDRESS",
        "host:port of the web UI (empty: no UI; `make run` serves it on 127.0.0.1:8080)",
        kind="address",
        metavar="HOST:PORT",
    ),
    Option(
        "webhook_backoff_seconds",
        "MODELYARD_WEBHOOK_BACKOFF_SECONDS",
        "the first retry's delay, doubling up to an hour",
        kind="positive",
        metavar="SECONDS",
    ),
    Option(
        "webhook_max_attempts",
        "MODELYARD_WEBHOOK_MAX_ATTEMPTS",
        "attempts before a delivery is FAILED",
        kind="count",
        metavar="N",
    ),
    # Token lifecycle and failed-auth throttling.
    Option(
        "token_expiry_days",
        "MODELYARD_TOKEN_EXPIRY_DAYS",
        "days a token lives when issued without --expires/ttl (0: such tokens never expire)",
        kind="non-negative",
        metavar="DAYS",
    ),
    Option(
        "auth_failure_limit",
        "MODELYARD_AUTH_FAILURE_LIMIT",
        "failed authentications from one address, within the window, before it is refused",
        kind="count",
        metavar="N",
    ),
    Option(
        "auth_failure_window_seconds",
        "MODELYARD_AUTH_FAILURE_WINDOW_SECONDS",
        "the window failures are counted in, and how long a throttled address is refused",
        kind="positive",
        metavar="SECONDS",
    ),
    Option(
        "webhook_timeout_seconds",
        "MODELYARD_WEBHOOK_TIMEOUT_SECONDS",
        "how long one delivery attempt may take",
        kind="positive",
        metavar="SECONDS",
    ),
    # Transport security (TLS)
    Option(
        "tls_cert",
        "MODELYARD_TLS_CERT",
        "the server's certificate chain (PEM) for TLS; re-read when it changes",
        metavar="FILE",
    ),
    Option(
        "tls_key",
        "MODELYARD_TLS_KEY",
        "the private key (PEM) of --tls-cert; re-read when it changes",
        metavar="FILE",
    ),
    Option(
        "tls_client_ca",
        "MODELYARD_TLS_CLIENT_CA",
        "CA certificates (PEM) that must have signed every client's certificate (mTLS)",
        metavar="FILE",
    ),
    Option(
        "allow_plaintext",
        "MODELYARD_ALLOW_PLAINTEXT",
        "serve plaintext gRPC on an address other than loopback (without TLS)",
        kind="switch",
    ),
    # OIDC / JWT bearer tokens (identity/); identity/settings.py checks them together.
    Option(
        "oidc_issuer",
        "MODELYARD_OIDC_ISSUER",
        "accept JWTs from this identity provider (its `iss`, an https URL); unset: opaque tokens only",
        metavar="URL",
    ),
    Option(
        "oidc_audience",
        "MODELYARD_OIDC_AUDIENCE",
        "the `aud` a JWT must name: this registry's client id at the identity provider",
        metavar="AUDIENCE",
    ),
    Option(
        "oidc_jwks_url",
        "MODELYARD_OIDC_JWKS_URL",
        "where the identity provider publishes its keys (default: the issuer's discovery document)",
        metavar="URL",
    ),
    Option(
        "oidc_subject_claim",
        "MODELYARD_OIDC_SUBJECT_CLAIM",
        "the JWT claim naming the caller, as the audit log records them",
        metavar="CLAIM",
    ),
    Option(
        "oidc_tenant_claim",
        "MODELYARD_OIDC_TENANT_CLAIM",
        "the JWT claim naming the caller's tenant (default: every JWT is in --oidc-tenant)",
        metavar="CLAIM",
    ),
    Option(
        "oidc_tenant",
        "MODELYARD_OIDC_TENANT",
        "the tenant of every JWT caller, when no --oidc-tenant-claim is named",
        metavar="TENANT",
    ),
    Option(
        "oidc_roles_claim",
        "MODELYARD_OIDC_ROLES_CLAIM",
        "the JWT claim listing the caller's roles, `role` or `role@group`",
        metavar="CLAIM",
    ),
    Option(
        "oidc_algorithms",
        "MODELYARD_OIDC_ALGORITHMS",
        "the signature algorithms JWTs may use, comma-separated (RS*, PS*, ES*, EdDSA)",
        metavar="ALGS",
    ),
    Option(
        "oidc_leeway_seconds",
        "MODELYARD_OIDC_LEEWAY_SECONDS",
        "clock skew allowed when checking a JWT's exp, nbf and iat",
        kind="non-negative",
        metavar="SECONDS",
    ),
    Option(
        "oidc_refetch_seconds",
        "MODELYARD_OIDC_REFETCH_SECONDS",
        "a JWT with an unknown key id refetches the identity provider's keys at most this often",
        kind="positive",
        metavar="SECONDS",
    ),
    # Webhooks and secrets (issue 11)
    Option(
        "webhook_allow_cidr",
        "MODELYARD_WEBHOOK_ALLOW_CIDR",
        "internal ranges webhooks may reach, e.g. 10.1.0.0/16 (repeat, or separate by commas)",
        kind="networks",
        metavar="CIDR",
    ),
)
assert {o.field for o in OPTIONS} == {f.name for f in fields(Settings)}, (
    "a setting lacks its option"
)


def add_options(parser: argparse.ArgumentParser) -> None:
    """Adds a flag for every setting that has one; unset flags stay out of the namespace."""
    defaults = Settings()
    for option in OPTIONS:
        if not option.flag:
            continue
        unset = "SQLite in the data directory" if option.kind == "database" else "unset"
        default = option.render(getattr(defaults, option.field)) or unset
        if option.kind == "switch":  # `--allow-plaintext` alone: a value would eat the command
            parser.add_argument(
                option.option,
                dest=option.field,
                action="store_const",
                const="1",
                default=argparse.SUPPRESS,
                help=f"{option.help} ({option.variable}=1)",
            )
            continue
        parser.add_argument(
            option.option,
            dest=option.field,
            metavar=option.metavar,
            default=argparse.SUPPRESS,
            # A list may be given as several flags: load() joins them with commas.
            action="append" if option.kind == "networks" else "store",
            help=f"{option.help} ({option.variable}, default {default})",
        )


def load(
    flags: Mapping[str, str | list[str] | None] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Returns the settings, each from its flag (by field name), else its variable, else the
    default. Raises ValueError naming the flag and the variable of a value that is not usable.
    """
    flags = flags or {}
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for option in OPTIONS:
        given = flags.get(option.field)
        text = ",".join(given) if isinstance(given, list) else given
        if text is None or text == "":
            text = environ.get(option.variable) or None
        if text is not None:
            values[option.field] = option.parse(text)
    settings = replace(Settings(), **values)
    settings = replace(settings, data_dir=settings.data_dir.resolve())
    store = settings.artifact_store
    if store and (not store.startswith("s3://") or not store.removeprefix("s3://").strip("/")):
        raise ValueError(
            f"--artifact-store (MODELYARD_ARTIFACT_STORE) must be s3://bucket or s3://bucket/prefix, got "
            f"{store!r} (leave it unset to keep blobs in the data directory)"
        )
    if settings.log_format not in ("text", "json"):
        raise ValueError(
            f"--log-format (MODELYARD_LOG_FORMAT) must be text or json, got {settings.log_format!r}"
        )
    if not settings.database_url:
        settings = replace(settings, database_url=sqlite_url(settings.data_dir))
    _check_tls(settings)
    return settings


def _check_tls(settings: Settings) -> None:
    """Raises ValueError for TLS files that make no sense together."""
    if bool(settings.tls_cert) != bool(settings.tls_key):
        given, missing = (
            ("--tls-cert", "--tls-key (MODELYARD_TLS_KEY)")
            if settings.tls_cert
            else ("--tls-key", "--tls-cert (MODELYARD_TLS_CERT)")
        )
        raise ValueError(f"{given} needs {missing}: TLS takes a certificate and its key")
    if settings.tls_client_ca and not settings.tls_cert:
        raise ValueError(
            "--tls-client-ca (MODELYARD_TLS_CLIENT_CA) needs --tls-cert and --tls-key: "
            "client certificates are asked for over TLS only"
        )


def redacted(url: str) -> str:
    """Returns the database URL without its password, for printing."""
    return make_url(url).render_as_string(hide_password=True)


def _redacted(text: str) -> str:
    try:
        return redacted(text)
    except ArgumentError:
        return text
