"""How the server writes its log: lines for people, or one JSON object per line.

JSON lines carry `time`, `level`, `logger`, `message`, `event` (start-up, shutdown,
migration, request, slow_request, webhook_failed, …) and, for requests, `request_id`,
`tenant`, `actor`, `method`, `code` and `latency_ms`. Text is the default; in text, calls
are not logged one by one (slow ones are). Nothing here ever writes a token or a secret:
callers pass none, and database errors are logged without their SQL parameters.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

FIELDS = ("event", "request_id", "tenant", "actor", "method", "code", "latency_ms")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per record."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in FIELDS:
            value = getattr(record, field, None)
            if value is not None:
                document[field] = value
        document.setdefault("event", "log")
        if record.exc_info:
            document["error"] = self.formatException(record.exc_info)
        return json.dumps(document, ensure_ascii=False, default=str)


def configure(log_format: str = "text") -> None:
    """Sends the server's log to stderr in the chosen format (replacing earlier settings)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    # In text, one line per call would drown what people need to read; slow calls still show.
    logging.getLogger("modelyard.requests").setLevel(
        logging.INFO if log_format == "json" else logging.WARNING
    )
    # Seven lines naming Alembic's autogenerate plugins on every migration: nothing an
    # operator acts on. The migrations it runs still show.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
