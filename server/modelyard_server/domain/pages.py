"""Page sizes and opaque keyset page tokens."""

from __future__ import annotations

import base64
import hashlib
import json
import math
from collections.abc import Iterable

from modelyard.v1 import errors_pb2 as reasons

from modelyard_server.domain.errors import FieldViolation, InvalidArgument, invalid_fields
from modelyard_server.domain.repositories import Key

# A page stays under gRPC's default 4 MiB message limit, whatever page_size asks for.
MAX_PAGE_BYTES = 3 * 1024 * 1024


def fit(sizes: Iterable[int], budget: int = MAX_PAGE_BYTES) -> int:
    """Returns how many of the items, in order, fit in one page (always at least one)."""
    total = count = 0
    for size in sizes:
        if count and total + size > budget:
            break
        total += size
        count += 1
    return count


def page_size(requested: int, default: int, maximum: int = 1000) -> int:
    """Returns the page size to use: 0 means the default; larger than the maximum is capped."""
    if requested < 0:
        raise invalid_fields(
            [FieldViolation("page_size", "must not be negative: 0 for the default, at most 1000")]
        )
    return default if requested == 0 else min(requested, maximum)


def fingerprint(*query: str) -> str:
    return hashlib.sha256("\x00".join(query).encode()).hexdigest()[:16]


def encode_token(key: Key | None, query: str) -> str:
    """Returns the token that resumes after `key`, bound to the query's fingerprint."""
    if key is None:
        return ""
    raw = json.dumps({"k": list(key), "q": query}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str, query: str) -> Key | None:
    """Returns the key a token resumes after; INVALID_PAGE_TOKEN if it is not one of ours."""
    if not token:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
        key = tuple(data["k"])
        ok = data["q"] == query and 0 < len(key) <= 4
        ok = ok and all(_storable(v) for v in key)
    except (ValueError, KeyError, TypeError):
        ok = False
    if not ok:
        raise InvalidArgument(
            reasons.INVALID_PAGE_TOKEN,
            "the page_token is not from a previous page of this same query; "
            "send the same filter and order_by, or start again without a token",
        )
    return key


def _storable(value: object) -> bool:
    """Whether a key value of a token can be one the store issued: a 64-bit integer, a finite
    number, a string without NUL (PostgreSQL's text cannot hold one) or null. The token is
    the caller's to forge; the database is not theirs to overflow."""
    if isinstance(value, int):
        return -(2**63) <= value < 2**63
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or (isinstance(value, str) and "\x00" not in value)
