"""The application: wiring only. The upstream session lives for the app's lifespan; each
request gets its own client (the caller's key) and loaders."""

from __future__ import annotations

import contextlib
import logging
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from . import downloads
from .context import Context
from .graphiql import graphiql_html
from .loaders import Loaders
from .schema import schema
from .settings import Settings
from .upstream import ApiKey, CometClient, Transport, errors

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
        super().__init__(schema, graphql_ide="graphiql" if settings.graphiql else None)
        self.settings = settings
        self.transport = transport

    async def get_context(self, request: Request | WebSocket,
                          response: Response | WebSocket) -> Context:
        client = CometClient(self.transport, api_key(request.headers, self.settings))
        return Context(client=client, loaders=Loaders(client, self.settings.chart_batch_size),
                       settings=self.settings,
                       request_id=getattr(request.state, "request_id", "-"),
                       base_url=self.settings.public_url or str(request.base_url),
                       request=request, response=response)

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        return HTMLResponse(graphiql_html(self.settings.graphiql_api_key))


def create_app(settings: Settings | None = None) -> Starlette:
    """The gateway as an ASGI app (uvicorn: `gateway.app:create_app`, factory)."""
    settings = settings or Settings.from_env()
    transport = Transport(settings.upstream())
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
        middleware=[Middleware(RequestIdMiddleware)], lifespan=lifespan)
    app.state.settings = settings
    app.state.transport = transport
    return app
