"""OpenTelemetry traces, as the ecosystem makes them: the ASGI instrumentation's server span
around the application, Strawberry's `OpenTelemetryExtension` for the operation (parsing,
validation, resolvers), and the aiohttp client instrumentation for every upstream call, which
also sends W3C `traceparent` to Comet. One trace runs from the incoming request through each
upstream call its operation makes.

All of it is wired only when an OpenTelemetry SDK's tracer provider is set when the
application is built: with the API's default provider the gateway adds no middleware, no
extension and no session hooks, so that the hot path pays nothing for tracing it cannot
export. The caller's key never reaches a span: the `Authorization` header is redacted
wherever headers are captured (`OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_*`), and the query
string of a redirect away from the upstream (a signed storage URL) is dropped.
"""

from __future__ import annotations

import contextlib
import types
from collections.abc import Generator
from typing import Any

import aiohttp
from opentelemetry import trace
from opentelemetry.instrumentation.aiohttp_client import create_trace_config
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.trace import Span, Status, StatusCode
from opentelemetry.util.http import (
    OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST,
    OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_RESPONSE,
    OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS,
    get_custom_headers,
    parse_excluded_urls,
)
from starlette.middleware import Middleware
from strawberry.extensions import LifecycleStep
from strawberry.extensions.tracing import OpenTelemetryExtension
from yarl import URL

from .upstream.endpoints import Endpoint

# Headers whose values never go into a span, whatever an operator asks to capture.
SECRET_HEADERS = ["authorization", "proxy-authorization", "cookie", "set-cookie"]
# Probes and scrapes would be most of the traces, and say nothing about an operation.
UNTRACED_PATHS = "/healthz$,/readyz$,/metrics$"
REST_PREFIX = "/api/rest/v2/"


def configured_provider() -> trace.TracerProvider | None:
    """The tracer provider when one has been set (an SDK's); None when only the API's default
    is there, whose spans record nothing and would cost every request and call anyway."""
    provider = trace.get_tracer_provider()
    if isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider):
        return None
    return provider


def _sanitized() -> list[str]:
    return [*get_custom_headers(OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS),
            *SECRET_HEADERS]


def server_middleware(provider: trace.TracerProvider) -> Middleware:
    """The ASGI instrumentation's server span (standard `http.*` attributes, an error status
    on a 5xx or an exception), the parent of everything the request does."""
    return Middleware(OpenTelemetryMiddleware, tracer_provider=provider,
                      excluded_urls=parse_excluded_urls(UNTRACED_PATHS),
                      http_capture_headers_sanitize_fields=_sanitized(),
                      # one span per ASGI message would outnumber the operation's own
                      exclude_spans=["receive", "send"])


class OperationTracing(OpenTelemetryExtension):
    """Strawberry's spans, with an error status on an operation that ended in errors (its
    code, as the answer says it) and the standard `graphql.operation.*` attributes."""

    def on_operation(self) -> Generator[None, None, None]:
        inner = super().on_operation()
        next(inner)
        try:
            yield
        finally:
            self._describe(self._span_holder[LifecycleStep.OPERATION])
            next(inner, None)  # ends the span

    def _describe(self, span: Span) -> None:
        context = self.execution_context
        if context.operation_name:
            span.set_attribute("graphql.operation.name", context.operation_name)
        if context.graphql_document is not None:
            with contextlib.suppress(RuntimeError):  # no operation by that name
                span.set_attribute("graphql.operation.type", context.operation_type.value)
        errors = getattr(context.result, "errors", None)
        if errors:
            codes = sorted({str((e.extensions or {}).get("code", "INTERNAL")) for e in errors})
            span.set_attribute("graphql.error.codes", codes)
            span.set_status(Status(StatusCode.ERROR, ", ".join(codes)))


def _away_without_query(root: str) -> Any:
    """The URL a span records: a redirect away from the upstream (a signed storage URL, whose
    query is a credential) loses its query."""

    def url_filter(url: URL) -> str:
        text = str(url)
        return text if text.startswith(root) else str(url.with_query(None))

    return url_filter


async def _name_after_endpoint(session: aiohttp.ClientSession, ctx: types.SimpleNamespace,
                               params: aiohttp.TraceRequestStartParams) -> None:
    # The instrumentation names a span after the method alone; the endpoint's path template
    # (the transport passes the endpoint as the request's trace context) is the standard
    # low-cardinality rest of the name.
    endpoint, span = ctx.trace_request_ctx, ctx.span
    if isinstance(endpoint, Endpoint) and span is not None and span.is_recording():
        template = REST_PREFIX + endpoint.path
        span.update_name(f"{params.method} {template}")
        span.set_attribute("url.template", template)
        span.set_attribute("comet.endpoint", endpoint.name)


def client_trace_configs(provider: trace.TracerProvider,
                         upstream_root: str) -> list[aiohttp.TraceConfig]:
    """The upstream sessions' hooks: a client span per attempt (and per redirect hop), with
    the request's `traceparent` injected."""
    config = create_trace_config(
        url_filter=_away_without_query(upstream_root), tracer_provider=provider,
        captured_request_headers=get_custom_headers(
            OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST) or None,
        captured_response_headers=get_custom_headers(
            OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_RESPONSE) or None,
        sensitive_headers=_sanitized())
    config.on_request_start.append(_name_after_endpoint)
    return [config]


def operation_extension(provider: trace.TracerProvider) -> type[OperationTracing]:
    """Strawberry's extension, bound to `provider` (it takes its tracer per operation)."""

    class Bound(OperationTracing):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(tracer_provider=provider, **kwargs)

    return Bound
