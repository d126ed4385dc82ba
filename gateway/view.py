"""The GraphQL endpoint: Strawberry's ASGI view, with the gateway's HTTP concerns (content
negotiation, persisted queries, the per-request client and loaders, websocket keys)."""

from __future__ import annotations

import asyncio
import contextvars
import functools
from typing import Any

import orjson
from cross_web import HTTPException  # what strawberry's views raise for HTTP-level refusals
from graphql import GraphQLError, OperationDefinitionNode, OperationType, parse
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLRequestData

from .auth import api_key
from .context import Context
from .graphiql import graphiql_html
from .limits import schema_limits, send_errors
from .live import LiveHub
from .loaders import Loaders
from .observability import Metrics, OperationMetrics
from .persisted import PersistedQueries, PersistedQueryMismatch, PersistedQueryNotFound
from .schema import build_schema
from .settings import Settings
from .upstream import ApiKey, Budget, CometClient, Transport
from .websocket import GuardedWebSocketAdapter, KeyChecks, admit

GRAPHQL_RESPONSE = "application/graphql-response+json; charset=utf-8"
_WANTS_GRAPHQL_RESPONSE: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "wants_graphql_response", default=False)


def wants_graphql_response(headers: Any) -> bool:
    """Whether the Accept header takes `application/graphql-response+json` (q > 0)."""
    for part in (headers.get("accept") or "").split(","):
        media, *options = (p.strip() for p in part.split(";"))
        if media.lower() == "application/graphql-response+json":
            return not any(o.replace(" ", "") in ("q=0", "q=0.0") for o in options)
    return False


def is_subscription(data: GraphQLRequestData) -> bool:
    """Whether the operation that would run is a subscription (which HTTP cannot carry)."""
    try:
        document = parse(data.query or "")
    except GraphQLError:
        return False  # the executor reports the syntax error
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [o for o in operations if data.operation_name is None
              or (o.name and o.name.value == data.operation_name)]
    return any(o.operation == OperationType.SUBSCRIPTION for o in chosen[:1])


class TextWebSocketAdapter(GuardedWebSocketAdapter):
    """graphql-transport-ws speaks text frames: the guard sends our (orjson) bytes as text, and
    keeps each websocket's deadlines (see `websocket`)."""


class GatewayGraphQL(GraphQL[Context, None]):
    websocket_adapter_class = TextWebSocketAdapter
    def __init__(self, settings: Settings, transport: Transport,
                 persisted: PersistedQueries, live: LiveHub, metrics: Metrics) -> None:
        extensions = [*schema_limits(settings), lambda: OperationMetrics(metrics)]
        super().__init__(build_schema(extensions, settings.max_operations),
                         graphql_ide="graphiql" if settings.graphiql else None)
        self.metrics = metrics
        self.settings = settings
        self.transport = transport
        self.persisted = persisted
        self.live = live

    def encode_json(self, data: object) -> bytes:
        # orjson: several times faster than json on the large answers dashboards ask for.
        return orjson.dumps(data)

    def should_render_graphql_ide(self, request: Any) -> bool:
        # A hashed persisted query comes as a GET without `query`: it is not a browser.
        return bool(super().should_render_graphql_ide(request)
                    and request.query_params.get("extensions") is None)

    async def parse_http_body(self, request: Any) -> GraphQLRequestData | list[
            GraphQLRequestData]:
        parsed = await super().parse_http_body(request)
        items = parsed if isinstance(parsed, list) else [parsed]
        resolved = [await self.persisted.resolve(item) for item in items]
        for item in resolved:
            if item.query and "subscription" in item.query and is_subscription(item):
                raise HTTPException(400, "subscriptions run over a websocket "
                                         "(graphql-transport-ws) at /graphql")
        return resolved if isinstance(parsed, list) else resolved[0]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive)
        token = _WANTS_GRAPHQL_RESPONSE.set(wants_graphql_response(request.headers))
        try:
            response = await self.run(request)
        except HTTPException as exc:  # strawberry's own refusals, as GraphQL errors
            await send_errors(send, exc.status_code, "BAD_USER_INPUT", exc.reason)
            return
        except PersistedQueryNotFound:  # Apollo's clients retry with the query on this
            await send_errors(send, 200, "PERSISTED_QUERY_NOT_FOUND", "PersistedQueryNotFound")
            return
        except PersistedQueryMismatch as exc:
            await send_errors(send, 400, "BAD_USER_INPUT", str(exc))
            return
        finally:
            _WANTS_GRAPHQL_RESPONSE.reset(token)
        await response(scope, receive, send)

    def create_response(self, response_data: Any, sub_response: Response) -> Response:
        """GraphQL over HTTP: `application/graphql-response+json` when the client accepts it,
        and then a request that never reached execution is a 400 without `data`."""
        if not _WANTS_GRAPHQL_RESPONSE.get():
            return super().create_response(response_data, sub_response)
        status = 200
        if isinstance(response_data, dict) and response_data.get("data") is None \
                and response_data.get("errors"):
            response_data = {k: v for k, v in response_data.items() if k != "data"}
            status = 400
        response = super().create_response(response_data, sub_response)
        response.headers["content-type"] = GRAPHQL_RESPONSE
        if sub_response.status_code is None:
            response.status_code = status
        return response

    async def get_context(self, request: Request | WebSocket,
                          response: Response | WebSocket) -> Context:
        key = api_key(request.headers, self.settings)
        client = self._client(key, request)
        return Context(client=client, loaders=self._loaders(client),
                       settings=self.settings,
                       request_id=getattr(request.state, "request_id", "-"),
                       base_url=self.settings.public_url or str(request.base_url),
                       request=request, response=response, api_key=key, live=self.live)

    def _loaders(self, client: CometClient) -> Loaders:
        return Loaders(client, self.settings.chart_batch_size, self.metrics.batch)

    def _client(self, key: ApiKey, request: Request | WebSocket) -> CometClient:
        # Over a websocket the connection lasts; the deadline is per HTTP operation only.
        deadline = None if isinstance(request, WebSocket) else (
            asyncio.get_running_loop().time() + self.settings.operation_deadline)
        return CometClient(self.transport, key, deadline=deadline,
                           budget=Budget(self.settings.upstream_budget))

    async def on_ws_connect(self, context: Context) -> Any:
        """The key comes in the upgrade's Authorization header or, since browsers cannot set
        headers on a websocket, in connection_init's payload; the upstream must accept it."""
        params = context.connection_params or {}
        raw = params.get("Authorization") or params.get("authorization")
        if isinstance(raw, str) and raw.strip() and not (context.api_key and
                                                         context.api_key.reveal()):
            key = api_key({"authorization": raw}, self.settings)
            context.api_key = key
            context.client = self._client(key, context.request)
            context.loaders = self._loaders(context.client)
        await admit(context.api_key, context.request, self.key_checks, self.settings)
        return await super().on_ws_connect(context)

    @functools.cached_property
    def key_checks(self) -> KeyChecks:
        """The verdicts on websocket keys, made on the first websocket."""
        return KeyChecks(self.transport)

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        return HTMLResponse(graphiql_html(self.settings.graphiql_api_key))
