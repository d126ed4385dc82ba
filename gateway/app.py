"""The application: wiring only. The upstream session lives for the app's lifespan; each
request gets its own client (the caller's key) and loaders (see `view`)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from . import downloads
from .auth import api_key
from .cache_control import PrivateAnswers
from .graphiql import BUNDLE, STATIC_PATH, bundled
from .limits import BodyLimit, RateLimit
from .live import LiveHub
from .observability import Metrics
from .persisted import PersistedQueries
from .request_ids import RequestIdMiddleware
from .settings import Settings
from .upstream import CometClient, Transport, errors
from .upstream.cache import MemoryCache, RedisCache, ResponseCache
from .view import GatewayGraphQL
from .websocket import WebSocketsPerClient

log = logging.getLogger("gateway")


def middleware(settings: Settings, metrics: Metrics) -> list[Middleware]:
    """Outermost first: request ids, CORS, then the door's limits."""
    stack = [Middleware(RequestIdMiddleware)]
    if settings.origins():
        stack.append(Middleware(
            CORSMiddleware, allow_origins=settings.origins(),
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "X-Request-Id"],
            expose_headers=["X-Request-Id", "Retry-After"]))
    stack.append(Middleware(PrivateAnswers, public_prefixes=(STATIC_PATH,)))
    stack.append(Middleware(WebSocketsPerClient, limit=settings.websockets_per_client))
    stack.append(Middleware(BodyLimit, max_bytes=settings.max_body_bytes))
    stack.append(Middleware(RateLimit, settings=settings, paths=("/graphql", "/download"),
                            on_limited=metrics.rate_limited.inc))
    return stack


def create_app(settings: Settings | None = None) -> Starlette:
    """The gateway as an ASGI app (uvicorn: `gateway.app:create_app`, factory)."""
    settings = settings or Settings.from_env()
    cache: ResponseCache | None = None
    if settings.cache:
        cache = (RedisCache(settings.redis_url) if settings.redis_url
                 else MemoryCache(settings.cache_max_entries))
    metrics = Metrics()
    transport = Transport(settings.upstream(), cache, settings.ttls(), metrics)
    persisted = PersistedQueries(RedisCache(settings.redis_url) if settings.redis_url
                                 else MemoryCache(settings.cache_max_entries))
    live = LiveHub(transport, settings.chart_batch_size)
    view = GatewayGraphQL(settings, transport, persisted, live, metrics)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if settings.graphiql and not bundled():
            log.warning("GraphiQL's bundle is not built (run `make`); serving GraphiQL from "
                        "its CDN, which needs internet access")
        await transport.open()
        try:
            yield
        finally:
            await live.close()
            await transport.close()
            await persisted.close()

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> JSONResponse:
        try:
            version = await transport.probe()
        except errors.UpstreamError as exc:
            return JSONResponse({"status": "unavailable", "reason": str(exc)}, status_code=503)
        return JSONResponse({"status": "ready", "upstreamVersion": version})

    async def prometheus(request: Request) -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    def client_for(request: Request) -> CometClient:
        return CometClient(transport, api_key(request.headers, settings))

    app = Starlette(
        routes=[Route("/graphql", view, methods=["GET", "POST"]),
                WebSocketRoute("/graphql", view),
                Route("/healthz", healthz), Route("/readyz", readyz),
                *([Route("/metrics", prometheus)] if settings.metrics else []),
                Mount(STATIC_PATH, StaticFiles(directory=BUNDLE, check_dir=False)),
                *downloads.routes(client_for)],
        middleware=middleware(settings, metrics), lifespan=lifespan)
    app.state.settings = settings
    app.state.transport = transport
    return app
