"""What every demo route shares: Comet's JSON answers and error bodies, auth, parameters."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from .knobs import API_KEY_NOT_REGISTERED, error_body
from .world import User, World

WORLD = web.AppKey("world", World)

Route = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Fail(Exception):
    """An error answer with Comet's body: `{"msg", "code", "sdk_error_code"}`."""

    def __init__(self, status: int, msg: str, sdk_error_code: int = 0) -> None:
        super().__init__(msg)
        self.status, self.msg, self.sdk_error_code = status, msg, sdk_error_code


def ok(value: Any) -> web.Response:
    # Exactly `application/json`: the real SDK rejects a charset suffix ("data is not json").
    return web.Response(body=json.dumps(value).encode(),
                        headers={"Content-Type": "application/json"})


def binary(data: bytes, filename: str, mime: str = "application/octet-stream") -> web.Response:
    return web.Response(body=data, headers={
        "Content-Type": mime, "Content-Disposition": f'attachment; filename="{filename}"'})


@web.middleware
async def errors(request: web.Request, handler: Route) -> web.StreamResponse:
    try:
        return await handler(request)
    except Fail as fail:
        return web.Response(status=fail.status, body=error_body(fail.status, fail.msg,
                                                                 fail.sdk_error_code),
                            headers={"Content-Type": "application/json"})


def world(request: web.Request) -> World:
    return request.app[WORLD]


def user(request: web.Request) -> User:
    found = world(request).user(request.headers.get("Authorization"))
    if found is None:
        raise Fail(401, "Invalid or missing API key", API_KEY_NOT_REGISTERED)
    return found


def param(request: web.Request, name: str) -> str:
    value = request.query.get(name)
    if not value:
        raise Fail(400, f"Missing required parameter: {name}")
    return value


def flag(value: str | None, default: bool = False) -> bool:
    """Booleans as the SDK writes them (`True`/`False`), or lower case."""
    if value is None or value == "":
        return default
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0"):
        return False
    raise Fail(400, f"Invalid boolean: {value}")


def integer(request: web.Request, name: str, default: int | None = None) -> int | None:
    value = request.query.get(name)
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise Fail(400, f"Invalid integer for {name}: {value}") from None


def workspace(request: web.Request, name: str) -> str:
    """The workspace, when the caller's key may see it; 403 otherwise, known or not."""
    if name not in user(request).workspaces:
        raise Fail(403, f"No access to workspace {name}")
    return name


async def body(request: web.Request) -> dict[str, Any]:
    try:
        value = await request.json()
    except ValueError:
        raise Fail(400, "Request body is not JSON") from None
    if not isinstance(value, dict):
        raise Fail(400, "Request body must be a JSON object")
    return value
