"""What every resolver gets: the request's client, its loaders, the settings, a request id."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from strawberry.types import Info as _Info

from .live import LiveHub
from .loaders import Loaders
from .settings import Settings
from .upstream import ApiKey, CometClient


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

    def link(self, path: str, *segments: str, **params: str | None) -> str:
        """An absolute URL of one of the gateway's own routes: `path`, then each of `segments`
        percent-encoded as one path segment, then `params` as the query."""
        from urllib.parse import quote, urlencode

        path += "".join(f"/{quote(s, safe='')}" for s in segments)
        query = urlencode({k: v for k, v in params.items() if v is not None})
        return f"{self.base_url.rstrip('/')}{path}" + (f"?{query}" if query else "")


Info = _Info[Context, None]
