"""Time and fresh etags."""

from __future__ import annotations

import secrets
import time

from google.protobuf.timestamp_pb2 import Timestamp


def now_us() -> int:
    return time.time_ns() // 1000


def timestamp(us: int) -> Timestamp:
    ts = Timestamp()
    ts.FromMicroseconds(us)
    return ts


def new_etag() -> str:
    """Returns a fresh opaque etag; every write of a resource gets a new one."""
    return secrets.token_hex(8)
