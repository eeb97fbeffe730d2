"""Every server setting has a flag and a variable, is read from either, and goes to the
worker processes whole."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from tests.support.inprocess import OPTIONS, add_options, load_settings

ALLOW_CIDR = "--webhook-allow-cidr (MODELYARD_WEBHOOK_ALLOW_CIDR)"

# A value for each setting that differs from its default.
CHANGED = {
    "address": "127.0.0.1:6000",
    "data_dir": "/tmp/modelyard-elsewhere",
    "database_url": "postgresql://db.internal/modelyard",
    "grace_seconds": "2.5",
    "workers": "3",
    "reuse_port": "1",
    "heartbeat_seconds": "0.5",
    "watch_poll_seconds": "0.1",
    "watch_buffer": "17",
    "webhook_backoff_seconds": "0.25",
    "webhook_max_attempts": "2",
    "webhook_timeout_seconds": "1.5",
    "artifact_store": "s3://models/registry",
    "s3_endpoint_url": "http://127.0.0.1:9000",
    "blob_grace_seconds": "60",
    "gc_interval_seconds": "0",
    "key_file": "/etc/modelyard/server.key",
    "metrics_address": "127.0.0.1:9464",
    "log_format": "json",
    "slow_request_seconds": "0.25",
    # Limits (issue 11)
    "watch_streams_per_principal": "3",
    "max_concurrent_writes": "8",
    # Transport security (TLS)
    "tls_cert": "/etc/modelyard/tls.crt",
    "tls_key": "/etc/modelyard/tls.key",
    "tls_client_ca": "/etc/modelyard/clients-ca.pem",
    "allow_plaintext": "1",
    # Retention (issue 12)
    "retention_interval_seconds": "3600",
    # Token lifecycle and failed-auth throttling.
    "token_expiry_days": "7",
    "auth_failure_limit": "3",
    "auth_failure_window_seconds": "5",
    # OIDC / JWT bearer tokens
    "oidc_issuer": "https://idp.example",
    "oidc_audience": "modelyard",
    "oidc_jwks_url": "https://idp.example/keys",
    "oidc_subject_claim": "email",
    "oidc_tenant_claim": "org",
    "oidc_tenant": "acme",
    "oidc_roles_claim": "roles",
    "oidc_algorithms": "ES256",
    "oidc_leeway_seconds": "5",
    "oidc_refetch_seconds": "60",
    # Webhooks and secrets (issue 11)
    "webhook_allow_cidr": "10.1.0.0/16,fd00::/8",
    "audit_checkpoint_dir": "/var/lib/modelyard/checkpoints",
    "audit_checkpoint_seconds": "60",
    # The web UI (issue 13).
    "http_address": "127.0.0.1:8081",
}


def test_the_table_of_settings_is_the_one_the_test_knows() -> None:
    assert {o.field for o in OPTIONS} == set(CHANGED)


def test_every_setting_reaches_a_worker_through_its_environment() -> None:
    """A worker is started with the supervisor's settings as MODELYARD_* variables only."""
    flags = {name: value for name, value in CHANGED.items() if name != "reuse_port"}
    given = load_settings(flags, environ={"MODELYARD_REUSE_PORT": "1"})
    assert load_settings({}, environ=given.as_environment()) == given
    for option in OPTIONS:
        assert getattr(given, option.field) != getattr(load_settings({}, environ={}), option.field)


def test_a_flag_wins_over_its_variable_and_the_variable_over_the_default() -> None:
    environ = {"MODELYARD_HEARTBEAT_SECONDS": "2", "MODELYARD_WATCH_BUFFER": "9"}
    settings = load_settings({"heartbeat_seconds": "0.5"}, environ=environ)
    assert (settings.heartbeat_seconds, settings.watch_buffer) == (0.5, 9)
    assert load_settings({}, environ={}).heartbeat_seconds == 5.0


def test_sqlite_in_the_data_directory_is_the_default_database(tmp_path: Path) -> None:
    settings = load_settings({"data_dir": str(tmp_path)}, environ={})
    assert settings.database_url == f"sqlite:///{tmp_path.resolve() / 'modelyard.db'}"


