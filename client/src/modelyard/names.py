"""Resource names: ``groups/{group}``, ``groups/{group}/versions/{version}``,
``groups/{group}/aliases/{alias}``, ``groups/{group}/approvalPolicy``, ``webhooks/{webhook}``
and ``webhooks/{webhook}/deliveries/{seq}``.

The SDK accepts a bare group id (``"fraud"``) wherever a group is named and turns it into
the resource name the API wants, since every field that refers to a group takes its full
name. Ids are validated by the server, which says what is wrong; these functions only
assemble and split names.
"""

from __future__ import annotations

__all__ = [
    "GROUP_PREFIX",
    "WEBHOOK_PREFIX",
    "alias_name",
    "delivery_name",
    "group_name",
    "optional_group_name",
    "policy_name",
    "split_alias_name",
    "split_version_name",
    "version_name",
    "version_or_alias_name",
    "webhook_name",
]

GROUP_PREFIX = "groups/"
_VERSIONS = "/versions/"
_ALIASES = "/aliases/"
_POLICY = "/approvalPolicy"
WEBHOOK_PREFIX = "webhooks/"
_DELIVERIES = "/deliveries/"


def group_name(group: str) -> str:
    """Returns ``groups/{group}`` for a group id or a group's resource name."""
    if not group:
        raise ValueError("a group id is required, e.g. 'fraud' or 'groups/fraud'")
    return group if group.startswith(GROUP_PREFIX) else GROUP_PREFIX + group


def optional_group_name(group: str) -> str:
    """Returns ``groups/{group}`` for a group id or name, or ``""`` (no group: every group)."""
    return group_name(group) if group else ""


def version_name(group_or_name: str, version: int | str | None = None) -> str:
    """Returns ``groups/{group}/versions/{version}``.

    Accepts ``("fraud", 3)``, ``("groups/fraud", "latest")`` or a version's full resource
    name with ``version`` left out; an alias's name (``groups/fraud/aliases/champion``) is
    returned as it is, since the server resolves it to the version it points at.
    """
    if version is None:
        if _VERSIONS not in group_or_name and _ALIASES not in group_or_name:
            raise ValueError(
                f"{group_or_name!r} is not a version name; pass the version too, "
                "e.g. ('fraud', 3) or 'groups/fraud/versions/3'"
            )
        return group_name(group_or_name)
    if _VERSIONS in group_or_name or _ALIASES in group_or_name:
        raise ValueError(
            f"{group_or_name!r} already names a version; do not pass version={version!r} too"
        )
    if isinstance(version, bool):
        raise TypeError("version must be an int or a str such as 'latest', not a bool")
    text = str(version)
    if not text:
        raise ValueError("version must not be empty; use a number or 'latest'")
    return f"{group_name(group_or_name)}{_VERSIONS}{text}"


def split_version_name(name: str) -> tuple[str, str]:
    """Returns ``(group_id, version)`` of ``groups/{group}/versions/{version}``."""
    head, sep, version = name.partition(_VERSIONS)
    if not sep or not head.startswith(GROUP_PREFIX):
        raise ValueError(f"{name!r} is not a version name like 'groups/fraud/versions/3'")
    return head[len(GROUP_PREFIX) :], version


def version_or_alias_name(group_or_name: str, ref: int | str | None = None) -> str:
    """Returns the name of what ``ref`` picks in the group: a version for a number or
    ``"latest"``, otherwise the alias of that name (``("fraud", "champion")``); with ``ref``
    left out, ``group_or_name`` must already name a version or an alias."""
    if ref is None:
        if _VERSIONS not in group_or_name and _ALIASES not in group_or_name:
            raise ValueError(
                f"which version of {group_or_name!r}? give a number, 'latest' or an alias"
            )
        return group_name(group_or_name)
    if isinstance(ref, int) or ref == "latest" or ref.isdecimal():
        return version_name(group_or_name, ref)
    return alias_name(group_or_name, ref)


def alias_name(group_or_name: str, alias: str | None = None) -> str:
    """Returns ``groups/{group}/aliases/{alias}``.

    Accepts ``("fraud", "champion")``, ``("groups/fraud", "champion")`` or an alias's full
    resource name with ``alias`` left out.
    """
    if alias is None:
        if _ALIASES not in group_or_name:
            raise ValueError(
                f"{group_or_name!r} is not an alias name; pass the alias too, "
                "e.g. ('fraud', 'champion') or 'groups/fraud/aliases/champion'"
            )
        return group_name(group_or_name)
    if _ALIASES in group_or_name or _VERSIONS in group_or_name:
        raise ValueError(f"{group_or_name!r} is not a group; name the group, e.g. 'fraud'")
    if not alias:
        raise ValueError("an alias is required, e.g. 'champion'")
    return f"{group_name(group_or_name)}{_ALIASES}{alias}"


def split_alias_name(name: str) -> tuple[str, str]:
    """Returns ``(group_id, alias)`` of ``groups/{group}/aliases/{alias}``."""
    head, sep, alias = name.partition(_ALIASES)
    if not sep or not head.startswith(GROUP_PREFIX):
        raise ValueError(f"{name!r} is not an alias name like 'groups/fraud/aliases/champion'")
    return head[len(GROUP_PREFIX) :], alias


def token_name(token: str) -> str:
    """Returns ``tokens/{token}`` for a token id (``tk-…``) or a token's name."""
    if not token:
        raise ValueError("a token is required, e.g. 'tk-0123456789abcdef' or 'tokens/tk-…'")
    return token if token.startswith("tokens/") else "tokens/" + token


def policy_name(group: str) -> str:
    """Returns ``groups/{group}/approvalPolicy`` for a group id, a group's name or the
    policy's own name."""
    if group.endswith(_POLICY):
        return group
    return group_name(group) + _POLICY


def webhook_name(webhook: str) -> str:
    """Returns ``webhooks/{webhook}`` for a webhook id (``wh-…``) or a webhook's name."""
    if not webhook:
        raise ValueError("a webhook is required, e.g. 'wh-1a2b3c4d5e' or 'webhooks/wh-1a2b3c4d5e'")
    return webhook if webhook.startswith(WEBHOOK_PREFIX) else WEBHOOK_PREFIX + webhook


def delivery_name(webhook_or_name: str, seq: int | None = None) -> str:
    """Returns ``webhooks/{webhook}/deliveries/{seq}``.

    Accepts ``("wh-1a2b3c4d5e", 42)``, ``("webhooks/wh-1a2b3c4d5e", 42)`` or a delivery's
    full resource name with ``seq`` left out.
    """
    if seq is None:
        if _DELIVERIES not in webhook_or_name:
            raise ValueError(
                f"{webhook_or_name!r} is not a delivery name; pass the event's seq too, "
                "e.g. ('wh-1a2b3c4d5e', 42) or 'webhooks/wh-1a2b3c4d5e/deliveries/42'"
            )
        return webhook_name(webhook_or_name)
    if _DELIVERIES in webhook_or_name:
        raise ValueError(f"{webhook_or_name!r} already names a delivery; do not pass seq={seq!r}")
    if isinstance(seq, bool) or not isinstance(seq, int):
        raise TypeError(f"seq must be an int, the event's seq in the log, not {seq!r}")
    return f"{webhook_name(webhook_or_name)}{_DELIVERIES}{seq}"
