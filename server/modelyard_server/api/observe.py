"""The first interceptor: every call counted, timed, traced and logged, whatever its end.

It sits outside authentication, so refused calls are seen too; after the call, the principal
the authentication step found (if any) names the tenant and the actor. Tokens and request
bodies are never recorded.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
from opentelemetry.trace import Status, StatusCode

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


class Call:
    """What is known of one call while it runs."""

    def __init__(
        self, observer: ObserveInterceptor, labels: tuple[str, str, str], context: Context
    ) -> None:
        self.observer = observer
        self.labels = labels
        self.context = context
        self.start = time.perf_counter()
        metadata = {str(k): str(v) for k, v in context.invocation_metadata() or ()}
        self.request_id = metadata.get(REQUEST_ID_HEADER, "")[:128]
        _kind, service, method = labels
        metrics.STARTED.labels(*labels).inc()
        metrics.IN_FLIGHT.labels(service, method).inc()
        self.span_scope = tracing.server_span(
            f"{service}/{method}",
            {k: v for k, v in metadata.items() if k in ("traceparent", "tracestate")},
            {"rpc.system": "grpc", "rpc.service": service, "rpc.method": method},
            current=labels[0] in ("unary", "client_stream"),
        )
        self.span = self.span_scope.__enter__()

    def end(self, error: BaseException | None, request: Any = None) -> None:
        kind, service, method = self.labels
        seconds = time.perf_counter() - self.start
        code = _code(self.context, error)
        go_code = metrics.GO_CODE_NAMES.get(code, "Unknown")
        metrics.IN_FLIGHT.labels(service, method).dec()
        metrics.HANDLED.labels(kind, service, method, go_code).inc()
        metrics.HANDLING.labels(kind, service, method).observe(seconds)
        principal = caller()
        tenant = principal.tenant if principal is not None else ""
        actor = principal.subject if principal is not None else ""
        request_id = self.request_id or str(getattr(request, "request_id", "") or "")[:128]
        if self.span is not None:
            self.span.set_attribute("rpc.grpc.status_code", code.value[0])
            if principal is not None:
                self.span.set_attribute("modelyard.tenant", tenant)
                self.span.set_attribute("enduser.id", actor)
            if code != grpc.StatusCode.OK:
                self.span.set_status(Status(StatusCode.ERROR, code.name))
        self.span_scope.__exit__(None, None, None)
        slow = kind == "unary" and seconds >= self.observer.slow_seconds
        level = logging.WARNING if slow else logging.INFO
        if requests_log.isEnabledFor(level):
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
        labels = (kind, service, name)
        serialize = (handler.request_deserializer, handler.response_serializer)
        streaming_in = kind in ("client_stream", "bidi_stream")
        streaming_out = kind in ("server_stream", "bidi_stream")
        observer = self

        def counted_in(requests: AsyncIterator[Any]) -> AsyncIterator[Any]:
            async def each() -> AsyncIterator[Any]:
                async for request in requests:
                    metrics.RECEIVED.labels(*labels).inc()
                    yield request

            return each()

        if not streaming_out:

            async def unary(request: Any, context: Context) -> Any:
                call = Call(observer, labels, context)
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
            call = Call(observer, labels, context)
            error: BaseException | None = None
            try:
                async for response in behavior(
                    counted_in(request) if streaming_in else request, context
                ):
                    metrics.SENT.labels(*labels).inc()
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
