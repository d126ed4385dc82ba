"""The door's limits: body size and request rate (the query's own limits are in `documents`).

Each is checked before any upstream call and answered as GraphQL answers errors
(`{"errors": [{"message", "extensions": {"code"}}]}`), with the HTTP status that fits.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .settings import Settings
from .upstream import ApiKey


async def send_errors(send: Send, status: int, code: str, message: str,
                      headers: dict[str, str] | None = None,
                      extensions: dict[str, Any] | None = None) -> None:
    body = json.dumps({"errors": [{"message": message, "extensions": {
        "code": code, **(extensions or {})}}]}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """Refuse bodies over `max_bytes` (413), by Content-Length or while reading."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length", b"").decode("latin-1")
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


class TokenBuckets:
    """A token bucket per API key: `rate` requests a second, `burst` at once."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = 100_000) -> None:
        self.rate, self.burst, self._clock, self._max_keys = rate, burst, clock, max_keys
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, who: str) -> float:
        """0 when the request may go now; else the seconds until it may."""
        now = self._clock()
        tokens, last = self._buckets.get(who, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        if tokens >= 1:
            self._buckets[who] = (tokens - 1, now)
            wait = 0.0
        else:
            self._buckets[who] = (tokens, now)
            wait = (1 - tokens) / self.rate
        if len(self._buckets) > self._max_keys:  # forget the idlest half
            for key in sorted(self._buckets, key=lambda k: self._buckets[k][1])[
                    : self._max_keys // 2]:
                del self._buckets[key]
        return wait


class RateLimit:
    """Answer 429 with `Retry-After` and RATE_LIMITED once a key's bucket is empty."""

    def __init__(self, app: ASGIApp, settings: Settings, paths: tuple[str, ...],
                 on_limited: Callable[[], None] | None = None) -> None:
        self.app = app
        self.on_limited = on_limited
        self.settings = settings
        self.paths = paths
        self.buckets = TokenBuckets(settings.rate_limit_per_second, settings.rate_limit_burst)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or not self.settings.rate_limit_per_second
                or not scope["path"].startswith(self.paths)):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        raw = headers.get(b"authorization", b"").decode("latin-1").strip()
        client = scope.get("client") or ("?", 0)
        who = ApiKey(raw).fingerprint if raw else f"addr:{client[0]}"
        wait = self.buckets.take(who)
        if wait > 0:
            if self.on_limited is not None:
                self.on_limited()
            seconds = max(1, int(wait + 0.999))
            await send_errors(send, 429, "RATE_LIMITED",
                              f"too many requests for this API key; retry in {seconds}s",
                              headers={"Retry-After": str(seconds)},
                              extensions={"retryAfter": seconds})
            return
        await self.app(scope, receive, send)
