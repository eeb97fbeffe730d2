"""``modelyard tokens create|list|revoke``: the tenant's bearer tokens.

A token's secret is printed once, by ``create``; lists show who a token identifies, its
roles and lifecycle, never the secret.
"""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime, timedelta

from modelyard.cli.options import Commands, Invocation, add_command, add_family, add_limit
from modelyard.cli.output import format_time, proto
from modelyard.v1.token_service_pb2 import Token

__all__ = ["add_commands", "expires", "token_fields"]

HEADERS = ("TOKEN", "SUBJECT", "ROLES", "STATE", "CREATED", "EXPIRES", "LAST_USED")
DURATION = re.compile(r"(\d+)([dhms])")
UNITS = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


def expires(text: str) -> datetime | timedelta:
    """Parses --expires: a lifetime (``30d``, ``12h``, ``90m``, ``45s``) or a date or time
    (``2027-06-30``, ``2027-06-30T12:00:00Z``; UTC unless it says otherwise)."""
    lifetime = DURATION.fullmatch(text)
    if lifetime:
        return timedelta(**{UNITS[lifetime[2]]: int(lifetime[1])})
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a lifetime like 30d, 12h or 90m, or a date like 2027-06-30, got {text!r}"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def state(token: Token, now: datetime) -> str:
    """Returns whether the token works: active, expired or revoked."""
    if token.HasField("revoke_time"):
        return "revoked"
    if token.HasField("expire_time") and token.expire_time.ToDatetime(UTC) <= now:
        return "expired"
    return "active"


def _row(token: Token, now: datetime) -> tuple[str, ...]:
    return (
        token.name.removeprefix("tokens/"),
        token.subject,
        ",".join(token.roles),
        state(token, now),
        format_time(token.create_time),
        format_time(token.expire_time) if token.HasField("expire_time") else "never",
        format_time(token.last_use_time) if token.HasField("last_use_time") else "never",
    )


def token_fields(token: Token) -> list[tuple[str, str]]:
    """Returns the ``label: value`` lines that show a token (never a secret)."""
    fields = [
        ("name", token.name),
        ("subject", token.subject),
        ("roles", ", ".join(token.roles)),
        ("state", state(token, datetime.now(UTC))),
        ("created by", token.created_by or "(the server's first start)"),
        ("created", format_time(token.create_time)),
        ("expires", format_time(token.expire_time) if token.HasField("expire_time") else "never"),
    ]
    if token.HasField("revoke_time"):
        fields += [("revoked by", token.revoked_by), ("revoked", format_time(token.revoke_time))]
    return fields


def create_token(run: Invocation) -> None:
    args = run.args
    created = proto(run.registry.create_token(args.subject, roles=args.role, expires=args.expires))
    run.output.message(created, [*token_fields(created.token), ("secret", created.secret)])
    if not run.output.as_json:
        run.output.note("the secret is shown only this once; keep it where its caller reads it")


def list_tokens(run: Invocation) -> None:
    now = datetime.now(UTC)
    tokens = (proto(t) for t in run.limited(run.registry.list_tokens(page_size=run.page_size())))
    run.output.listing(
        HEADERS, ((t, _row(t, now)) for t in tokens), empty="no tokens", cut=("ROLES",)
    )


def revoke_token(run: Invocation) -> None:
    token = proto(run.registry.revoke_token(run.args.revoked))
    run.output.text(
        f"revoked {token.name} ({token.subject}) at {format_time(token.revoke_time)}", token
    )


def add_commands(commands: Commands) -> None:
    """Adds the ``tokens`` command family."""
    sub = add_family(
        commands,
        "tokens",
        help="bearer tokens: issue, list, revoke",
        description=(
            "Issue bearer tokens (the secret is printed once), list them (never their "
            "secrets) and revoke them: a revoked token fails at once, on every server. "
            "Tenant admins only."
        ),
    )

    p = add_command(sub, "create", help="issue a token and print its secret, once")
    p.add_argument("subject", help="who the token identifies, e.g. alice or ci-deployer")
    p.add_argument(
        "--role",
        action="append",
        required=True,
        metavar="ROLE",
        help="viewer, contributor, approver, deployer or admin; role@group binds it to one "
        "group (repeatable)",
    )
    p.add_argument(
        "--expires",
        type=expires,
        default=None,
        metavar="WHEN",
        help="a lifetime (30d, 12h, 90m) or a date (2027-06-30, UTC); "
        "default: the server's (--token-expiry-days)",
    )
    p.set_defaults(handler=create_token)

    p = add_command(sub, "list", help="list tokens, oldest first (never their secrets)")
    add_limit(p, "tokens")
    p.set_defaults(handler=list_tokens)

    p = add_command(sub, "revoke", help="revoke a token: it fails at once, on every server")
    # Not `token`: that is --token's, the caller's own.
    p.add_argument("revoked", metavar="TOKEN", help="token id or name, e.g. tk-0123456789abcdef")
    p.set_defaults(handler=revoke_token)
