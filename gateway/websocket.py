"""What a websocket at /graphql may hold: a key the upstream accepts, a few per client, and no
time without purpose.

- `connection_init` must bring a key (or the upgrade's `Authorization` header must): none, or a
  malformed one, closes the websocket at once with 4401; a key Comet has not accepted within
  the last minute is checked upstream (`account-details`, a call concurrent checks share), and
  a key the upstream refuses closes it with 4401 (or 4403). An upstream that cannot answer closes
  it with 1013, "try again later".
- A websocket not acknowledged within the init timeout is closed (4408), and one with no
  operation running and no message from its client within the idle timeout is closed (1001).
- A client address holds at most `websockets_per_client` websockets; past it, the handshake is
  answered 429. An API key holds at most `websockets_per_key` per process; past it, the
  websocket is closed with 4429 after `connection_init`.
"""

from __future__ import annotations

import asyncio
import collections
import enum
import logging
from collections.abc import AsyncGenerator, Mapping
from json import JSONDecodeError
from typing import Any

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import (
    NonJsonMessageReceived,
    NonTextMessageReceived,
    WebSocketDisconnected,
)

from .limits import send_errors
from .rate_limits import client_address
from .settings import Settings
from .upstream import ApiKey, CometClient, Transport, errors

log = logging.getLogger("gateway.websocket")

class Verdict(enum.Enum):
    ACCEPTED = "accepted"
    UNAUTHENTICATED = "unauthenticated"
    FORBIDDEN = "forbidden"


def well_formed(key: ApiKey | None) -> bool:
    """A key to ask the upstream about: `auth.api_key` has refused the malformed ones."""
    return key is not None and bool(key.reveal())


async def verdict(transport: Transport, key: ApiKey, deadline: float | None = None) -> Verdict:
    """Whether the upstream accepts `key`. The transport keeps what Comet said of each key (see
    `upstream.recent_keys`): a key it answered 200 within the recheck (60 s) is taken at its
    word; else `account-details` is asked, through the normal client, so that concurrent checks
    of one key share one call and an invented key costs Comet one call, not one per websocket.
    Failures other than 401 and 403 are raised."""
    if transport.vouches_for(key):
        return Verdict.ACCEPTED
    try:
        await CometClient(transport, key, deadline=deadline).get_account_details()
    except (errors.Unauthenticated, errors.NotFound, errors.BadRequest):
        # account-details names nothing but the caller: any refusal of it is the key's.
        return Verdict.UNAUTHENTICATED
    except errors.Forbidden:
        return Verdict.FORBIDDEN
    return Verdict.ACCEPTED


class WebSocketKeys:
    """Websockets open per API key (by fingerprint), at most `limit`: a key's holder could
    otherwise fill a process's connections from a few addresses. A websocket counts from its
    key's admission until the connection ends (`WebSocketsPerClient` lets it go)."""

    STATE = "cgw.websocket_key"

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: collections.Counter[str] = collections.Counter()

    def enter(self, scope: Scope, key: ApiKey) -> bool:
        if self._open[key.fingerprint] >= self.limit:
            return False
        self._open[key.fingerprint] += 1
        scope.setdefault("state", {})[self.STATE] = key.fingerprint
        return True

    def leave(self, scope: Scope) -> None:
        fingerprint = scope.get("state", {}).pop(self.STATE, None)
        if fingerprint is not None:
            self._open[fingerprint] -= 1
            if self._open[fingerprint] <= 0:
                del self._open[fingerprint]


async def admit(key: ApiKey | None, websocket: WebSocket, transport: Transport,
                settings: Settings, keys: WebSocketKeys | None = None) -> None:
    """Return when the upstream accepts `key` (and it holds fewer websockets than `keys`
    allows); else close the websocket with the reason, and raise WebSocketDisconnected (which
    ends strawberry's handlers quietly)."""
    if not well_formed(key):
        await _close(websocket, 4401, "Unauthorized: send a valid API key in connection_init's "
                                      "payload as Authorization")
        raise WebSocketDisconnected
    assert key is not None
    deadline = asyncio.get_running_loop().time() + settings.websocket_init_timeout
    try:
        said = await verdict(transport, key, deadline)
    except errors.UpstreamError as exc:
        log.info("websocket key check failed upstream: %s", type(exc).__name__)
        await _close(websocket, 1013, "the API key could not be checked upstream; retry later")
        raise WebSocketDisconnected from None
    if said is Verdict.UNAUTHENTICATED:
        await _close(websocket, 4401, "Unauthorized: the upstream does not accept this API key")
        raise WebSocketDisconnected
    if said is Verdict.FORBIDDEN:
        await _close(websocket, 4403, "Forbidden: the upstream refuses this API key")
        raise WebSocketDisconnected
    if keys is not None and not keys.enter(websocket.scope, key):
        await _close(websocket, 4429, f"too many websockets for this API key (at most "
                                      f"{keys.limit} per process)")
        raise WebSocketDisconnected


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    if websocket.application_state != WebSocketState.DISCONNECTED:
        try:
            await websocket.close(code=code, reason=reason)
        except (WebSocketDisconnect, OSError):
            pass  # the client went first


