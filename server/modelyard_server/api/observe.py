"""The first interceptor: every call counted, timed, traced and logged, whatever its end.

It sits outside authentication, so refused calls are seen too; after the call, the principal
the authentication step found (if any) names the tenant and the actor. Tokens and request
bodies are never recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
from opentelemetry.trace import Span, Status, StatusCode

from modelyard_server.api.auth import caller
from modelyard_server.api.handlers import Context, Handler, WrappingInterceptor
from modelyard_server.observability import metrics, tracing

requests_log = logging.getLogger("modelyard.requests")
TYPES = {
    "unary_unary": "unary",
    "unary_stream": "server_stream",
    "stream_unary": "client_stream",
    "stream_stream": "bidi_stream",
}
REQUEST_ID_HEADER = "x-request-id"


def _code(context: Context, error: BaseException | None) -> grpc.StatusCode:
    # The client went away: grpc cancels the handler, or closes a stream's generator.
    if isinstance(error, (asyncio.CancelledError, GeneratorExit)):
        return grpc.StatusCode.CANCELLED
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return code
    return grpc.StatusCode.OK if error is None else grpc.StatusCode.UNKNOWN


class Series:
    """One method's metric series, looked up once rather than on every call."""

    def __init__(self, labels: tuple[str, str, str]) -> None:
        _kind, service, method = labels
        self.labels = labels
        self.started = metrics.STARTED.labels(*labels)
        self.in_flight = metrics.IN_FLIGHT.labels(service, method)
        self.handling = metrics.HANDLING.labels(*labels)
        self.handled: dict[grpc.StatusCode, Any] = {}

    @functools.cached_property
    def received(self) -> Any:
        """Stream messages received: made on the first, so unary methods show no series."""
        return metrics.RECEIVED.labels(*self.labels)

    @functools.cached_property
    def sent(self) -> Any:
        return metrics.SENT.labels(*self.labels)

    def handled_with(self, code: grpc.StatusCode) -> Any:
        found = self.handled.get(code)
        if found is None:
            go_code = metrics.GO_CODE_NAMES.get(code, "Unknown")
            found = self.handled[code] = metrics.HANDLED.labels(*self.labels, go_code)
        return found


class Call:
    """What is known of one call while it runs. The metrics are always kept; the span and
    the caller's metadata only when tracing is on, and the request id when a log line is
    written."""

    def __init__(self, observer: ObserveInterceptor, series: Series, context: Context) -> None:
        self.observer = observer
        self.series = series
        self.context = context
        self.start = time.perf_counter()
        series.started.inc()
        series.in_flight.inc()
        self.span_scope: contextlib.AbstractContextManager[Span | None] | None = None
        self.span: Span | None = None
        if tracing.tracer() is not None:
            kind, service, method = series.labels
            metadata = self.metadata()
            self.span_scope = tracing.server_span(
                f"{service}/{method}",
                {k: v for k, v in metadata.items() if k in ("traceparent", "tracestate")},
                {"rpc.system": "grpc", "rpc.service": service, "rpc.method": method},
                current=kind in ("unary", "client_stream"),
            )
            self.span = self.span_scope.__enter__()

    def metadata(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in self.context.invocation_metadata() or ()}

    def end(self, error: BaseException | None, request: Any = None) -> None:
        series = self.series
        kind, service, method = series.labels
        seconds = time.perf_counter() - self.start
        code = _code(self.context, error)
        series.in_flight.dec()
        series.handled_with(code).inc()
        series.handling.observe(seconds)
        slow = kind == "unary" and seconds >= self.observer.slow_seconds
        level = logging.WARNING if slow else logging.INFO
        logged = requests_log.isEnabledFor(level)
        if self.span_scope is None and not logged:
            return
        principal = caller()
        tenant = principal.tenant if principal is not None else ""
        actor = principal.subject if principal is not None else ""
        if self.span is not None:
            self.span.set_attribute("rpc.grpc.status_code", code.value[0])
            if principal is not None:
                self.span.set_attribute("modelyard.tenant", tenant)
                self.span.set_attribute("enduser.id", actor)
            if code != grpc.StatusCode.OK:
                self.span.set_status(Status(StatusCode.ERROR, code.name))
        if self.span_scope is not None:
            self.span_scope.__exit__(None, None, None)
        if not logged:
            return
        request_id = self.metadata().get(REQUEST_ID_HEADER, "")[:128]
        request_id = request_id or str(getattr(request, "request_id", "") or "")[:128]
        requests_log.log(
            level,
            "%s/%s %s %.1f ms%s",
            service,
            method,
            code.name,
            seconds * 1000,
            " (slow)" if slow else "",
            extra={
                "event": "slow_request" if slow else "request",
                "request_id": request_id,
                "tenant": tenant,
                "actor": actor,
                "method": f"/{service}/{method}",
                "code": code.name,
                "latency_ms": round(seconds * 1000, 3),
            },
        )


class ObserveInterceptor(WrappingInterceptor):
    """Counts, times, traces and logs every call."""

    def __init__(self, slow_seconds: float = 1.0) -> None:
        super().__init__()
        self.slow_seconds = slow_seconds

    def wrap(self, method: str, handler: Handler) -> Handler:
        service, _, name = method.strip("/").rpartition("/")
        found = next(
            (pair for pair in TYPES.items() if getattr(handler, pair[0]) is not None), None
        )
        if found is None:
            return handler
        attribute, kind = found
        behavior = getattr(handler, attribute)
        series = Series((kind, service, name))
        serialize = (handler.request_deserializer, handler.response_serializer)
        streaming_in = kind in ("client_stream", "bidi_stream")
        streaming_out = kind in ("server_stream", "bidi_stream")
        observer = self

        def counted_in(requests: AsyncIterator[Any]) -> AsyncIterator[Any]:
            async def each() -> AsyncIterator[Any]:
                async for request in requests:
                    series.received.inc()
                    yield request

            return each()

        if not streaming_out:

            async def unary(request: Any, context: Context) -> Any:
                call = Call(observer, series, context)
                error: BaseException | None = None
                try:
                    return await behavior(counted_in(request) if streaming_in else request, context)
                except BaseException as raised:
                    error = raised
                    raise
                finally:
                    call.end(error, None if streaming_in else request)

            factory = (
                grpc.stream_unary_rpc_method_handler
                if streaming_in
                else grpc.unary_unary_rpc_method_handler
            )
            return factory(unary, *serialize)

        async def stream(request: Any, context: Context) -> AsyncIterator[Any]:
            call = Call(observer, series, context)
            error: BaseException | None = None
            try:
                async for response in behavior(
                    counted_in(request) if streaming_in else request, context
                ):
                    series.sent.inc()
                    yield response
            except BaseException as raised:
                error = raised
                raise
            finally:
                call.end(error, None if streaming_in else request)

        factory_s: Callable[..., Handler] = (
            grpc.stream_stream_rpc_method_handler
            if streaming_in
            else grpc.unary_stream_rpc_method_handler
        )
        return factory_s(stream, *serialize)
