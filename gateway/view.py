"""The GraphQL endpoint: Strawberry's ASGI view, with the gateway's HTTP concerns (content
negotiation, answers in parts, persisted queries, the per-request client and loaders,
websocket keys)."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import AsyncGenerator
from typing import Any

import orjson
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLRequestData
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import SubscribeMessage

from . import request_shape
from .auth import MalformedKey, api_key
from .context import Context
from .graphiql import graphiql_html
from .incremental import PartsResponse, Payloads
from .limits import send_errors
from .live import LiveHub
from .loaders import Loaders
from .negotiation import WHOLE_JSON, Choice, negotiate
from .observability import Metrics
from .persisted import PersistedQueries, PersistedQueryMismatch, PersistedQueryNotFound
from .rate_limits import RateLimits, client_address, retry_after
from .schema import GatewaySchema
from .schema.execution import execution_started, recording_execution
from .schema.parts import PartsChannel
from .settings import Settings
from .upstream import ApiKey, Budget, CometClient, Transport
from .websocket import GuardedWebSocketAdapter, WebSocketKeys, admit

GRAPHQL_RESPONSE = "application/graphql-response+json; charset=utf-8"
# What the request's Accept header asks for, read once per request (see `negotiation`).
_ACCEPTED: contextvars.ContextVar[Choice] = contextvars.ContextVar("accepted",
                                                                   default=WHOLE_JSON)
# The client's address, for what reading a request's query texts costs it (see rate_limits).
_ADDRESS: contextvars.ContextVar[str] = contextvars.ContextVar("client_address", default="?")
# The loaders an HTTP request opened, dropped once it is answered (see `Loaders.close`).
_OPENED: contextvars.ContextVar[list[Loaders] | None] = contextvars.ContextVar(
    "opened_loaders", default=None)


class TextWebSocketAdapter(GuardedWebSocketAdapter):
    """graphql-transport-ws speaks text frames: the guard sends our (orjson) bytes as text, and
    keeps each websocket's deadlines (see `websocket`). A message that is JSON of the wrong
    shape closes the connection with 4400, as one that is not JSON does (strawberry's handler
    would fail on it, or run it and answer INTERNAL)."""

    async def iter_json(self, *, ignore_parsing_errors: bool = False
                        ) -> AsyncGenerator[object, None]:
        async for message in super().iter_json(ignore_parsing_errors=ignore_parsing_errors):
            problem = request_shape.message_problem(message)
            if problem is not None:
                await self.close(4400, problem)
                return
            yield message


class RateLimitedTransportWS(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws, each operation admitted by the rate limits as a request is."""

    view: GatewayGraphQL

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        context = self.context
        if self.connection_acknowledged and isinstance(context, Context):
            wait, why = await self.view.rate_limits.admit(
                client_address(context.request.scope), context.api_key or ApiKey(""))
            if wait > 0:
                seconds = retry_after(wait)
                await self.send_message({"id": message["id"], "type": "error", "payload": [{
                    "message": f"{why}; retry in {seconds}s",
                    "extensions": {"code": "RATE_LIMITED", "retryAfter": seconds}}]})
                return
            self.view.charge_reading(client_address(context.request.scope),
                                     message["payload"]["query"])
        await super().handle_subscribe(message)


class InParts(Exception):
    """Raised out of Strawberry's `run` (caught in `__call__`): the operation answers in
    parts, sent by `response`; it lasts until they are out (`operation` is its task)."""

    def __init__(self, payloads: Payloads, operation: asyncio.Future[Any],
                 headers: list[tuple[bytes, bytes]]) -> None:
        super().__init__("answered in parts")
        self.payloads, self.operation, self.headers = payloads, operation, headers

    def response(self, stall_timeout: float | None = None) -> PartsResponse:
        return PartsResponse(self.payloads, self.headers, self._ended, stall_timeout)

    async def _ended(self, delivered: bool) -> None:
        if not delivered:  # the client went away: the calls still loading are for nobody
            for loaders in _OPENED.get() or ():
                loaders.cancel()
        # The operation's extensions (error codes, metrics, traces) end now, with every part.
        await asyncio.wait((self.operation,))
        if not self.operation.cancelled() and self.operation.exception() is not None:
            raise self.operation.exception()  # type: ignore[misc]