@pytest.mark.parametrize(
    ("field", "text", "said"),
    [
        ("heartbeat_seconds", "0", "--heartbeat-seconds (MODELYARD_HEARTBEAT_SECONDS) must be a number above 0"),
        ("heartbeat_seconds", "nan", "--heartbeat-seconds (MODELYARD_HEARTBEAT_SECONDS) must be a number above 0"),
        ("workers", "1.5", "--workers (MODELYARD_WORKERS) must be a whole number of 1 or more"),
        ("watch_poll_seconds", "-1", "--watch-poll-seconds (MODELYARD_WATCH_POLL_SECONDS) must be a number of 0"),
        ("max_concurrent_writes", "0", "--max-concurrent-writes (MODELYARD_MAX_CONCURRENT_WRITES) must be a whole"),
        ("webhook_max_attempts", "0", "--webhook-max-attempts (MODELYARD_WEBHOOK_MAX_ATTEMPTS) must be a whole number"),
        ("reuse_port", "yes", "MODELYARD_REUSE_PORT must be 0 or 1"),
        ("artifact_store", "/srv/blobs", "--artifact-store (MODELYARD_ARTIFACT_STORE) must be s3://bucket or s3://bucket/prefix"),
        ("artifact_store", "s3://", "--artifact-store (MODELYARD_ARTIFACT_STORE) must be s3://bucket or s3://bucket/prefix"),
        ("address", "50051", "--address (MODELYARD_ADDRESS) must be HOST:PORT, e.g. 127.0.0.1:50051"),
        ("address", "localhost:http", "--address (MODELYARD_ADDRESS) must be HOST:PORT"),
        ("address", ":50051", "--address (MODELYARD_ADDRESS) must be HOST:PORT"),
        ("database_url", "db.internal/x", "--database-url (MODELYARD_DATABASE_URL) must be a postgresql://"),
        ("allow_plaintext", "yes", "--allow-plaintext (MODELYARD_ALLOW_PLAINTEXT) must be 0 or 1"),
        ("tls_cert", "tls.crt", "--tls-cert needs --tls-key (MODELYARD_TLS_KEY)"),
        ("tls_key", "tls.key", "--tls-key needs --tls-cert (MODELYARD_TLS_CERT)"),
        ("tls_client_ca", "ca.pem", "--tls-client-ca (MODELYARD_TLS_CLIENT_CA) needs --tls-cert and --tls-key"),
        ("webhook_allow_cidr", "10.0.0.0/33", f"{ALLOW_CIDR} must be CIDRs separated by commas ('10.0.0.0/33' is not"),
        ("webhook_allow_cidr", "intranet", f"{ALLOW_CIDR} must be CIDRs separated by commas ('intranet' is not a CIDR"),
    ],
)  # fmt: skip
def test_a_bad_value_names_its_flag_and_its_variable(field: str, text: str, said: str) -> None:
    with pytest.raises(ValueError, match=said.replace("(", r"\(").replace(")", r"\)")):
        load_settings({field: text}, environ={})


def test_a_database_url_is_refused_without_showing_its_password() -> None:
    with pytest.raises(ValueError, match="postgresql:// or sqlite:///") as caught:
        load_settings({"database_url": "mysql://root:hunter2@db/x"}, environ={})
    assert "hunter2" not in str(caught.value) and "mysql://root:***@db/x" in str(caught.value)


def test_webhook_allow_cidr_may_be_repeated_or_comma_separated() -> None:
    parser = argparse.ArgumentParser()
    add_options(parser)
    args = parser.parse_args(
        ["--webhook-allow-cidr", "10.1.2.3/16", "--webhook-allow-cidr", "192.168.7.7, fd00::/8"]
    )
    settings = load_settings(vars(args), environ={})
    assert settings.webhook_allow_cidr == "10.1.0.0/16,192.168.7.7/32,fd00::/8"
    from_environment = load_settings({}, environ={"MODELYARD_WEBHOOK_ALLOW_CIDR": "127.0.0.1"})
    assert from_environment.webhook_allow_cidr == "127.0.0.1/32"
    assert load_settings({}, environ={}).webhook_allow_cidr == ""
