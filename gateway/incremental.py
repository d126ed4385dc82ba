"""Incremental delivery over HTTP: an answer in parts (`@defer`) as `multipart/mixed`.

The parts follow GraphQL over HTTP's incremental delivery RFC: `Content-Type:
multipart/mixed; boundary="-"`, each part a JSON object with its own `Content-Type`, the
last followed by the closing delimiter `-----`. What a part holds has two formats, and the
client's `Accept` header picks one:

- `multipart/mixed;deferSpec=20220824` (Apollo Client 3, Apollo Kotlin, Apollo Router: the
  format of graphql-js 17.0.0-alpha.2): `{"data", "hasNext": true}` first, then
  `{"incremental": [{"data", "path", "label", "errors"}], "hasNext"}`, each deferred
  fragment's data with its full path;
- `multipart/mixed` with no spec, or `incrementalSpec=v0.2` (graphql-js 17 and graphql-core
  3.3's own format, that of the spec's proposal, GraphiQL, Apollo Client 4's
  `GraphQL17Alpha9Handler`): `{"data", "pending": [{"id", "path", "label"}], "hasNext"}`
  first, then `{"pending", "incremental": [{"id", "data", "subPath", "errors"}],
  "completed": [{"id", "errors"}], "hasNext"}`.

A client whose `Accept` names neither, or ranks a whole answer higher, gets the whole answer as
one JSON object (see `negotiation`).

`PartsResponse` sends the parts as they come and watches the connection: a client that goes
away stops the answer, and the work still to do for it is cancelled (`parts.Parts.close`).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
from graphql import GraphQLError, SubsequentIncrementalExecutionResult
from graphql.execution import PendingResult
from starlette.types import Message, Receive, Scope, Send

from . import cut_off
from .schema.parts import Parts

log = logging.getLogger("gateway.errors")

BOUNDARY = b"-"


class Format(enum.Enum):
    """What the parts of an answer hold (see the module's docstring)."""

    DEFER_20220824 = "deferSpec=20220824"
    INCREMENTAL_V02 = "incrementalSpec=v0.2"

    @property
    def content_type(self) -> str:
        return f'multipart/mixed; boundary="{BOUNDARY.decode()}"; {self.value}'


class Payloads:
    """The parts of one answer as JSON objects of one format."""

    def __init__(self, parts: Parts, format: Format) -> None:
        self.parts = parts
        self.format = format
        # id → (path, label) of every deferred fragment announced and not yet completed
        self._pending: dict[str, tuple[list[str | int], str | None]] = {}

    def first(self) -> dict[str, Any]:
        first = self.parts.first
        self._announce(first.pending)
        if self.format is Format.INCREMENTAL_V02:
            return dict(first.formatted)
        payload: dict[str, Any] = {"data": first.data}
        if first.errors:
            payload["errors"] = [error.formatted for error in first.errors]
        payload["hasNext"] = first.has_next
        return payload

    async def rest(self) -> AsyncIterator[dict[str, Any]]:
        async for result in self.parts.rest():
            self._announce(result.pending)
            payload = (dict(result.formatted) if self.format is Format.INCREMENTAL_V02
                       else self._legacy(result))
            for completed in result.completed or ():
                self._pending.pop(completed.id, None)
            yield payload

    def failed(self, error: GraphQLError) -> dict[str, Any]:
        """The last part of an answer that could not go on: every fragment still pending
        completed with `error`."""
        pending, self._pending = self._pending, {}
        if self.format is Format.INCREMENTAL_V02:
            return {"completed": [{"id": id_, "errors": [error.formatted]} for id_ in pending],
                    "hasNext": False}
        return {"incremental": [_entry(None, path, label, [error])
                                for path, label in pending.values()], "hasNext": False}

    def _announce(self, pending: list[PendingResult] | None) -> None:
        for entry in pending or ():
            self._pending[entry.id] = (entry.path, entry.label)

    def _legacy(self, result: SubsequentIncrementalExecutionResult) -> dict[str, Any]:
        """graphql-core's part in the 20220824 format: every fragment's data at its full path
        (a stream's items do not occur: `@stream` is not offered); a fragment that failed as
        a whole is `data: null` with its errors, as graphql-js 17.0.0-alpha.2 said it."""
        incremental = []
        for part in result.incremental or ():
            path, label = self._pending.get(part.id, ([], None))
            incremental.append(_entry(getattr(part, "data", None),
                                      [*path, *(part.sub_path or ())], label, part.errors))
        for completed in result.completed or ():
            if completed.errors:
                path, label = self._pending.get(completed.id, ([], None))
                incremental.append(_entry(None, path, label, completed.errors))
        payload: dict[str, Any] = {"incremental": incremental} if incremental else {}
        payload["hasNext"] = result.has_next
        return payload


def _entry(data: Any, path: list[str | int], label: str | None,
           errors: list[GraphQLError] | None) -> dict[str, Any]:
    entry: dict[str, Any] = {"data": data, "path": path}
    if label is not None:
        entry["label"] = label
    if errors:
        entry["errors"] = [error.formatted for error in errors]
    return entry


def encode(payload: dict[str, Any]) -> bytes:
    """One part: its headers, a blank line, its JSON, and the delimiter that ends it."""
    body = orjson.dumps(payload)
    return b"".join((b"\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ",
                     str(len(body)).encode(), b"\r\n\r\n", body, b"\r\n--", BOUNDARY))


class PartsResponse:
    """An answer in parts, sent as its parts come (an ASGI app of one request).

    The body opens with the first delimiter, each part ends with one, and the last is closed
    (`--` after it). Whatever ends it (the last part, the client going away, a failure), the
    parts are closed (the work still pending is cancelled), and then `on_close(delivered)`
    runs, `delivered` saying whether every part went out: after the last part, before the
    body's end, so that the operation is over when its client hears so.
    """

    def __init__(self, payloads: Payloads, headers: list[tuple[bytes, bytes]],
                 on_close: Callable[[bool], Awaitable[None]],
                 stall_timeout: float | None = None) -> None:
        self.payloads = payloads
        # A client that stops reading would hold the operation (its loaders, its parts) open
        # for as long as it likes: past this many seconds of a part not taken, it is gone.
        self.stall_timeout = stall_timeout
        self.headers = [(k, v) for k, v in headers if k.lower() != b"content-type"]
        self.headers.append((b"content-type", payloads.format.content_type.encode()))
        # Each part as it comes, through nginx too (which buffers answers unless told not to).
        self.headers.append((b"x-accel-buffering", b"no"))
        self._on_close = on_close
        self._closing: asyncio.Future[None] | None = None
        self._delivered = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.stall_timeout is not None:
            send = _stalling(send, self.stall_timeout)
        sending = asyncio.ensure_future(self._send(send, scope))
        leaving = asyncio.ensure_future(_disconnected(receive))
        try:
            await asyncio.wait((sending, leaving), return_when=asyncio.FIRST_COMPLETED)
        finally:
            # Cancelled once, by asyncio's rules (not anyio's, which would cancel every await
            # after it): the parts' own clean-up, graphql-core's, runs to its end.
            for task in (sending, leaving):
                task.cancel()
            await asyncio.wait((sending, leaving))
            closing = self._close()
            await asyncio.wait((closing,))
        failed = None if sending.cancelled() else sending.exception()
        if isinstance(failed, Stalled):  # a part, or the body's end, waited too long
            cut_off.mark()
            log.warning("answer in parts cut off: %s", failed)
        if isinstance(failed, OSError):  # sent to a client that was gone: nothing to tell
            failed = None
        # Anything else is the gateway's own failure: the server logs it.
        failed = failed or closing.exception()
        if failed is not None:
            raise failed

    def _close(self) -> asyncio.Future[None]:
        """Closing, once, in a task of its own: the client going away meanwhile does not cut
        it short (the operation waits for it to end)."""
        if self._closing is None:
            self._closing = asyncio.ensure_future(self._close_now())
        return self._closing

    async def _close_now(self) -> None:
        try:
            await self.payloads.parts.close()
        finally:
            await self._on_close(self._delivered)

    async def _send(self, send: Send, scope: Scope) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.headers})
        await send({"type": "http.response.body", "more_body": True,
                    "body": b"--" + BOUNDARY + encode(self.payloads.first())})
        try:
            async for payload in self.payloads.rest():
                await send({"type": "http.response.body", "body": encode(payload),
                            "more_body": True})
        except Stalled:
            # The body ended (written, if not delivered: the transport's to flush), so that the
            # server has a finished answer to close rather than an abandoned one.
            with contextlib.suppress(Stalled, OSError):
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            raise
        except Exception as error:  # the work could not go on: the client hears it, the
            # log says why, with the request's id, no traceback (as `schema.errors` does)
            request_id = scope.get("state", {}).get("request_id", "-")
            log.error("internal error in request %s: its answer in parts stopped: %s",
                      request_id, type(error).__name__)
            log.debug("internal error in request %s", request_id, exc_info=error)
            await send({"type": "http.response.body", "more_body": True,
                        "body": encode(self.payloads.failed(GraphQLError(
                            f"Internal error (request id {request_id}).",
                            extensions={"code": "INTERNAL", "requestId": request_id})))})
        else:
            self._delivered = True
        await asyncio.shield(self._close())
        await send({"type": "http.response.body", "body": b"--\r\n", "more_body": False})


async def _disconnected(receive: Receive) -> None:
    """Returns once the client has gone away (the request's body is read by now)."""
    while (await receive())["type"] != "http.disconnect":
        pass


class Stalled(ConnectionResetError):
    """The client took no part of the answer for the stall timeout: as good as gone."""


def _stalling(send: Send, seconds: float) -> Send:
    async def send_or_give_up(message: Message) -> None:
        try:
            await asyncio.wait_for(send(message), seconds)
        except TimeoutError:
            raise Stalled(f"the client took nothing for {seconds:g} s") from None

    return send_or_give_up
