"""What one connection may hold: uvicorn's HTTP and websocket protocols, with the limits they
lack.

uvicorn (httptools) times nothing out before a request's head is complete, reads heads of any
size (httptools joins an unfinished header value in memory, copying it at every read), and
refuses connections over `limit_concurrency` only once their head is complete. So slow or
endless heads hold file descriptors and memory for as long as a client likes. Here:

- a head (request line and headers) must arrive within `header_timeout` of its first byte, or
  of the connection's start, and stay under `max_header_bytes`: else 408 or 431, and close;
- a body must arrive within `body_timeout` of its head: else 408, and close;
- at most `max_connections` connections (HTTP and websocket) are open: a new one closes the
  connection that has waited longest for a head (slow, or idle between requests), or is refused
  with 503 when every open one is busy.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from dataclasses import dataclass
from typing import Any

import httptools
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState

from .limits import error_body
from .memory import watcher

log = logging.getLogger("gateway.server")


@dataclass(frozen=True)
class ConnectionLimits:
    """The bounds each connection of one server process runs under."""

    max_connections: int = 1000
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    max_header_bytes: int = 65_536


def limits_of(config: Config) -> ConnectionLimits:
    """The limits a `server.GatewayConfig` carries (the defaults for a plain uvicorn Config)."""
    limits = getattr(config, "connection_limits", None)
    return limits if isinstance(limits, ConnectionLimits) else ConnectionLimits()


class Phase(enum.Enum):
    HEAD = "head"  # waiting for a request head, or reading one
    BODY = "body"  # reading a request body
    BUSY = "busy"  # the request is read; the application answers it
    IDLE = "idle"  # between two requests (keep-alive)


class _HeadTooLarge(Exception):
    pass


class LimitedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with head and body deadlines, a head size limit and a cap
    on open connections."""

    def __init__(self, config: Config, server_state: ServerState, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.memory = watcher(server_state, self.connections, self.loop)
        self.limits = limits_of(config)
        self.phase = Phase.HEAD
        self.waiting_since = self.loop.time()
        self._head_bytes = 0
        self._head_too_large = False
        self._deadline: asyncio.TimerHandle | None = None

    # --- the connection's life -----------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.limits.header_timeout, self._head_timed_out)
        if len(self.connections) > self.limits.max_connections:
            _make_room(self)
        self.memory.observe()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)
        self.memory.observe()

    def data_received(self, data: bytes) -> None:
        # uvicorn's own, with the head counted and refused when too large.
        self._unset_keepalive_if_required()
        if self.phase is Phase.IDLE:
            self._start_head()
        if self.phase is Phase.HEAD:
            self._head_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError:
            if self._head_too_large:
                self._refuse_head_too_large()
            else:
                msg = "Invalid HTTP request received."
                self.logger.warning(msg)
                self.send_400_response(msg)
            return
        if self.phase is Phase.HEAD and self._head_bytes > self.limits.max_header_bytes:
            self._refuse_head_too_large()  # an unfinished head, already too large

    # --- parser callbacks ------------------------------------------------------------------------
    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self.phase is not Phase.HEAD:  # a pipelined request
            self._start_head()

    def on_headers_complete(self) -> None:
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if size > self.limits.max_header_bytes:
            self._head_too_large = True
            raise _HeadTooLarge  # feed_data raises HttpParserCallbackError: see data_received
        self._disarm()
        self._head_bytes = 0
        if self.parser.should_upgrade() and self._should_upgrade():
            self.phase = Phase.BUSY  # the websocket protocol takes the connection over
        else:
            self.phase = Phase.BODY
            self._arm(self.limits.body_timeout, self._body_timed_out)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        if self.phase is Phase.BODY:
            self._disarm()
            self.phase = Phase.BUSY
        super().on_message_complete()

    def on_response_complete(self) -> None:
        if self.phase is Phase.BUSY and not self.pipeline:
            self.phase = Phase.IDLE
            self.waiting_since = self.loop.time()
        super().on_response_complete()

    # --- limits ----------------------------------------------------------------------------------
    @property
    def evictable(self) -> bool:
        """Whether closing this connection loses no work: it waits for its client."""
        return (self.phase in (Phase.HEAD, Phase.IDLE) and not self.pipeline
                and (self.cycle is None or self.cycle.response_complete)
                and self.transport is not None and not self.transport.is_closing())

    def evict(self) -> None:
        log.debug("connection closed to make room for a new one (%s)", self.phase.value)
        self.transport.close()

    def refuse_busy(self) -> None:
        self.respond(503, "RATE_LIMITED", "too many open connections; retry in 1s",
                     extra=[(b"retry-after", b"1")])

    def respond(self, status: int, code: str, message: str,
                extra: list[tuple[bytes, bytes]] | None = None) -> None:
        """Answer with a GraphQL error outside of any request cycle, and close."""
        self._disarm()
        body = error_body(code, message)
        headers = [*self.server_state.default_headers,
                   (b"content-type", b"application/json"),
                   (b"content-length", str(len(body)).encode()), (b"connection", b"close"),
                   *(extra or [])]
        if not self.transport.is_closing():
            self.transport.write(b"".join([STATUS_LINE[status],
                                           *(n + b": " + v + b"\r\n" for n, v in headers),
                                           b"\r\n", body]))
            self.transport.close()

    def _start_head(self) -> None:
        self.phase = Phase.HEAD
        self.waiting_since = self.loop.time()
        self._head_bytes = 0
        self._arm(self.limits.header_timeout, self._head_timed_out)

    def _refuse_head_too_large(self) -> None:
        self.respond(431, "BAD_USER_INPUT", f"request line and headers larger than "
                                            f"{self.limits.max_header_bytes} bytes")

    def _head_timed_out(self) -> None:
        self._deadline = None
        if self.phase is not Phase.HEAD or self.transport.is_closing():
            return
        if self._head_bytes == 0:  # never sent a byte: nothing to answer
            self.transport.close()
            return
        self.respond(408, "BAD_USER_INPUT", f"request head not received within "
                                            f"{self.limits.header_timeout:g}s")

    def _body_timed_out(self) -> None:
        self._deadline = None
        cycle = self.cycle
        if self.phase is not Phase.BODY or self.transport.is_closing():
            return
        started = cycle is not None and cycle.response_started
        if cycle is not None:
            # As a lost connection does: the application reads a disconnect, and whatever it
            # sends from now on is dropped.
            cycle.disconnected = True
            cycle.message_event.set()
        if started:
            self.transport.close()
        else:
            self.respond(408, "BAD_USER_INPUT", f"request body not received within "
                                                f"{self.limits.body_timeout:g}s")

    def _arm(self, seconds: float, callback: Any) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, callback)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None


def _make_room(new: LimitedHttpProtocol) -> None:
    """Over the cap: close the connection waiting longest for its client, else refuse `new`."""
    waiting = [c for c in new.connections
               if isinstance(c, LimitedHttpProtocol) and c is not new and c.evictable]
    if waiting:
        min(waiting, key=lambda c: c.waiting_since).evict()
    else:
        new.refuse_busy()


class QuietWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's websocket protocol, whose wire is never logged: at DEBUG the websockets library
    logs every handshake header (Authorization too) and the start and end of every frame
    (`connection_init` with its key)."""

    def __init__(self, config: Config, server_state: ServerState, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.conn.debug = False
        self.memory = watcher(server_state, self.connections, self.loop)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self.memory.observe()
