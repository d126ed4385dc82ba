"""The application: wiring only. The upstream session lives for the app's lifespan; each
request gets its own client (the caller's key) and loaders (see `view`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable

from opentelemetry.trace import TracerProvider
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from . import collector, dashboard, downloads, tracing
from .auth import MalformedKey, api_key
from .cache_control import PrivateAnswers
from .context import WebsocketOperations
from .graphiql import BUNDLE, STATIC_PATH, bundled
from .hosts import AllowedHosts
from .introspection import IntrospectionAnswers
from .limits import BodyLimit, error_response
from .live import LiveHub
from .live_fleet import Fleet
from .observability import Metrics, OperationMetrics
from .persisted import MAX_QUERY_BYTES, PersistedQueries
from .rate_limits import RateLimit, RateLimits
from .request_ids import RequestIdMiddleware
from .schema import build_schema
from .settings import Settings, address_in
from .upstream import CometClient, Transport, errors
from .upstream.cache import VALUE_SHARE, ResponseCache
from .upstream.memory_cache import MemoryCache
from .upstream.probe import VersionProbe
from .upstream.redis_cache import RedisCache
from .view import GatewayGraphQL
from .websocket import WebSocketKeys, WebSocketsPerClient

log = logging.getLogger("gateway")


def middleware(settings: Settings, metrics: Metrics, rate_limits: RateLimits,
               websocket_keys: WebSocketKeys,
               tracer_provider: TracerProvider | None) -> list[Middleware]:
    """Outermost first: the server span (when traces are exported), request ids, allowed
    hosts, CORS, then the door's limits."""
    stack = [tracing.server_middleware(tracer_provider)] if tracer_provider else []
    stack += [Middleware(RequestIdMiddleware), Middleware(AllowedHosts, policy=settings.hosts())]
    if settings.origins():
        stack.append(Middleware(
            CORSMiddleware, allow_origins=settings.origins(),
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "X-Request-Id"],
            expose_headers=["X-Request-Id", "Retry-After"]))
    stack.append(Middleware(PrivateAnswers,
                            public_prefixes=(STATIC_PATH, dashboard.STATIC_PATH)))
    stack.append(Middleware(WebSocketsPerClient, limit=settings.websockets_per_client,
                            keys=websocket_keys))
    stack.append(Middleware(BodyLimit, max_bytes=settings.max_body_bytes))
    stack.append(Middleware(RateLimit, settings=settings, limits=rate_limits,
                            on_limited=metrics.rate_limited.inc))
    return stack


def response_cache(settings: Settings, metrics: Metrics,
                   clock: Callable[[], float] = time.monotonic) -> ResponseCache | None:
    """The cache of upstream answers, when it is on: in Redis, or in process and watched."""
    if not settings.cache:
        return None
    max_value = settings.cache_max_bytes // VALUE_SHARE
    if settings.redis_url:
        return RedisCache(settings.redis_url, timeout=settings.redis_timeout,
                          max_value_bytes=max_value)
    cache = MemoryCache(settings.cache_max_entries, max_bytes=settings.cache_max_bytes,
                        max_value_bytes=max_value, key_share=settings.cache_key_share,
                        clock=clock)
    metrics.watch_store("responses", cache.usage)
    return cache


def persisted_store(settings: Settings, metrics: Metrics) -> ResponseCache:
    """Where persisted queries are kept: in Redis, or in process and watched."""
    if settings.redis_url:
        return RedisCache(settings.redis_url, timeout=settings.redis_timeout,
                          max_value_bytes=MAX_QUERY_BYTES, write_behind=False,
                          name="redis persisted-query store")
    store = MemoryCache(settings.cache_max_entries, max_bytes=settings.persisted_max_bytes,
                        max_value_bytes=MAX_QUERY_BYTES)
    metrics.watch_store("persisted_queries", store.usage)
    return store


