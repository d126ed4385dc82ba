"""The application: wiring only. The upstream session lives for the app's lifespan; each
request gets its own client (the caller's key) and loaders."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

from cross_web import HTTPException  # what strawberry's views raise for HTTP-level refusals
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from . import downloads
from .context import Context
from .graphiql import graphiql_html
from .limits import BodyLimit, RateLimit, schema_limits, send_errors
from .loaders import Loaders
from .schema import build_schema
from .settings import Settings
from .upstream import ApiKey, Budget, CometClient, Transport, errors
from .upstream.cache import MemoryCache, RedisCache, ResponseCache

log = logging.getLogger("gateway")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def api_key(headers: Any, settings: Settings) -> ApiKey:
    """The caller's key, as Comet takes it (`Authorization: <key>`; a `Bearer ` is dropped)."""
    raw = (headers.get("authorization") or "").strip()
    if raw.lower().startswith("bearer "):
        raw = raw[7:].strip()
    if not raw and settings.use_env_api_key and settings.env_api_key:
        raw = settings.env_api_key
    return ApiKey(raw)


class RequestIdMiddleware:
    """Every request gets an id (the caller's `X-Request-Id` when sane), echoed back."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if REQUEST_ID.match(given) else uuid.uuid4().hex[:16]
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"],
                                      (b"x-request-id", request_id.encode())]
            await send(message)

        await self.app(scope, receive, send_with_id)


class GatewayGraphQL(GraphQL[Context, None]):
    def __init__(self, settings: Settings, transport: Transport) -> None:
        super().__init__(build_schema(schema_limits(settings), settings.max_operations),
                         graphql_ide="graphiql" if settings.graphiql else None)
        self.settings = settings
        self.transport = transport

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        try:
            response = await self.run(Request(scope, receive))
        except HTTPException as exc:  # strawberry's own refusals, as GraphQL errors
            await send_errors(send, exc.status_code, "BAD_USER_INPUT", exc.reason)
            return
        await response(scope, receive, send)

    async def get_context(self, request: Request | WebSocket,
                          response: Response | WebSocket) -> Context:
        deadline = asyncio.get_running_loop().time() + self.settings.operation_deadline
        client = CometClient(self.transport, api_key(request.headers, self.settings),
                             deadline=deadline, budget=Budget(self.settings.upstream_budget))
        return Context(client=client, loaders=Loaders(client, self.settings.chart_batch_size),
                       settings=self.settings,
                       request_id=getattr(request.state, "request_id", "-"),
                       base_url=self.settings.public_url or str(request.base_url),
                       request=request, response=response)

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        return HTMLResponse(graphiql_html(self.settings.graphiql_api_key))


def middleware(settings: Settings) -> list[Middleware]:
    """Outermost first: request ids, CORS, then the door's limits."""
    stack = [Middleware(RequestIdMiddleware)]
    if settings.origins():
        stack.append(Middleware(
            CORSMiddleware, allow_origins=settings.origins(),
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "X-Request-Id"],
            expose_headers=["X-Request-Id", "Retry-After"]))
    stack.append(Middleware(BodyLimit, max_bytes=settings.max_body_bytes))
    stack.append(Middleware(RateLimit, settings=settings, paths=("/graphql", "/download")))
    return stack


def create_app(settings: Settings | None = None) -> Starlette:
    """The gateway as an ASGI app (uvicorn: `gateway.app:create_app`, factory)."""
    settings = settings or Settings.from_env()
    cache: ResponseCache | None = None
    if settings.cache:
        cache = (RedisCache(settings.redis_url) if settings.redis_url
                 else MemoryCache(settings.cache_max_entries))
    transport = Transport(settings.upstream(), cache, settings.ttls())
    view = GatewayGraphQL(settings, transport)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await transport.open()
        try:
            yield
        finally:
            await transport.close()

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> JSONResponse:
        try:
            version = await transport.probe()
        except errors.UpstreamError as exc:
            return JSONResponse({"status": "unavailable", "reason": str(exc)}, status_code=503)
        return JSONResponse({"status": "ready", "upstreamVersion": version})

    def client_for(request: Request) -> CometClient:
        return CometClient(transport, api_key(request.headers, settings))

    app = Starlette(
        routes=[Route("/graphql", view, methods=["GET", "POST"]),
                WebSocketRoute("/graphql", view),
                Route("/healthz", healthz), Route("/readyz", readyz),
                *downloads.routes(client_for)],
        middleware=middleware(settings), lifespan=lifespan)
    app.state.settings = settings
    app.state.transport = transport
    return app
