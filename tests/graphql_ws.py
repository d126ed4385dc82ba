"""A graphql-transport-ws client connection for the tests: opened and acknowledged."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

from websockets.sync.client import ClientConnection, connect


@contextlib.contextmanager
def acked(url: str, key: str | None) -> Iterator[ClientConnection]:
    """A connection to the gateway at `url` (its http URL), `connection_init` sent with `key`
    (none: no Authorization) and acknowledged."""
    ws_url = url.replace("http", "ws", 1) + "/graphql"
    with connect(ws_url, subprotocols=["graphql-transport-ws"], open_timeout=10) as ws:
        ws.send(json.dumps({"type": "connection_init",
                            "payload": {"Authorization": key} if key else {}}))
        assert json.loads(ws.recv(timeout=10))["type"] == "connection_ack"
        yield ws


def subscribe(ws: ClientConnection, query: str, variables: dict[str, Any] | None = None,
              operation_id: str = "1", **payload: Any) -> None:
    ws.send(json.dumps({"id": operation_id, "type": "subscribe", "payload": {
        "query": query, "variables": variables or {}, **payload}}))
