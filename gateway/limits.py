"""The door's limits: the body's size (the rate is in `rate_limits`, the query's own limits
are in `documents`).

Each is checked before any upstream call and answered as GraphQL answers errors
(`{"errors": [{"message", "extensions": {"code"}}]}`), with the HTTP status that fits.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def error_body(code: str, message: str, extensions: dict[str, Any] | None = None) -> bytes:
    """A GraphQL answer holding one error and its code: what every refusal made outside the
    GraphQL executor sends."""
    return json.dumps({"errors": [{"message": message, "extensions": {
        "code": code, **(extensions or {})}}]}).encode()


def error_response(status: int, code: str, message: str,
                   extensions: dict[str, Any] | None = None,
                   headers: dict[str, str] | None = None) -> Response:
    """`error_body` as a Starlette response (for route handlers)."""
    return Response(error_body(code, message, extensions), status_code=status,
                    media_type="application/json", headers=headers)


async def send_errors(send: Send, status: int, code: str, message: str,
                      headers: dict[str, str] | None = None,
                      extensions: dict[str, Any] | None = None,
                      scope: Scope | None = None) -> None:
    """A refusal as GraphQL answers errors, with `status`. For a websocket's handshake (`scope`
    says so) the same HTTP answer where the server can send one, else a bare 403."""
    prefix = ""
    if scope is not None and scope["type"] == "websocket":
        if "websocket.http.response" not in scope.get("extensions", {}):
            await send({"type": "websocket.close", "code": 1008})  # HTTP 403, no reason
            return
        prefix = "websocket."
    body = error_body(code, message, extensions)
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": f"{prefix}http.response.start", "status": status, "headers": raw})
    await send({"type": f"{prefix}http.response.body", "body": body})


class BodyLimit:
    """Refuse bodies over `max_bytes` (413), by Content-Length or while reading."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        message = f"request body larger than {self.max_bytes} bytes"
        if declared.isdigit() and int(declared) > self.max_bytes:
            await send_errors(send, 413, "BAD_USER_INPUT", message)
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            event = await receive()
            if event["type"] == "http.request":
                seen += len(event.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge
            return event

        async def tracked_send(event: Message) -> None:
            nonlocal started
            started = started or event["type"] == "http.response.start"
            await send(event)

        try:
            await self.app(scope, counted, tracked_send)
        except _TooLarge:
            if not started:
                await send_errors(send, 413, "BAD_USER_INPUT", message)


class _TooLarge(Exception):
    pass