class GuardedWebSocketAdapter(ASGIWebSocketAdapter):
    """Strawberry's Starlette websocket adapter, sending text frames (as graphql-transport-ws
    asks), and closing websockets that are not acknowledged in time or stay idle.

    It follows operations from the messages it passes: a client's `subscribe` (or graphql-ws'
    `start`) opens one; a client's `complete` (`stop`) or the server's `complete` or `error`
    ends it."""

    def __init__(self, view: Any, request: WebSocket, response: WebSocket) -> None:
        super().__init__(view, request, response)
        settings: Settings = view.settings
        self._loop = asyncio.get_running_loop()
        self._init_timeout = settings.websocket_init_timeout
        self._idle_timeout = settings.websocket_idle_timeout
        self._acknowledged = False
        self._operations: set[str] = set()
        self._opened = self._last_heard = self._loop.time()
        self._timer: asyncio.TimerHandle | None = None
        self._closing: asyncio.Task[None] | None = None
        self._rearm()

    async def iter_json(self, *, ignore_parsing_errors: bool = False
                        ) -> AsyncGenerator[object, None]:
        try:
            while self.ws.application_state != WebSocketState.DISCONNECTED:
                text = await self.ws.receive_text()
                self._last_heard = self._loop.time()
                try:
                    message = self.view.decode_json(text)
                except JSONDecodeError as exc:
                    if not ignore_parsing_errors:
                        raise NonJsonMessageReceived from exc
                    continue
                self._follow(message, from_client=True)
                yield message
        except KeyError as exc:
            raise NonTextMessageReceived from exc
        except WebSocketDisconnect:
            pass
        finally:
            self._stop_timer()

    async def send_json(self, message: Mapping[str, object]) -> None:
        if self.ws.application_state == WebSocketState.DISCONNECTED:
            raise WebSocketDisconnected  # closed here (a deadline) while this was on its way
        self._follow(message, from_client=False)
        try:
            await self.ws.send_text(orjson.dumps(message).decode())
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc

    async def close(self, code: int, reason: str) -> None:
        await _close(self.ws, code, reason)

    def _follow(self, message: object, *, from_client: bool) -> None:
        if not isinstance(message, Mapping):
            return
        kind, ident = message.get("type"), message.get("id")
        if kind == "connection_ack":
            self._acknowledged = True
        elif isinstance(ident, str):
            if from_client and kind in ("subscribe", "start"):
                self._operations.add(ident)
            elif kind in (("complete", "stop") if from_client else ("complete", "error")):
                self._operations.discard(ident)
                self._last_heard = max(self._last_heard, self._loop.time())
        self._rearm()

    def _rearm(self) -> None:
        self._stop_timer()
        if not self._acknowledged:
            self._timer = self._loop.call_at(self._opened + self._init_timeout, self._expire)
        elif not self._operations:
            self._timer = self._loop.call_at(self._last_heard + self._idle_timeout,
                                             self._expire)

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expire(self) -> None:
        self._timer = None
        if not self._acknowledged:
            code, reason = 4408, "Connection initialisation timeout"
        elif self._operations:
            return
        else:
            code, reason = 1001, "idle: no operation and no message"
        self._closing = asyncio.ensure_future(_close(self.ws, code, reason))


class WebSocketsPerClient:
    """At most `limit` websockets open per client address; past it, the handshake gets 429.
    When a websocket ends, its key's count (`keys`) lets it go too."""

    def __init__(self, app: ASGIApp, limit: int, keys: WebSocketKeys | None = None) -> None:
        self.app = app
        self.limit = limit
        self.keys = keys
        self._open: collections.Counter[str] = collections.Counter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        client = client_address(scope)
        if self._open[client] >= self.limit:
            await send_errors(send, 429, "RATE_LIMITED", f"too many websockets from this "
                              f"address (at most {self.limit})",
                              headers={"Retry-After": "1"}, scope=scope)
            return
        self._open[client] += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self._open[client] -= 1
            if self._open[client] <= 0:
                del self._open[client]
            if self.keys is not None:
                self.keys.leave(scope)
