"""What a hostile caller sends: the edge values of each kind of field, and page tokens
forged from real ones. tests/support/fuzz.py draws from them."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
UINT32 = (0, 2**32 - 1)
UINT64 = (0, 2**64 - 1)

# Strings that broke parsers somewhere once: empty, white space, NUL, path tricks, digits
# that are not ASCII (`isdigit()` says yes, `int()` says no or another number), direction
# marks, a BOM, the last code points, quotes for SQL and JSON paths, and lengths just past
# each limit the protos state.
EDGE_STRINGS = [
    "",
    " ",
    "\t\n",
    "\x00",
    "a\x00b",
    "-",
    ".",
    "..",
    "../",
    "../../etc/passwd",
    "/",
    "//",
    "%2e%2e%2f",
    "\u0130",
    "²",
    "\u0661\u0662",
    "\U0001d7d9",
    "\ufeff",
    "\u202e",
    "\u200b",
    "e\u0301",
    "ﬁ",
    "😀",
    "\uffff",
    "\U0010ffff",
    "null",
    "'; DROP TABLE groups; --",
    '"',
    "'",
    "\\",
    '$."a"',
    "{{7*7}}",
    "a" * 63,
    "a" * 64,
    "a" * 129,
    "a" * 257,
    "a" * 1025,
    "a" * 2049,
    "a" * 4097,
    "😀" * 3000,
    "x" * 70_000,
]
# Values for the {version} (or {delivery}) of a name.
NUMBERS = [
    "1",
    "2",
    "3",
    "0",
    "-1",
    "01",
    "latest",
    "1.5",
    "1e3",
    " 1",
    "",
    "²",
    "\u0661",
    "\U0001d7d9",
    "9" * 18,
    "9" * 19,
    "9" * 5000,
]
# Values for the other ids of a name: group, alias, webhook.
BAD_IDS = ["", "-", "A", "Fraud", "1a", "a b", "ä", "a" * 63, "a" * 64, "..", "a_b", "latest", "v1"]
URIS = [
    "s3://models/a.onnx",
    "s3:///key",
    "file:///abs/model.onnx",
    "file://rel/path",
    "file:",
    "gs://",
    "http://[::1",
    "http://[::1]:99999/",
    "https://[",
    "http://]",
    "http://127.0.0.1:99999999/x",
    "http://127.0.0.1:abc/x",
    "http://",
    "https://127.0.0.1:9/hook",
    "http://127.0.0.1:9/hook",
    "http://[::1]:9/hook",
    "http://localhost:9/hook",
    "http://user:pass@127.0.0.1:9/",
    "http://exa mple.test/",
    "http:\\\\127.0.0.1",
    "HTTP://127.0.0.1:9/",
    "javascript:alert(1)",
    "a:b",
    "::",
    "http://127.0.0.1:9/" + "p" * 2100,
]
# The list filters' fields by the kind of value they compare with, each with values that
# fit (first) and values at or past the edges; and fields no list has.
FILTERS: dict[str, tuple[list[str], list[str], list[str]]] = {
    "integer": (
        ["version", "latest_version"],
        ["1", "2", "0"],
        [
            "-1",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775809",
            "99999999999999999999",
            "9" * 4000,
            "1.5",
            '"1"',
        ],
    ),
    "number": (
        ["metrics.auc", "metrics.zz"],
        ["0.5", "1", "-2.5e3"],
        ["1e999", "-1e999", "1e-999", "NaN", "99999999999999999999999", '"0.5"', "0x10"],
    ),
    "time": (
        ["create_time", "update_time"],
        ['"2026-01-01T00:00:00Z"', '"2020-05-01T12:00:00+02:00"'],
        [
            '"0001-01-01T00:00:00+14:00"',
            '"9999-12-31T23:59:59-14:00"',
            '"2026-01-01"',
            '"2026-13-01T00:00:00Z"',
            '"not a time"',
            "1",
        ],
    ),
    "enum": (
        ["stage", "approval_status", "artifact.format"],
        ["PRODUCTION", "STAGE_ARCHIVED", "APPROVED", "onnx"],
        ["UNSPECIFIED", "STAGE_UNSPECIFIED", "1", '"PRODUCTION"', "PRODUCTIONS"],
    ),
    "string": (
        ["name", "created_by", "artifact.sha256", "tags.team", "tags.a.b", "tags.x-y"],
        ['"risk"', "'risk'", "risk", '"groups/fz1-alpha"', '""'],
        ['"a\\"b"', '"\\', "'", "(", ")", "AND", "tags.ä", '"\u0000"'],
    ),
    "unknown": (["colour", "tags.", "metrics", "metrics.auc.x", "tags.ä"], ['"x"'], ["1"]),
}
FILTER_OPS = ["=", "!=", "<", "<=", ">", ">="]
ODD_FILTER_OPS = ["==", "~", ":", "=<", "!"]
ORDERINGS = [
    "name",
    "name desc",
    "name asc",
    "NAME",
    "version",
    "version asc",
    "create_time DESC",
    "update_time",
    "metrics.auc desc",
    "metrics.auc",
    "metrics.",
    "tags.team",
    "stage",
    "name,version",
    "name desc asc",
    ",",
]
ROLES = ["viewer", "contributor", "approver", "deployer", "admin", "root", "", "Admin"]
KEYS = ["team", "auc", "owner", "_x", "a.b", "a-b"]
BAD_KEYS = ["", "1a", "a b", "ä", "a" * 129, "\x00"]


def forged_tokens(tokens: Sequence[str]) -> list[str]:
    """Returns page tokens an attacker makes from real ones (base64 of a 16-byte tag and the
    key as JSON): the same tag with keys of other types, sizes and counts."""
    forged_keys: list[list[object]] = [
        [2**63],
        [2**63 - 1],
        [-(2**63) - 1],
        [10**30],
        [-1],
        [0],
        ["x"],
        [None],
        [1.5],
        [True],
        [[]],
        [{"a": 1}],
        [1, 2],
        ["x", "y"],
        [1, 2, 3, 4, 5],
        [],
        ["\x00"],
        [10**30, 10**30, 10**30],
        [None, None, None],
    ]
    forged: list[str] = []
    for token in tokens:
        try:
            tag = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))[:16]
        except ValueError:
            continue
        for key in forged_keys:
            raw = tag + json.dumps(key).encode()
            forged.append(base64.urlsafe_b64encode(raw).decode().rstrip("="))
    for raw in (b'{"k":[NaN],"q":"x"}', b'{"k":[Infinity]}', b"\xff\xfe", b"[]", b"null"):
        forged.append(base64.urlsafe_b64encode(raw).decode())
    return forged