class GatewayGraphQL(GraphQL[Context, None]):
    websocket_adapter_class = TextWebSocketAdapter
    graphql_transport_ws_handler_class = RateLimitedTransportWS

    def __init__(self, schema: GatewaySchema, settings: Settings, transport: Transport,
                 persisted: PersistedQueries, live: LiveHub, metrics: Metrics,
                 rate_limits: RateLimits) -> None:
        # Only graphql-transport-ws: strawberry's handler of the legacy `graphql-ws` runs
        # subscriptions alone (a query there fails) and trusts every message's shape. A
        # client asking for it alone is accepted and closed at once with 4406 "Subprotocol
        # not acceptable", as the graphql-ws library's own server does.
        super().__init__(schema, graphql_ide="graphiql" if settings.graphiql else None,
                         subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,))
        self.rate_limits = rate_limits
        self.websocket_keys = WebSocketKeys(settings.websockets_per_key)
        self.metrics = metrics
        self.settings = settings
        self.transport = transport
        self.persisted = persisted
        self.live = live

    def encode_json(self, data: object) -> bytes:
        # orjson: several times faster than json on the large answers dashboards ask for.
        return orjson.dumps(data)

    def decode_json(self, data: str | bytes) -> object:
        # orjson: its JSONDecodeError is json's, which websocket frames are refused on (4400).
        return orjson.loads(data)

    def parse_json(self, data: str | bytes) -> Any:
        """A POST body: one operation or a batch, each field of its type, or a 400."""
        return request_shape.check_body(request_shape.decode(data, "The request body"))

    def parse_query_params(self, params: Any) -> dict[str, Any]:
        """A GET's operation: `variables` and `extensions` are JSON text (empty: absent)."""
        data: dict[str, Any] = dict(params)
        for name in ("variables", "extensions"):
            if name in data:
                data[name] = (request_shape.decode(data[name], f"The `{name}` parameter")
                              if data[name] else None)
        return request_shape.check_operation(data)

    def charge_reading(self, address: str, text: str | None) -> None:
        """What reading a query text the gateway has not read before costs `address`."""
        documents = getattr(self.schema, "documents", None)
        # A text over the length allowed is refused before it is read: it costs nothing.
        if (text and documents is not None and len(text) <= documents.limits.max_length
                and not documents.known(text)):
            self.rate_limits.charge_reading(address, text)

    def should_render_graphql_ide(self, request: Any) -> bool:
        # A hashed persisted query comes as a GET without `query`: it is not a browser.
        return bool(super().should_render_graphql_ide(request)
                    and request.query_params.get("extensions") is None)

    async def parse_http_body(self, request: Any) -> GraphQLRequestData | list[
            GraphQLRequestData]:
        parsed = await super().parse_http_body(request)
        items = parsed if isinstance(parsed, list) else [parsed]
        for item in items:  # before any is read (a persisted query is read to be kept)
            self.charge_reading(_ADDRESS.get(), item.query)
        resolved = [await self.persisted.resolve(item) for item in items]
        return resolved if isinstance(parsed, list) else resolved[0]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            try:
                api_key(Headers(scope=scope), self.settings)
            except MalformedKey:  # refused before the handshake completes: HTTP 403
                await self.reject_websocket(WebSocket(scope, receive, send))
                return
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive)
        token = _ACCEPTED.set(negotiate(request.headers.get("accept")))
        address = _ADDRESS.set(client_address(scope))
        opened = _OPENED.set([])
        try:
            response = await self._answer(request, send)
            if isinstance(response, PartsResponse):  # its loaders serve until its last part
                await response(scope, receive, send)
                return
        finally:
            for loaders in _OPENED.get() or ():
                loaders.close()
            _OPENED.reset(opened)
            _ACCEPTED.reset(token)
            _ADDRESS.reset(address)
        if response is not None:  # a whole answer: its loaders went first (see Loaders.close)
            await response(scope, receive, send)

    async def _answer(self, request: Request, send: Send) -> Response | PartsResponse | None:
        """The answer to send, or None once a refusal was sent."""
        try:
            with recording_execution():
                return await self.run(request)
        except InParts as parts:
            return parts.response(self.settings.download_stall_timeout)
        except MalformedKey as exc:
            await send_errors(send, 401, exc.code, str(exc))
        except PersistedQueryNotFound:  # Apollo's clients retry with the query on this
            await send_errors(send, 200, "PERSISTED_QUERY_NOT_FOUND", "PersistedQueryNotFound")
        except PersistedQueryMismatch as exc:
            await send_errors(send, 400, "BAD_USER_INPUT", str(exc))
        except Exception as exc:  # strawberry's refusals and ours, as GraphQL errors
            refused = request_shape.refusal(exc)
            if refused is None:
                raise
            await send_errors(send, refused.status_code, "BAD_USER_INPUT", refused.reason)
        return None

    def create_response(self, response_data: Any, sub_response: Response) -> Response:
        """GraphQL over HTTP: `application/graphql-response+json` when the client accepts it.
        Then an operation that reached execution is a 2xx with `data` (null, maybe), whatever
        its errors; one refused before (parse, validation, variable coercion) is a request
        error: a 400 without `data` (a 500 if the gateway itself failed)."""
        if not _ACCEPTED.get().graphql_response:
            return super().create_response(response_data, sub_response)
        status = 200
        if isinstance(response_data, dict) and not execution_started():
            codes = {(e.get("extensions") or {}).get("code")
                     for e in response_data.get("errors") or ()}
            response_data = {k: v for k, v in response_data.items() if k != "data"}
            status = 500 if "INTERNAL" in codes else 400
        response = super().create_response(response_data, sub_response)
        response.headers["content-type"] = GRAPHQL_RESPONSE
        if sub_response.status_code is None:
            response.status_code = status
        return response

    async def get_context(self, request: Request | WebSocket,
                          response: Response | WebSocket) -> Context:
        key = api_key(request.headers, self.settings)
        client, loaders = self._open_client(key)
        return Context(client=client, loaders=loaders, settings=self.settings,
                       request_id=getattr(request.state, "request_id", "-"),
                       base_url=self.settings.public_url or str(request.base_url),
                       request=request, response=response, api_key=key, live=self.live,
                       open_client=self._open_client)

    async def execute_operation(self, request: Request, request_adapter: Any,
                                request_data: GraphQLRequestData | list[GraphQLRequestData],
                                context: Context, root_value: Any, sub_response: Response
                                ) -> Any:
        # An answer may come in parts when its client reads them and it is alone in its
        # request (a batch's answer is one JSON array); a text without `defer` (`@ defer` is
        # valid GraphQL too) defers nothing.
        if (not isinstance(request_data, list) and "defer" in (request_data.query or "")
                and _ACCEPTED.get().parts is not None):
            context.parts = PartsChannel()
        return await super().execute_operation(request, request_adapter, request_data,
                                               context, root_value, sub_response)

    async def execute_single(self, request: Request, request_adapter: Any,
                             sub_response: Response, context: Context, root_value: Any,
                             request_data: GraphQLRequestData) -> Any:
        """The operation's whole answer, or `InParts` once it hands its first part over (it
        runs on, in a task of its own, until its last part is out)."""
        channel = context.parts
        if channel is None:
            return await super().execute_single(request, request_adapter, sub_response,
                                                context, root_value, request_data)
        operation = asyncio.ensure_future(super().execute_single(
            request, request_adapter, sub_response, context, root_value, request_data))
        try:
            parts = await channel.parts_or_none(operation)
        except BaseException:
            operation.cancel()
            raise
        if parts is None:
            return operation.result()
        answer_format = _ACCEPTED.get().parts
        assert answer_format is not None  # a channel is opened for such a client only
        raise InParts(Payloads(parts, answer_format), operation, sub_response.raw_headers)

    def _open_client(self, key: ApiKey) -> tuple[CometClient, Loaders]:
        """A client for one operation (its deadline, its budget, metered against the key's
        rate limit) and its loaders."""
        deadline = asyncio.get_running_loop().time() + self.settings.operation_deadline
        budget = Budget(self.settings.upstream_budget, self.settings.max_full_series_bytes)
        client = CometClient(self.transport, key, deadline=deadline, budget=budget)
        loaders = Loaders(client, self.settings.chart_batch_size, self.metrics.batch)
        opened = _OPENED.get()
        if opened is not None:  # an HTTP request's: closed once it is answered
            opened.append(loaders)
        return client, loaders

    async def on_ws_connect(self, context: Context) -> Any:
        """The key comes in the upgrade's Authorization header or, since browsers cannot set
        headers on a websocket, in connection_init's payload; the upstream must accept it."""
        params = context.connection_params or {}
        raw = params.get("Authorization") or params.get("authorization")
        if raw is not None and not (context.api_key and context.api_key.reveal()):
            try:
                context.api_key = api_key({"authorization": raw}, self.settings)
            except MalformedKey:  # no usable key: closed with 4401 below, not sent upstream
                context.api_key = None
        await admit(context.api_key, context.request, self.transport, self.settings,
                    self.websocket_keys)
        return await super().on_ws_connect(context)

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        return HTMLResponse(graphiql_html(self.settings.graphiql_api_key))
