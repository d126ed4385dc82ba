"""What every resolver gets: the request's client, its loaders, the settings, a request id."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.websockets import WebSocket
from strawberry.extensions import SchemaExtension
from strawberry.types import Info as _Info

from .live import LiveHub
from .loaders import Loaders
from .settings import Settings
from .upstream import ApiKey, CometClient

if TYPE_CHECKING:  # the schema's modules import this one
    from .schema.parts import PartsChannel


@dataclass
class Context:
    client: CometClient
    loaders: Loaders
    settings: Settings
    request_id: str
    base_url: str  # the gateway's own URL, for the download links it hands out
    request: Any = None
    response: Any = None
    api_key: ApiKey | None = None
    live: LiveHub | None = None
    connection_params: dict[str, Any] | None = None  # graphql-ws's connection_init payload
    # A fresh client and loaders for a key: each operation over a websocket gets its own.
    open_client: Callable[[ApiKey], tuple[CometClient, Loaders]] | None = None
    # Points of fetched series read by this operation's series views (`schema.resolution`),
    # bounded by `settings.max_series_points` as its client's budget bounds its calls.
    series_points: int = 0
    # Where the answer goes when it may come in parts (`@defer`; see `schema.parts`): an HTTP
    # operation alone in its request, from a client that reads multipart/mixed.
    parts: PartsChannel | None = None

    def renew(self) -> None:
        """A fresh client and loaders, in place: for the next event of a subscription, which
        is an operation of its own as far as budget, deadline and freshness go."""
        if self.open_client is not None:
            self.loaders.close()
            self.client, self.loaders = self.open_client(self.api_key or ApiKey(""))
        self.series_points = 0  # the series views' budget is each event's, as the calls' are

    def for_operation(self) -> Context:
        """This context with a client (budget, deadline) and loaders of the operation's own."""
        if self.open_client is None:
            return self
        client, loaders = self.open_client(self.api_key or ApiKey(""))
        return dataclasses.replace(self, client=client, loaders=loaders, series_points=0)

    @property
    def over_websocket(self) -> bool:
        """Whether the operation came over a websocket (subscriptions may only)."""
        return isinstance(self.request, WebSocket)

    def link(self, path: str, *segments: str, **params: str | None) -> str:
        """An absolute URL of one of the gateway's own routes: `path`, then each of `segments`
        percent-encoded as one path segment, then `params` as the query."""
        from urllib.parse import quote, urlencode

        path += "".join(f"/{quote(s, safe='')}" for s in segments)
        query = urlencode({k: v for k, v in params.items() if v is not None})
        return f"{self.base_url.rstrip('/')}{path}" + (f"?{query}" if query else "")


Info = _Info[Context, None]


class WebsocketOperations(SchemaExtension):
    """Each operation over a websocket runs with its own client and loaders: its own budget,
    deadline and batches, as an HTTP request has, not the connection's."""

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context.context
        if isinstance(context, Context) and context.over_websocket:
            self.execution_context.context = own = context.for_operation()
            try:
                yield
            finally:
                own.loaders.close()
            return
        yield
