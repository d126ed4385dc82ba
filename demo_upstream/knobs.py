"""Test and benchmark knobs that only the demo has: latency, fault injection, a request log.

Set at start (`make_app(latency_ms=..., faults=[...])`) or at run time through the admin routes
under `/_demo/`:

    GET    /_demo/requests            the request log, counts per endpoint, and `probes`: how
                                      many version probes (`clientlib/isAlive/ver`) came
    DELETE /_demo/requests            clear the log (and the probe count)
    PUT    /_demo/latency             {"ms": 25}
    POST   /_demo/faults              one Fault as JSON (below); answers {"id": ...}
    DELETE /_demo/faults              remove every fault
    POST   /_demo/experiments/KEY/metrics   {"metric": "loss", "values": [0.1, 0.09]}:
                                      log values after the last step, as a running experiment
    PUT    /_demo/experiments/KEY/state     {"running": true} resumes it, {"running": false,
                                      "endTimeMillis": ...} ends it (then, or at its end time
                                      so far when null): what its metadata and lists say.
                                      The newest experiment of each project runs at start.
    DELETE /_demo/experiments/states  every experiment back to its seeded state
    POST   /_demo/revoked             {"key": "..."}: revoke that API key; every REST call
                                      carrying it gets Comet's 401 until it is restored
    DELETE /_demo/revoked             restore every revoked key

A fault applies to requests whose path (after `/api/rest/v2/`) matches `path` (exactly, or as a
prefix when it ends with `*`), for the next `count` matching requests (forever when null), or to
a `fraction` of them drawn from a seeded generator, so that runs repeat.

    kind      what the client sees
    status    `status` with Comet's error body (or `body`, verbatim, as `content_type`:
              an HTML error page, say), and `Retry-After: retry_after` when given
    delay     the real answer, `delay` seconds late (set it past the client's timeout), or
              as soon as the faults are cleared
    reset     the connection closed before any byte of the answer
    truncate  a 200 whose body stops halfway (Content-Length promises more)
    garbage   a 200 `application/json` whose body is not JSON
    redirect  `status` (a 3xx) to `location`, or with no Location at all when it is null
    bytes     a 200 of `size` bytes, streamed, as `content_type` (default
              application/octet-stream) with `body` as its file name when given
    crowd     an upstream with a concurrency limit: `status` (as `status` does, with its
              `Retry-After`) to a request of a key that has more than `size` requests in
              flight at once, the real answer otherwise
    date      the answer with its Date header `body`, verbatim (garbage, a year 99999), or
              else the demo's clock `skew` seconds off (an upstream whose clock is off). It
              stacks: the answer is another matching fault's (a redirect, a `status` 200 of
              `body`), or the real one
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from aiohttp import web

REST_PREFIX = "/api/rest/v2/"
API_KEY_NOT_REGISTERED = 90212  # Comet's sdk_error_code for a key it does not know
KINDS = {"status", "delay", "reset", "truncate", "garbage", "redirect", "bytes", "crowd",
         "date"}
PROBE = "/clientlib/isAlive/ver"


@dataclass
class Fault:
    path: str
    kind: str
    status: int = 500
    retry_after: str | None = None
    body: str | None = None
    delay: float = 0.0
    count: int | None = None
    fraction: float | None = None
    method: str | None = None
    location: str | None = None
    content_type: str | None = None
    size: int = 0
    chunked: bool = False  # `bytes`: sent without a Content-Length
    skew: float = 0.0  # `date`: seconds the Date header is off the demo's clock
    id: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method:
            return False
        if self.path.endswith("*"):
            return path.startswith(self.path[:-1])
        return path == self.path


@dataclass
class Logged:
    method: str
    endpoint: str
    params: dict[str, str]
    status: int
    at: float
    ended: float | None = None
    fault: str | None = None
    raw: str = ""  # the request's target as sent, undecoded: path and query
    traceparent: str | None = None  # the W3C trace context the caller sent, if any
    body: str = ""  # a POST's body as sent (its first 64 KiB), for tests of what was asked


@dataclass
class Knobs:
    latency_ms: float = 0.0
    faults: list[Fault] = field(default_factory=list)
    log: list[Logged] = field(default_factory=list)
    revoked: set[str] = field(default_factory=set)
    rng: random.Random = field(default_factory=lambda: random.Random(7))
    next_id: int = 1
    probes: int = 0
    in_flight: Counter[str] = field(default_factory=Counter)  # REST requests, per API key
    # Set when the faults are cleared: answers still held back by a delay go out then.
    cleared: asyncio.Event = field(default_factory=asyncio.Event)

    def add(self, fault: Fault) -> Fault:
        if fault.kind not in KINDS:
            raise ValueError(f"unknown fault kind {fault.kind!r}; one of {sorted(KINDS)}")
        fault.id = self.next_id
        self.next_id += 1
        self.faults.append(fault)
        return fault

    def pick(self, method: str, path: str, date: bool = False) -> Fault | None:
        """The fault that answers (`date`: the one that sets the Date header of the answer)."""
        for fault in self.faults:
            if (fault.kind == "date") != date or not fault.matches(method, path):
                continue
            if fault.fraction is not None and self.rng.random() >= fault.fraction:
                continue
            if fault.count is not None:
                fault.count -= 1
                if fault.count <= 0:
                    self.faults.remove(fault)
            return fault
        return None

    def counts(self) -> dict[str, int]:
        return dict(Counter(f"{e.method} {e.endpoint}" for e in self.log))


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_body(status: int, msg: str, sdk_error_code: int = 0) -> bytes:
    return json.dumps({"msg": msg, "code": status, "sdk_error_code": sdk_error_code}).encode()


async def _stream_bytes(fault: Fault, request: web.Request) -> web.StreamResponse:
    headers = {"Content-Type": fault.content_type or "application/octet-stream"}
    if not fault.chunked:
        headers["Content-Length"] = str(fault.size)
    if fault.body is not None:
        headers["Content-Disposition"] = f'attachment; filename="{fault.body}"'
    response = web.StreamResponse(status=200, headers=headers)
    await response.prepare(request)
    chunk = b"x" * 65536
    left = fault.size
    while left > 0:
        await response.write(chunk[:left])
        left -= len(chunk)
    await response.write_eof()
    return response


async def _apply(fault: Fault, request: web.Request, handler: Handler,
                 cleared: asyncio.Event, in_flight: int = 0) -> web.StreamResponse:
    if fault.kind == "crowd":
        if in_flight <= fault.size:
            return await handler(request)
        fault = Fault(fault.path, "status", status=fault.status, retry_after=fault.retry_after)
    if fault.kind == "redirect":
        where = {} if fault.location is None else {"Location": fault.location}
        return web.Response(status=fault.status, headers=where)
    if fault.kind == "bytes":
        return await _stream_bytes(fault, request)
    if fault.kind == "status":
        headers = {"Content-Type": fault.content_type or "application/json"}
        if fault.retry_after is not None:
            headers["Retry-After"] = fault.retry_after
        body = (fault.body.encode() if fault.body is not None
                else error_body(fault.status, f"injected {fault.status}"))
        return web.Response(status=fault.status, headers=headers, body=body)
    if fault.kind == "delay":
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(cleared.wait(), fault.delay)
        return await handler(request)
    transport = request.transport
    if fault.kind == "reset":
        if transport is not None:
            transport.abort()
        raise asyncio.CancelledError  # nothing more is sent on an aborted connection
    if fault.kind == "truncate":
        response = web.StreamResponse(status=200, headers={
            "Content-Type": "application/json", "Content-Length": "2000"})
        await response.prepare(request)
        await response.write(b'{"values": [{"name": "loss", "valueCur')
        if transport is not None:
            await asyncio.sleep(0.01)
            transport.abort()
        raise asyncio.CancelledError
    return web.Response(status=200, headers={"Content-Type": "application/json"},
                        body=b"<html><body>502 Bad Gateway</body></html>")


def middleware(knobs: Knobs, prefix: str = "") -> Any:
    """The knobs, for an app served under `prefix` (a path, or "" at the root)."""

    @web.middleware
    async def knobs_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path.removeprefix(prefix)
        if path == PROBE:
            knobs.probes += 1
        if not path.startswith(REST_PREFIX):
            return await handler(request)
        endpoint = path[len(REST_PREFIX):]
        entry = Logged(request.method, endpoint, dict(request.query), 0, time.time(),
                       raw=request.raw_path, traceparent=request.headers.get("traceparent"))
        if request.method == "POST":  # aiohttp keeps what was read: the handler reads it too
            entry.body = (await request.read())[:65536].decode(errors="replace")
        knobs.log.append(entry)
        key = request.headers.get("Authorization", "")
        knobs.in_flight[key] += 1
        try:
            return await answer(request, handler, endpoint, entry, key)
        finally:
            knobs.in_flight[key] -= 1
            if not knobs.in_flight[key]:
                del knobs.in_flight[key]

    async def answer(request: web.Request, handler: Handler, endpoint: str, entry: Logged,
                     key: str) -> web.StreamResponse:
        if knobs.latency_ms:
            await asyncio.sleep(knobs.latency_ms / 1000)
        if key in knobs.revoked:
            entry.status, entry.ended, entry.fault = 401, time.time(), "revoked"
            return web.Response(status=401, headers={"Content-Type": "application/json"},
                                body=error_body(401, "Invalid or missing API key",
                                                API_KEY_NOT_REGISTERED))
        fault = knobs.pick(request.method, endpoint)
        dated = knobs.pick(request.method, endpoint, date=True)
        entry.fault = fault.kind if fault else dated.kind if dated else None
        try:
            response = await (_apply(fault, request, handler, knobs.cleared,
                                     knobs.in_flight[key]) if fault
                              else handler(request))
        except web.HTTPException as exc:
            entry.status = exc.status
            raise
        except asyncio.CancelledError:
            entry.status = -1
            raise
        finally:
            entry.ended = time.time()
        entry.status = response.status
        if dated is not None and not response.prepared:  # a stream's headers went out
            response.headers["Date"] = dated.body if dated.body is not None else \
                email.utils.formatdate(time.time() + dated.skew, usegmt=True)
        return response

    return knobs_middleware


def admin_routes(knobs: Knobs) -> list[web.RouteDef]:
    async def get_requests(request: web.Request) -> web.Response:
        return web.json_response({"counts": knobs.counts(), "total": len(knobs.log),
                                  "probes": knobs.probes,
                                  "requests": [asdict(e) for e in knobs.log]})

    async def clear_requests(request: web.Request) -> web.Response:
        knobs.log.clear()
        knobs.probes = 0
        return web.json_response({"ok": True})

    async def set_latency(request: web.Request) -> web.Response:
        knobs.latency_ms = float((await request.json())["ms"])
        return web.json_response({"ms": knobs.latency_ms})

    async def add_fault(request: web.Request) -> web.Response:
        try:
            fault = knobs.add(Fault(**await request.json()))
        except (TypeError, ValueError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response({"id": fault.id})

    async def clear_faults(request: web.Request) -> web.Response:
        knobs.faults.clear()
        knobs.cleared.set()
        knobs.cleared = asyncio.Event()
        knobs.rng.seed(7)  # so that fractions draw the same sequence after every reset
        return web.json_response({"ok": True})

    async def revoke_key(request: web.Request) -> web.Response:
        knobs.revoked.add(str((await request.json())["key"]))
        return web.json_response({"revoked": len(knobs.revoked)})

    async def restore_keys(request: web.Request) -> web.Response:
        knobs.revoked.clear()
        return web.json_response({"ok": True})

    return [
        web.post("/_demo/revoked", revoke_key),
        web.delete("/_demo/revoked", restore_keys),
        web.get("/_demo/requests", get_requests),
        web.delete("/_demo/requests", clear_requests),
        web.put("/_demo/latency", set_latency),
        web.post("/_demo/faults", add_fault),
        web.delete("/_demo/faults", clear_faults),
    ]
