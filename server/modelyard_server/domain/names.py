"""Resource names (Google AIP style): groups/{group}, groups/{group}/versions/{version}."""

from __future__ import annotations

import re
from dataclasses import dataclass

from modelyard_server.domain.errors import FieldViolation, invalid_fields, quote

GROUP_ID = re.compile(r"[a-z][a-z0-9-]{0,62}")
GROUP_ID_RULE = "lowercase letters, digits and '-', 1-63 characters, starting with a letter"
ALL_GROUPS = "-"
LATEST = "latest"


@dataclass(frozen=True)
class VersionRef:
    """A version as named by a caller: a number, or `latest` (number None)."""

    group: str
    number: int | None

    @property
    def name(self) -> str:
        return (
            version_name(self.group, self.number)
            if self.number
            else f"groups/{self.group}/versions/{LATEST}"
        )


def group_name(group: str) -> str:
    return f"groups/{group}"


def version_name(group: str, number: int | None) -> str:
    return f"groups/{group}/versions/{number}"


def check_group_id(group: str, field: str) -> str:
    """Returns the id if it is a valid group id, else raises INVALID_FIELD for `field`."""
    if not GROUP_ID.fullmatch(group):
        raise invalid_fields(
            [FieldViolation(field, f"{quote(group)} is not a group id: {GROUP_ID_RULE}")]
        )
    return group


def parse_group_name(name: str, field: str = "name", *, allow_all: bool = False) -> str:
    """Returns the group id of `groups/{group}`, or `-` when allowed."""
    parts = name.split("/")
    if len(parts) != 2 or parts[0] != "groups":
        hint = f"send 'groups/{name}'" if GROUP_ID.fullmatch(name) else "expected groups/{group}"
        separator = "; " if GROUP_ID.fullmatch(name) else ": "
        raise invalid_fields(
            [FieldViolation(field, f"{quote(name)} is not a group name{separator}{hint}")]
        )
    if allow_all and parts[1] == ALL_GROUPS:
        return ALL_GROUPS
    return check_group_id(parts[1], field)


def parse_version_name(name: str, field: str = "name", *, allow_latest: bool = False) -> VersionRef:
    """Returns the group and number of `groups/{group}/versions/{version}`."""
    parts = name.split("/")
    if len(parts) != 4 or parts[0] != "groups" or parts[2] != "versions":
        raise invalid_fields(
            [
                FieldViolation(
                    field,
                    f"{quote(name)} is not a version name: expected groups/{{group}}/versions/{{version}}",
                )
            ]
        )
    group = check_group_id(parts[1], field)
    if allow_latest and parts[3] == LATEST:
        return VersionRef(group, None)
    if not is_number(parts[3]) or int(parts[3]) < 1:
        expected = "a positive number or 'latest'" if allow_latest else "a positive number"
        raise invalid_fields(
            [FieldViolation(field, f"version {quote(parts[3])} in {quote(name)} is not {expected}")]
        )
    return VersionRef(group, int(parts[3]))


# ASCII digits only: str.isdigit() also accepts '²' and the Arabic-Indic digits, which int()
# refuses or reads as another number; at most 18 of them, so the number fits the database's 64-bit integers.
NUMBER = re.compile(r"[0-9]{1,18}")


def is_number(text: str) -> bool:
    """Returns whether `text` is a number as names spell it: 1-18 ASCII digits."""
    return NUMBER.fullmatch(text) is not None


ALIAS_ID = re.compile(r"[a-z][a-z0-9_-]{0,62}")
RESERVED_ALIAS = re.compile(r"latest|v\d+")


@dataclass(frozen=True)
class AliasRef:
    group: str
    alias: str

    @property
    def name(self) -> str:
        return f"groups/{self.group}/aliases/{self.alias}"


def is_alias_name(name: str) -> bool:
    parts = name.split("/")
    return len(parts) == 4 and parts[0] == "groups" and parts[2] == "aliases"


def parse_alias_name(name: str, field: str = "name", *, for_write: bool = False) -> AliasRef:
    """Returns the group and alias of `groups/{group}/aliases/{alias}`."""
    parts = name.split("/")
    if not is_alias_name(name):
        raise invalid_fields(
            [
                FieldViolation(
                    field,
                    f"{quote(name)} is not an alias name: expected groups/{{group}}/aliases/{{alias}}",
                )
            ]
        )
    group = check_group_id(parts[1], field)
    alias = parts[3]
    if not ALIAS_ID.fullmatch(alias):
        raise invalid_fields(
            [
                FieldViolation(
                    field,
                    f"{quote(alias)} is not an alias: lowercase letters, digits, '-' and '_', "
                    "1-63, starting with a letter",
                )
            ]
        )
    if for_write and RESERVED_ALIAS.fullmatch(alias):
        raise invalid_fields(
            [
                FieldViolation(
                    field, f"{quote(alias)} is reserved: 'latest' and 'v<N>' name versions already"
                )
            ]
        )
    return AliasRef(group, alias)


def policy_name(group: str) -> str:
    return f"groups/{group}/approvalPolicy"


def parse_policy_name(name: str, field: str = "name") -> str:
    """Returns the group of `groups/{group}/approvalPolicy`."""
    parts = name.split("/")
    if len(parts) != 3 or parts[0] != "groups" or parts[2] != "approvalPolicy":
        raise invalid_fields(
            [
                FieldViolation(
                    field,
                    f"{quote(name)} is not a policy name: expected groups/{{group}}/approvalPolicy",
                )
            ]
        )
    return check_group_id(parts[1], field)


WEBHOOK_ID = re.compile(r"[a-z][a-z0-9-]{0,62}")


def webhook_name(webhook_id: str) -> str:
    return f"webhooks/{webhook_id}"


def delivery_name(webhook_id: str, seq: int) -> str:
    return f"webhooks/{webhook_id}/deliveries/{seq}"


def parse_webhook_name(name: str, field: str = "name") -> str:
    """Returns the id of `webhooks/{webhook}`."""
    parts = name.split("/")
    if len(parts) != 2 or parts[0] != "webhooks" or not WEBHOOK_ID.fullmatch(parts[1]):
        raise invalid_fields(
            [
                FieldViolation(
                    field, f"{quote(name)} is not a webhook name: expected webhooks/{{id}}"
                )
            ]
        )
    return parts[1]


def parse_delivery_name(name: str, field: str = "name") -> tuple[str, int]:
    """Returns the webhook id and the seq of `webhooks/{webhook}/deliveries/{seq}`."""
    parts = name.split("/")
    if (
        len(parts) != 4
        or parts[0] != "webhooks"
        or not WEBHOOK_ID.fullmatch(parts[1])
        or parts[2] != "deliveries"
        or not is_number(parts[3])
    ):
        raise invalid_fields(
            [
                FieldViolation(
                    field,
                    f"{quote(name)} is not a delivery name: expected webhooks/{{id}}/deliveries/{{seq}}",
                )
            ]
        )
    return parts[1], int(parts[3])


def parse_readable_version(name: str, field: str = "name") -> VersionRef | AliasRef:
    """Returns the version a read names: `groups/{g}/versions/{n|latest}`, or an alias's
    name for the version it points at."""
    if is_alias_name(name):
        return parse_alias_name(name, field)
    return parse_version_name(name, field, allow_latest=True)
