"""The streaming routes behind every `downloadUrl`: the caller's key goes upstream with them,
and the bytes pass through in chunks (a model zip never sits in memory).

What comes back is whatever an experiment logged, so it is served as data, never as a page of
the gateway's origin: every answer carries `nosniff` and a sandboxing CSP, and anything a
browser would render actively (HTML, SVG, XML, JavaScript, PDF, ... everything not known to be
passive) is sent as an `application/octet-stream` attachment. A download holds one of the
download slots (never one of the slots queries use) until it ends; a client that takes no data
for `stall_timeout` seconds is cut off, so that a stalled reader cannot keep its slot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Protocol
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Send

from . import cut_off
from .upstream import CometClient, Download, errors

log = logging.getLogger("gateway.downloads")

STATUS: tuple[tuple[type[errors.UpstreamError], int, str], ...] = (
    (errors.Unauthenticated, 401, "UNAUTHENTICATED"),
    (errors.Forbidden, 403, "FORBIDDEN"),
    (errors.NotFound, 404, "NOT_FOUND"),
    (errors.RateLimited, 429, "RATE_LIMITED"),
    (errors.Timeout, 504, "UPSTREAM_UNAVAILABLE"),
    (errors.Unavailable, 502, "UPSTREAM_UNAVAILABLE"),
    (errors.BadResponse, 502, "UPSTREAM_BAD_RESPONSE"),
    (errors.BadRequest, 400, "BAD_USER_INPUT"),
)

Opener = Callable[[CometClient, Request], contextlib.AbstractAsyncContextManager[Download]]


def error_response(status: int, code: str, message: str,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status,
                        headers=headers)


def _upstream_error(exc: errors.UpstreamError) -> JSONResponse:
    for cls, status, code in STATUS:
        if isinstance(exc, cls):
            headers = None
            if isinstance(exc, errors.RateLimited) and exc.retry_after is not None:
                headers = {"Retry-After": str(int(exc.retry_after + 0.999))}
            return error_response(status, code, str(exc), headers)
    return error_response(502, "UPSTREAM_UNAVAILABLE", str(exc))


# Types browsers show without running anything (with nosniff): served as they are.
PASSIVE = frozenset({
    "text/plain", "text/csv", "application/json", "application/octet-stream",
    "application/zip", "application/x-zip-compressed", "application/gzip", "application/x-gzip",
    "application/x-tar", "application/x-bzip2", "application/x-xz", "application/x-7z-compressed",
})
_TOKEN = r"[A-Za-z0-9!#$&^_.+-]+"
_MEDIA_TYPE = re.compile(rf"^({_TOKEN})/({_TOKEN})$")
_CHARSET = re.compile(r"charset=\"?([A-Za-z0-9_.:-]{1,40})\"?", re.I)
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._ ()+-]")


def is_passive(media_type: str) -> bool:
    """Whether a browser renders this type without running anything it holds."""
    if media_type in PASSIVE:
        return True
    top, _, sub = media_type.partition("/")
    return top in ("image", "audio", "video") and "svg" not in sub and "xml" not in sub


class Described(Protocol):
    """What a download says of itself (`Download` does)."""

    content_type: str
    content_length: int | None
    disposition: str | None
    filename: str | None


def safe_headers(download: Described) -> dict[str, str]:
    """The headers a download is served with (see the module's docstring)."""
    raw = download.content_type.split(";", 1)
    found = _MEDIA_TYPE.match(raw[0].strip())
    media = found.group(0).lower() if found else "application/octet-stream"
    charset = _CHARSET.search(raw[1]) if len(raw) > 1 and media.startswith("text/") else None
    passive = found is not None and is_passive(media)
    name = download.filename or "download"
    ascii_name = _UNSAFE_NAME.sub("_", name)[:150]
    kind = "inline" if passive and download.disposition == "inline" else "attachment"
    disposition = f'{kind}; filename="{ascii_name.strip() or "download"}"'
    if ascii_name != name:
        disposition += f"; filename*=UTF-8''{quote(name[:150], safe='')}"
    headers = {
        "Content-Type": (media + (f"; charset={charset.group(1)}" if charset else "")
                         if passive else "application/octet-stream"),
        "Content-Disposition": disposition,
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox; default-src 'none'",
    }
    if download.content_length is not None:
        headers["Content-Length"] = str(download.content_length)
    return headers


class DownloadResponse(StreamingResponse):
    """A download streamed to the client; its upstream answer and slot are released when it
    ends, however it ends. A client that takes no chunk for `stall_timeout` seconds, and an
    upstream that breaks off, end it early: the connection is closed without the rest, so
    that the client sees a cut-off body."""

    def __init__(self, download: Download, release: contextlib.AsyncExitStack,
                 stall_timeout: float, headers: Mapping[str, str]) -> None:
        super().__init__(download.chunks(), headers=headers)
        self._release = release
        self._stall_timeout = stall_timeout

    async def stream_response(self, send: Send) -> None:
        try:
            await self._send(send, {"type": "http.response.start", "status": self.status_code,
                                    "headers": self.raw_headers})
            async for chunk in self.body_iterator:
                await self._send(send, {"type": "http.response.body", "body": chunk,
                                        "more_body": True})
            await self._send(send, {"type": "http.response.body", "body": b"",
                                    "more_body": False})
        except _Stalled:
            cut_off.mark()
            log.warning("download stalled: the client took nothing for %.0f s; cut off",
                        self._stall_timeout)
        except errors.UpstreamError as exc:
            cut_off.mark()
            log.warning("download broke off upstream: %s", type(exc).__name__)
        finally:
            await self._release.aclose()

    async def _send(self, send: Send, message: dict[str, object]) -> None:
        try:
            async with asyncio.timeout(self._stall_timeout):
                await send(message)
        except TimeoutError:
            raise _Stalled from None


class _Stalled(Exception):
    """The client stopped reading."""


def _required(request: Request, *names: str) -> list[str]:
    values = [request.query_params.get(n, "") for n in names]
    missing = [n for n, v in zip(names, values, strict=True) if not v]
    if missing:
        raise ValueError(f"missing query parameter(s): {', '.join(missing)}")
    return values


def _asset(client: CometClient, request: Request
           ) -> contextlib.AbstractAsyncContextManager[Download]:
    key, asset_id = _required(request, "experimentKey", "assetId")
    version_id = request.query_params.get("artifactVersionId") or None

    @contextlib.asynccontextmanager
    async def followed() -> AsyncIterator[Download]:
        async with client.get_asset(key, asset_id, artifact_version_id=version_id) as answer:
            assert isinstance(answer, Download)  # redirects are followed
            yield answer

    return followed()


def _experiment_model(client: CometClient, request: Request
                      ) -> contextlib.AbstractAsyncContextManager[Download]:
    key, name = _required(request, "experimentKey", "modelName")
    return client.download_experiment_model(key, name)


def _registry_model(client: CometClient, request: Request
                    ) -> contextlib.AbstractAsyncContextManager[Download]:
    workspace, name = _required(request, "workspace", "modelName")
    version, stage = request.query_params.get("version"), request.query_params.get("stage")
    return client.download_registry_model(workspace, name, version=version, stage=stage)


def _artifact(client: CometClient, request: Request
              ) -> contextlib.AbstractAsyncContextManager[Download]:
    q = request.query_params
    return client.download_artifact(experiment_key=q.get("experimentKey"),
                                    version=q.get("version"), artifact_id=q.get("artifactId"),
                                    version_id=q.get("versionId"))


def _panel(client: CometClient, request: Request
           ) -> contextlib.AbstractAsyncContextManager[Download]:
    return client.download_panel(request.path_params["template_id"])


class _ClientLeft(Exception):
    """The client closed its connection before the download began."""


async def _unless_the_client_leaves(request: Request, opening: Awaitable[Download]) -> Download:
    """`opening`, given up (with the slot it holds or waits for) if the client goes first."""

    async def left() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass

    opened, leaving = asyncio.ensure_future(opening), asyncio.ensure_future(left())
    try:
        await asyncio.wait({opened, leaving}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        leaving.cancel()
        if not opened.done():
            opened.cancel()
    if opened.cancelled() or not opened.done():
        with contextlib.suppress(asyncio.CancelledError):
            await opened
        raise _ClientLeft
    return opened.result()


def routes(client_for: Callable[[Request], CometClient],
           stall_timeout: float = 30.0) -> list[Route]:
    """The download routes; `stall_timeout`: seconds a client may take no data."""

    def route(path: str, opener: Opener) -> Route:
        async def endpoint(request: Request) -> Response:
            stack = contextlib.AsyncExitStack()
            try:
                opened = opener(client_for(request), request)
                download = await _unless_the_client_leaves(
                    request, stack.enter_async_context(opened))
            except ValueError as exc:
                await stack.aclose()
                return error_response(400, "BAD_USER_INPUT", str(exc))
            except errors.UpstreamError as exc:
                await stack.aclose()
                return _upstream_error(exc)
            except _ClientLeft:
                await stack.aclose()
                return Response(status_code=499)  # nobody reads it
            return DownloadResponse(download, stack, stall_timeout, safe_headers(download))

        return Route(path, endpoint, methods=["GET"])

    return [
        route("/download/asset", _asset),
        route("/download/experiment-model", _experiment_model),
        route("/download/registry-model", _registry_model),
        route("/download/artifact", _artifact),
        route("/download/panel/{template_id}", _panel),
    ]