def create_app(settings: Settings | None = None, *,
               clock: Callable[[], float] = time.monotonic) -> Starlette:
    """The gateway as an ASGI app (uvicorn: `gateway.app:create_app`, factory).

    `settings`: from the environment when not given. `clock`: what the in-process cache's
    lifetimes and the keys' recheck read (tests move it instead of sleeping).
    """
    settings = settings or Settings.from_env()
    metrics = Metrics()
    rate_limits = RateLimits(settings)
    # Taken once: without an SDK's provider nothing below traces (see `tracing`).
    tracer_provider = tracing.configured_provider()
    upstream = settings.upstream()
    transport = Transport(upstream, response_cache(settings, metrics, clock),
                          settings.times_to_live(), metrics, clock=clock,
                          key_recheck=settings.cache_key_recheck, meter=rate_limits.meter(),
                          trace_configs=tracing.client_trace_configs(
                              tracer_provider, f"{upstream.root}/")
                          if tracer_provider else (),
                          max_states=settings.cache_max_entries,
                          key_share=settings.cache_key_share)
    introspection = IntrospectionAnswers(rate_limits)
    traced = [tracing.operation_extension(tracer_provider)] if tracer_provider else []
    schema = build_schema(settings.document_limits(),
                          [WebsocketOperations, lambda: OperationMetrics(metrics),
                           introspection.extension(), *traced],
                          settings.max_operations)
    assert schema.documents is not None
    documents = schema.documents
    persisted = PersistedQueries(persisted_store(settings, metrics),
                                 accepts=lambda text: not documents.validate(text))
    live = LiveHub(transport, settings.chart_batch_size,
                   Fleet(settings.redis_url, settings.redis_timeout) if settings.redis_url
                   else None)
    view = GatewayGraphQL(schema, settings, transport, persisted, live, metrics, rate_limits)
    probe = VersionProbe(transport.probe)

    async def check_upstream() -> None:
        """Say once, at start-up, whether the upstream answers as Comet does."""
        where = transport.config.root
        try:
            version = await probe.check()
        except errors.UpstreamError as exc:
            log.warning("the upstream at %s does not answer as Comet does (%s); check "
                        "COMET_GATEWAY_UPSTREAM_URL", where, exc)
        else:
            log.info("the upstream at %s is Comet %s", where, version)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if settings.graphiql and not bundled():
            log.warning("GraphiQL's bundle is not built into this install (an editable "
                        "install of a checkout: run `make graphiql`; wheels and sdists carry "
                        "it); serving GraphiQL from its CDN, which needs internet access")
        if (settings.graphiql or settings.dashboard) and settings.graphiql_api_key:
            # The key itself is never logged; that it is handed out is worth a line at start-up.
            log.warning("GraphiQL and the dashboard give every visitor the key of "
                        "COMET_GATEWAY_GRAPHIQL_API_KEY: for a demo only, never a real key")
        if settings.dashboard and not dashboard.bundled():
            log.warning("the dashboard's bundle is not built into this install (an editable "
                        "install of a checkout: run `make dashboard`; wheels and sdists carry "
                        "it); /dashboard says so")
        if settings.hosts().warning:
            log.warning("%s", settings.hosts().warning)
        await transport.open()
        collector.tune(settings.gc_threshold)
        # In the background: start-up neither waits for the upstream nor fails without it.
        checking = asyncio.ensure_future(check_upstream())
        writing = asyncio.ensure_future(metrics.keep_stores_written())
        try:
            yield
        finally:
            for task in (checking, writing):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await live.close()
            await transport.close()
            await persisted.close()
            await rate_limits.close()

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> JSONResponse:
        try:
            version = await probe.check()  # at most one upstream probe per READY_TTL
        except errors.UpstreamError as exc:
            return JSONResponse({"status": "unavailable", "reason": str(exc)}, status_code=503)
        return JSONResponse({"status": "ready", "upstreamVersion": version})

    scrapers = settings.metrics_networks()

    async def prometheus(request: Request) -> Response:
        # Operation names are the clients' own words: only a scraper on an allowed network
        # (private ones by default) reads them.
        host = (request.client.host if request.client else "") or ""
        if not any(address_in(host, network) for network in scrapers):
            return error_response(404, "FORBIDDEN", "Not found")
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    def client_for(request: Request) -> CometClient:
        return CometClient(transport, api_key(request.headers, settings))

    async def malformed_key(request: Request, exc: Exception) -> Response:
        # A download's key is read by client_for: refused as the download routes refuse.
        return downloads.error_response(401, "UNAUTHENTICATED", str(exc))

    async def internal_error(request: Request, exc: Exception) -> Response:
        # The last resort (outside every middleware, which has run): a GraphQL error with
        # the request id rather than a bare "Internal Server Error". The server logs it.
        request_id = getattr(request.state, "request_id", "-")
        return error_response(500, "INTERNAL", f"Internal error (request id {request_id}).",
                              {"requestId": request_id}, {"X-Request-Id": request_id})

    app = Starlette(
        routes=[Route("/graphql", view, methods=["GET", "POST"]),
                WebSocketRoute("/graphql", view),
                Route("/healthz", healthz), Route("/readyz", readyz),
                *([Route("/metrics", prometheus)] if settings.metrics else []),
                Mount(STATIC_PATH, StaticFiles(directory=BUNDLE, check_dir=False)),
                *(dashboard.routes(settings.graphiql_api_key, dashboard.Bounds.of(settings))
                  if settings.dashboard else []),
                *downloads.routes(client_for, settings.download_stall_timeout)],
        middleware=middleware(settings, metrics, rate_limits, view.websocket_keys,
                              tracer_provider),
        lifespan=lifespan,
        exception_handlers={MalformedKey: malformed_key, Exception: internal_error})
    app.state.settings = settings
    app.state.transport = transport
    app.state.documents = documents
    app.state.introspection = introspection
    return app
