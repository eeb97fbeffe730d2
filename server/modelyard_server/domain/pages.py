"""Page sizes, and keyset page tokens that the server signs."""

from __future__ import annotations

import base64
import hashlib
import hmac
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


#: The keyring purpose whose key signs page tokens (see keyring.py).
PURPOSE = "page-tokens"
TAG_BYTES = 16  # HMAC-SHA256 cut to 128 bits: forging one is still out of reach
MAX_TOKEN_CHARS = 4096
START_AGAIN = "start again from the first page, without a page_token"


class PageTokens:
    """Issues page tokens and checks them: a keyset position bound to one query of one tenant,
    authenticated with a key of the server's (HMAC-SHA256). The same key file gives the same
    key, so a token stays valid across restarts and between workers and replicas."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("a page token key has at least 16 bytes")
        self._key = key

    def query(self, tenant: str, *parts: str) -> PageQuery:
        """Returns the tokens of one query: what is listed (`"versions"`) and every request
        field that shapes the listing (parent, filter, order_by), in the caller's tenant."""
        return PageQuery(self._key, json.dumps([tenant, *parts]).encode())


class PageQuery:
    """The page tokens of one query: `token` issues them, `resume_after` checks them."""

    def __init__(self, key: bytes, query: bytes) -> None:
        self._key = key
        self._query = query

    def _tag(self, payload: bytes) -> bytes:
        message = b"modelyard page token v1\x00" + self._query + b"\x00" + payload
        return hmac.new(self._key, message, hashlib.sha256).digest()[:TAG_BYTES]

    def token(self, key: Key | None) -> str:
        """Returns the token that resumes after `key` (empty for the last page)."""
        if key is None:
            return ""
        payload = json.dumps(list(key), separators=(",", ":")).encode()
        raw = self._tag(payload) + payload
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def resume_after(self, token: str) -> Key | None:
        """Returns the key a token resumes after (None without a token); INVALID_PAGE_TOKEN
        for a token this server did not issue for this very query. The tag is checked, in
        constant time, before anything in the token is read."""
        if not token:
            return None
        key = self._verified(token)
        if key is None:
            raise InvalidArgument(
                reasons.INVALID_PAGE_TOKEN,
                "the page_token was not issued by this registry for this query (the same "
                f"parent, filter and order_by); {START_AGAIN}",
            )
        return key

    def _verified(self, token: str) -> Key | None:
        if len(token) > MAX_TOKEN_CHARS:
            return None
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except ValueError:
            return None
        tag, payload = raw[:TAG_BYTES], raw[TAG_BYTES:]
        expected = self._tag(payload)
        if len(tag) != TAG_BYTES or not hmac.compare_digest(tag, expected):
            return None
        try:
            key = json.loads(payload)
        except ValueError:
            return None
        # Only the server makes these, but a key it cannot use must not reach the database.
        if not isinstance(key, list) or not 0 < len(key) <= 4 or not all(map(_storable, key)):
            return None
        return tuple(key)


def _storable(value: object) -> bool:
    """Whether a key value can be one the store issued: a 64-bit integer, a finite number, a
    string without NUL (PostgreSQL's text cannot hold one) or null."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return -(2**63) <= value < 2**63
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or (isinstance(value, str) and "\x00" not in value)
