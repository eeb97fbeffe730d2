"""OpenTelemetry tracing, off unless the standard OTEL_* variables configure it.

Tracing is on when OTEL_TRACES_EXPORTER names an exporter (`otlp`, `console`) or an OTLP
endpoint is set (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT); spans
then go out over OTLP/HTTP (protobuf) in batches, with OTEL_SERVICE_NAME (default
`modelyard-server`) and OTEL_RESOURCE_ATTRIBUTES as the SDK reads them. OTEL_SDK_DISABLED=true
turns it off. Each RPC is a server span continuing the caller's W3C trace context; database
transactions are its children.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.propagate import extract
from opentelemetry.sdk.resources import OTELResourceDetector, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.trace import Span, SpanKind, Tracer

log = logging.getLogger("modelyard.tracing")
_state: dict[str, TracerProvider | None] = {"provider": None}


def wanted(environ: Mapping[str, str]) -> str | None:
    """Returns the exporter the environment asks for (`otlp`, `console`), or None."""
    if environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return None
    exporter = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter and exporter != "none":
        return exporter.split(",")[0].strip()
    if exporter == "none":
        return None
    if environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    ):
        return "otlp"
    return None


def setup(environ: Mapping[str, str] | None = None) -> bool:
    """Starts exporting spans if the environment asks for it; returns whether it does.
    Raises ValueError for an exporter it does not know."""
    environ = os.environ if environ is None else environ
    kind = wanted(environ)
    if kind is None or _state["provider"] is not None:
        return _state["provider"] is not None
    exporter: SpanExporter
    if kind == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    elif kind == "console":
        exporter = ConsoleSpanExporter()
    else:
        raise ValueError(
            f"OTEL_TRACES_EXPORTER={kind!r} is not an exporter modelyard has: use otlp, "
            "console or none"
        )
    resource = Resource.create({"service.name": "modelyard-server"}).merge(
        OTELResourceDetector().detect()
    )
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    _state["provider"] = provider
    log.info("tracing on: spans go to the %s exporter", kind)
    return True


def shutdown() -> None:
    """Sends the spans still waiting, then stops."""
    provider = _state["provider"]
    if provider is not None:
        provider.shutdown()
        _state["provider"] = None


def tracer() -> Tracer | None:
    """The server's tracer, or None while tracing is off."""
    provider = _state["provider"]
    return None if provider is None else provider.get_tracer("modelyard_server")


def server_span(
    name: str, metadata: Mapping[str, str], attributes: Mapping[str, str], current: bool
) -> contextlib.AbstractContextManager[Span | None]:
    """A server span for one RPC, continuing the trace its caller sent (traceparent).

    With ``current``, it is the current span while the call runs, so database work nests
    under it; a server stream's span is not (a stream's end may run in another context than
    its start, where the current span could not be restored).
    """
    active = tracer()
    if active is None:
        return contextlib.nullcontext()
    options: dict[str, Any] = {
        "context": extract(dict(metadata)),
        "kind": SpanKind.SERVER,
        "attributes": dict(attributes),
    }
    if current:
        return active.start_as_current_span(
            name, record_exception=False, set_status_on_exception=False, **options
        )
    return _ended(active.start_span(name, record_exception=False, **options))


@contextlib.contextmanager
def _ended(span: Span) -> Iterator[Span]:
    try:
        yield span
    finally:
        span.end()


@contextlib.contextmanager
def child_span(name: str, **attributes: str) -> Iterator[None]:
    """A span inside the current one (database work), when tracing is on."""
    active = tracer()
    if active is None or not trace.get_current_span().get_span_context().is_valid:
        yield
        return
    with active.start_as_current_span(name, attributes=attributes):
        yield
