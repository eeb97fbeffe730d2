"""``modelyard webhooks create|list|show|update|delete|deliveries|redeliver``: the log's events
POSTed to HTTP endpoints, and the record of each delivery.

The signing secret is read from a file or the environment, never from the command line
(where ``ps`` and the shell's history would keep it), and is never printed.
"""

from __future__ import annotations

import os
import sys

from modelyard.cli.audit import action_choice
from modelyard.cli.options import (
    Commands,
    Invocation,
    add_command,
    add_family,
    add_limit,
    add_request_id,
    choice,
)
from modelyard.cli.output import enum_label, format_time, proto
from modelyard.names import GROUP_PREFIX, group_name, webhook_name
from modelyard.v1.resources_pb2 import Action
from modelyard.v1.webhook_service_pb2 import DeliveryState, Webhook, WebhookDelivery

__all__ = ["SECRET_ENV", "add_commands", "webhook_fields"]

#: Where ``webhooks create`` finds the secret when no --secret-file is given.
SECRET_ENV = "MODELYARD_WEBHOOK_SECRET"

HEADERS = ("WEBHOOK", "GROUP", "ACTIONS", "URL", "CREATED_BY", "CREATED")
DELIVERY_HEADERS = (
    "SEQ",
    "ACTION",
    "RESOURCE",
    "STATE",
    "ATTEMPTS",
    "CODE",
    "LAST_ATTEMPT",
    "ERROR",
)
STATES = [
    enum_label(n, "DELIVERY_STATE_").lower()
    for n in DeliveryState.keys()  # noqa: SIM118 - an EnumTypeWrapper is not a dict
    if not n.endswith("_UNSPECIFIED")
]


def _actions(webhook: Webhook) -> str:
    return ",".join(enum_label(Action.Name(a), "ACTION_") for a in webhook.actions) or "all"


def _id(name: str) -> str:
    return name.removeprefix("webhooks/")


def _row(webhook: Webhook) -> tuple[str, ...]:
    return (
        _id(webhook.name),
        webhook.group.removeprefix(GROUP_PREFIX) or "*",
        _actions(webhook),
        webhook.url,
        webhook.created_by,
        format_time(webhook.create_time),
    )


def webhook_fields(webhook: Webhook) -> list[tuple[str, str]]:
    """Returns the ``label: value`` lines of ``webhooks show`` (there is no secret to show:
    the server never returns it)."""
    return [
        ("name", webhook.name),
        ("url", webhook.url),
        ("group", webhook.group or "* (every group)"),
        ("actions", _actions(webhook)),
        ("description", webhook.description),
        ("cursor", str(webhook.cursor)),
        ("created by", webhook.created_by),
        ("created", format_time(webhook.create_time)),
        ("etag", webhook.etag),
    ]


def _delivery_row(delivery: WebhookDelivery) -> tuple[str, ...]:
    return (
        str(delivery.seq),
        enum_label(Action.Name(delivery.action), "ACTION_"),
        delivery.resource,
        enum_label(DeliveryState.Name(delivery.state), "DELIVERY_STATE_"),
        str(delivery.attempts),
        str(delivery.last_response_code or "-"),
        format_time(delivery.last_attempt_time),
        delivery.last_error,
    )


def delivery_fields(delivery: WebhookDelivery) -> list[tuple[str, str]]:
    """Returns the ``label: value`` lines of ``webhooks redeliver``."""
    return [
        ("name", delivery.name),
        ("action", enum_label(Action.Name(delivery.action), "ACTION_")),
        ("resource", delivery.resource),
        ("state", enum_label(DeliveryState.Name(delivery.state), "DELIVERY_STATE_")),
        ("attempts", str(delivery.attempts)),
        ("next attempt", format_time(delivery.next_attempt_time)),
    ]


def read_secret(path: str | None) -> str:
    """Returns the secret from ``path`` (``-``: standard input) or $MODELYARD_WEBHOOK_SECRET,
    without the line break a file ends with."""
    if path is None:
        secret = os.environ.get(SECRET_ENV, "")
        if not secret:
            raise ValueError(
                f"a signing secret is required: --secret-file PATH, or ${SECRET_ENV}; "
                "make one with `openssl rand -hex 32 > webhook.secret`"
            )
        return secret
    try:
        if path == "-":
            text = sys.stdin.read()
        else:
            with open(path, encoding="utf-8") as file:
                text = file.read()
    except OSError as error:
        raise ValueError(f"cannot read the secret from {path}: {error.strerror}") from None
    return text.rstrip("\r\n")


def create_webhook(run: Invocation) -> None:
    args = run.args
    webhook = proto(
        run.registry.create_webhook(
            args.url,
            secret=read_secret(args.secret_file),
            group=args.group,
            actions=args.action or (),
            description=args.description,
            request_id=args.request_id,
        )
    )
    run.output.message(webhook, webhook_fields(webhook))


def list_webhooks(run: Invocation) -> None:
    pager = run.registry.list_webhooks(group=run.args.group, page_size=run.page_size())
    webhooks = (proto(w) for w in run.limited(pager))
    group = run.args.group
    run.output.listing(
        HEADERS,
        ((w, _row(w)) for w in webhooks),
        empty=f"no webhooks for {group_name(group)}" if group else "no webhooks",
        cut=("ACTIONS", "URL"),
    )


def show_webhook(run: Invocation) -> None:
    webhook = proto(run.registry.get_webhook(run.args.webhook))
    run.output.message(webhook, webhook_fields(webhook))


def update_webhook(run: Invocation) -> None:
    args = run.args
    changed = Webhook(name=webhook_name(args.webhook), etag=args.etag)
    mask: list[str] = []
    for field in ("url", "group", "description"):
        value: str | None = getattr(args, field)
        if value is not None:
            setattr(changed, field, value)
            mask.append(field)
    if args.action is not None or args.all_actions:
        changed.actions.extend(Action.Value("ACTION_" + a) for a in args.action or ())
        mask.append("actions")
    if args.secret_file is not None:
        changed.secret = read_secret(args.secret_file)
        mask.append("secret")
    if not mask:
        raise ValueError(
            "nothing to update: give --url, --secret-file, --group, --action, --all-actions "
            "or --description"
        )
    webhook = proto(
        run.registry.update_webhook(changed, update_mask=mask, request_id=args.request_id)
    )
    run.output.message(webhook, webhook_fields(webhook))


def delete_webhook(run: Invocation) -> None:
    args = run.args
    run.registry.delete_webhook(args.webhook, etag=args.etag, request_id=args.request_id)
    run.output.text(f"deleted {webhook_name(args.webhook)}")


def list_deliveries(run: Invocation) -> None:
    args = run.args
    pager = run.registry.list_webhook_deliveries(
        args.webhook, state=args.state or "all", page_size=run.page_size()
    )
    deliveries = (proto(d) for d in run.limited(pager))
    state = f"{args.state} " if args.state else ""
    run.output.listing(
        DELIVERY_HEADERS,
        ((d, _delivery_row(d)) for d in deliveries),
        empty=f"no {state}deliveries for {webhook_name(args.webhook)}",
        cut=("ERROR",),
    )


def redeliver(run: Invocation) -> None:
    delivery = proto(run.registry.redeliver(run.args.delivery, run.args.seq))
    run.output.message(delivery, delivery_fields(delivery))


def add_commands(commands: Commands) -> None:
    """Adds the ``webhooks`` command family."""
    sub = add_family(
        commands,
        "webhooks",
        help="HTTP endpoints that receive the log's events",
        description=(
            "Register, list, show and delete webhooks; list their deliveries and redeliver "
            "failed ones. Admins only."
        ),
    )

    p = add_command(sub, "create", help="register a webhook for the events that commit after it")
    p.add_argument("url", help="the http:// or https:// URL deliveries are POSTed to")
    p.add_argument(
        "--secret-file",
        default=None,
        metavar="PATH",
        help=f"file holding the signing secret, 16-256 characters ('-': stdin; default ${SECRET_ENV})",
    )
    p.add_argument("--group", default="", help="only this group's events (default: every group)")
    p.add_argument(
        "--action",
        action="append",
        type=action_choice,
        metavar="ACTION",
        help="only these actions (repeatable; default: all), e.g. STAGE_CHANGED",
    )
    p.add_argument("--description", default="", help="what the webhook is for")
    add_request_id(p)
    p.set_defaults(handler=create_webhook)

    p = add_command(sub, "list", help="list webhooks, oldest first")
    p.add_argument("--group", default="", help="only this group's webhooks")
    add_limit(p, "webhooks")
    p.set_defaults(handler=list_webhooks)

    p = add_command(sub, "show", help="show a webhook (never its secret)")
    p.add_argument("webhook", help="webhook id or name, e.g. wh-1a2b3c4d5e")
    p.set_defaults(handler=show_webhook)

    p = add_command(
        sub, "update", help="change a webhook's URL, filters or description, or its secret"
    )
    p.add_argument("webhook", help="webhook id or name, e.g. wh-1a2b3c4d5e")
    p.add_argument("--url", default=None, help="the new http:// or https:// URL")
    p.add_argument(
        "--secret-file",
        default=None,
        metavar="PATH",
        help="rotate the signing secret to the one in this file ('-': stdin)",
    )
    p.add_argument("--group", default=None, help="only this group's events ('' for every group)")
    actions = p.add_mutually_exclusive_group()
    actions.add_argument(
        "--action",
        action="append",
        type=action_choice,
        metavar="ACTION",
        help="only these actions from now on (repeatable; replaces the list)",
    )
    actions.add_argument("--all-actions", action="store_true", help="every action from now on")
    p.add_argument("--description", default=None, help="what the webhook is for")
    p.add_argument("--etag", default="", help="fail if the webhook changed since this etag")
    add_request_id(p)
    p.set_defaults(handler=update_webhook)

    p = add_command(sub, "delete", help="delete a webhook and its delivery records")
    p.add_argument("webhook", help="webhook id or name, e.g. wh-1a2b3c4d5e")
    p.add_argument("--etag", default="", help="fail if the webhook changed since this etag")
    add_request_id(p)
    p.set_defaults(handler=delete_webhook)

    p = add_command(sub, "deliveries", help="list a webhook's deliveries, newest event first")
    p.add_argument("webhook", help="webhook id or name, e.g. wh-1a2b3c4d5e")
    p.add_argument(
        "--state",
        type=choice(STATES, "DELIVERY_STATE_", "a delivery state"),
        default=None,
        help=f"only deliveries in this state (any case): {', '.join(STATES)}",
    )
    add_limit(p, "deliveries")
    p.set_defaults(handler=list_deliveries)

    p = add_command(sub, "redeliver", help="deliver an event again, with a fresh retry budget")
    p.add_argument("delivery", help="delivery name (webhooks/wh-…/deliveries/42), or a webhook id")
    p.add_argument(
        "seq", nargs="?", type=int, default=None, help="the event's seq, after a webhook id"
    )
    p.set_defaults(handler=redeliver)
