"""Rate limits: what a client may send, and what a key may cost upstream.

Two kinds of token bucket, in Redis when `COMET_GATEWAY_REDIS_URL` is set (one limit for every
worker and replica: see `shared_buckets`), else in process (`COMET_GATEWAY_WORKERS` × replicas
multiply them):

- **Requests, per client address.** Every HTTP request but `/healthz`, every websocket
  handshake and every operation sent over a websocket takes a token. This bounds what costs
  no upstream call (a refused document, introspection, a request without a key), and it is
  keyed on the address so that inventing keys or spelling one key differently gains nothing.
  Behind a proxy the address is the one uvicorn takes from `X-Forwarded-For`
  (`COMET_GATEWAY_FORWARDED_ALLOW_IPS` says which proxies to believe).
- **Upstream calls, per API key** (its fingerprint, after `auth.api_key` has read the header
  the one way every route reads it). Every upstream attempt, retries included, takes a token;
  a key whose bucket is empty is refused at the door, and work already running (operations,
  subscriptions' polls) may take the bucket below zero by at most one operation's upstream
  budget: past that, its calls fail with RATE_LIMITED instead of being sent. This limits what
  costs: a dashboard of 60 panels is 60 requests but may be few calls, and one query may be
  thousands.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import re
import time
from collections.abc import Awaitable, Callable

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from .auth import MalformedKey, api_key
from .limits import send_errors
from .settings import Settings
from .shared_buckets import RedisBuckets, RedisConnection
from .upstream import ApiKey

UNLIMITED_PATHS = ("/healthz",)
# A refusal is answered after a pause of up to this many seconds (at most this many at once per
# address), so that a client sending again as soon as it is answered is slowed to a few
# requests a second instead of being answered thousands of times a second.
REFUSAL_PAUSE = 0.5
PAUSED_PER_ADDRESS = 8
# A query text read for the first time costs its address one more request per this many
# tokens, and per this many characters (graphql-core reads about 10 µs a token, validation
# included, and comments and strings character by character): a client sending new texts of
# the largest size allowed gets a few a second, while a text sent again costs one request.
TOKENS_PER_REQUEST = 200
CHARACTERS_PER_REQUEST = 8192
# A body costs one more request per this many bytes: decoding it and coercing its variables
# (a list of 195,000 keys in 1 MB: some 150 ms) happen before any limit can refuse them.
BODY_BYTES_PER_REQUEST = 16384
# Tokens as graphql-core's lexer would find them, counted by the regex engine (about 0.25 ms
# for 2,000 tokens): names, numbers, strings, punctuators.
_TOKEN = re.compile(r'[_A-Za-z][_0-9A-Za-z]*|-?\d[\d.eE+-]*|"(?:[^"\\\n]|\\.)*"'
                    r"|[!$&():=@\[\]{}|]|\.\.\.")


class TokenBuckets:
    """A token bucket per name: `rate` tokens a second, at most `burst` saved up; `floor` is how
    far below zero `charge` may take one. At most `max_names` are kept (the idlest go)."""

    def __init__(self, rate: float, burst: int, *, floor: float = 0.0,
                 clock: Callable[[], float] = time.monotonic, max_names: int = 50_000) -> None:
        self.rate, self.burst, self.floor = rate, burst, floor
        self._clock, self._max_names = clock, max_names
        self._buckets: dict[str, tuple[float, float]] = {}

    def _level(self, name: str) -> tuple[float, float]:
        now = self._clock()
        tokens, last = self._buckets.get(name, (float(self.burst), now))
        return min(float(self.burst), tokens + (now - last) * self.rate), now

    def wait(self, name: str) -> float:
        """0 when `name` has a token; else the seconds until it will."""
        tokens, _ = self._level(name)
        return 0.0 if tokens >= 1 else (1 - tokens) / self.rate

    def take(self, name: str) -> float:
        """Take a token if there is one: 0, or the seconds until there will be."""
        tokens, now = self._level(name)
        wait = 0.0 if tokens >= 1 else (1 - tokens) / self.rate
        self._store(name, tokens - 1 if wait == 0 else tokens, now)
        return wait

    def charge(self, name: str, tokens: float = 1.0, *, partly: bool = False) -> bool:
        """Take tokens whether or not there are any, down to `floor`. Past the floor: with
        `partly`, as many as are left above it; else none, and False."""
        level, now = self._level(name)
        if level - tokens < self.floor and not partly:
            self._store(name, level, now)
            return False
        self._store(name, max(self.floor, level - tokens), now)
        return True

    def _store(self, name: str, tokens: float, now: float) -> None:
        self._buckets[name] = (tokens, now)
        if len(self._buckets) > self._max_names:  # forget the idlest half
            for old in sorted(self._buckets, key=lambda k: self._buckets[k][1])[
                    : self._max_names // 2]:
                del self._buckets[old]

    def __len__(self) -> int:
        return len(self._buckets)


class RateLimits:
    """The application's buckets: requests per client address, upstream calls per key."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        # What a request costs beyond its token (a new text read, an introspection computed)
        # may take the bucket below zero, by at most a burst: paid for by waiting.
        self.requests = (TokenBuckets(settings.rate_limit_per_second,
                                      settings.rate_limit_burst,
                                      floor=-float(settings.rate_limit_burst), clock=clock)
                         if settings.rate_limit_per_second else None)
        self.upstream = (TokenBuckets(settings.upstream_rate_per_key,
                                      settings.upstream_burst_per_key,
                                      floor=-float(settings.upstream_budget), clock=clock)
                         if settings.upstream_rate_per_key else None)

        # In Redis when configured; the buckets above are then the fallback while Redis fails.
        self._redis: RedisConnection | None = None
        self._shared_requests: RedisBuckets | None = None
        self._shared_upstream: RedisBuckets | None = None
        if settings.redis_url and (self.requests is not None or self.upstream is not None):
            self._redis = RedisConnection(settings.redis_url, settings.redis_timeout)
            if self.requests is not None:
                self._shared_requests = self._redis.buckets(
                    "requests", self.requests.rate, self.requests.burst, self.requests.floor)
            if self.upstream is not None:
                self._shared_upstream = self._redis.buckets(
                    "upstream", self.upstream.rate, self.upstream.burst, self.upstream.floor)

    async def admit(self, address: str, key: ApiKey) -> tuple[float, str]:
        """Whether a request (or a websocket operation) may start: (0, "") when it may, else
        the seconds to wait and what is spent."""
        if self.requests is not None:
            wait = await self._take(self.requests, self._shared_requests, address)
            if wait > 0:
                return wait, "too many requests from this address"
        if self.upstream is not None and key.reveal():
            wait = await self._take(self.upstream, self._shared_upstream, key.fingerprint,
                                    "wait")
            if wait > 0:
                return wait, "this API key has made too many upstream calls"
        return 0.0, ""

    @staticmethod
    async def _take(local: TokenBuckets, shared: RedisBuckets | None, name: str,
                    mode: str = "take") -> float:
        if shared is not None:
            found = await shared.level(name, 1.0, mode)
            if found is not None:
                taken, level = found  # "take": taken when there was one; "wait": the level
                ready = taken if mode == "take" else level >= 1
                return 0.0 if ready else (1 - level) / local.rate
        return local.take(name) if mode == "take" else local.wait(name)

    def meter(self) -> Callable[[ApiKey], bool | Awaitable[bool]]:
        """What the transport asks before each upstream call: `charge`, or its Redis twin."""
        return self.charge if self._shared_upstream is None else self._charge_shared

    def charge(self, key: ApiKey) -> bool:
        """One upstream call about to be made for `key`: False when the key's bucket is as far
        below zero as running work may take it (then the call is not made)."""
        return self.upstream is None or self.upstream.charge(key.fingerprint)

    async def _charge_shared(self, key: ApiKey) -> bool:
        assert self._shared_upstream is not None
        found = await self._shared_upstream.level(key.fingerprint, 1.0, "charge")
        return self.charge(key) if found is None else found[0]

    def charge_address(self, address: str, requests: int) -> None:
        """What a request costs `address` beyond its own token (a body to decode, a text to
        read, an introspection answer to compute), taken even past zero, down to the floor
        (in Redis, in the background: nobody waits for it)."""
        local = self.requests
        if local is None or requests <= 0:
            return
        if self._shared_requests is None:
            local.charge(address, requests, partly=True)
        else:
            self._shared_requests.charge_later(
                address, requests, lambda: local.charge(address, requests, partly=True))

    async def close(self) -> None:
        for shared in (self._shared_requests, self._shared_upstream):
            if shared is not None:
                await shared.close()
        if self._redis is not None:
            await self._redis.close()

    def charge_body(self, address: str, declared_length: str) -> None:
        """A body of that many bytes, about to be decoded (and its variables coerced)."""
        if declared_length.isdigit():
            self.charge_address(address, int(declared_length) // BODY_BYTES_PER_REQUEST)

    def charge_reading(self, address: str, text: str) -> None:
        """A query text the gateway has not read before, about to be read for `address`."""
        if self.requests is not None:
            self.charge_address(address, reading_cost(text))


def reading_cost(text: str) -> int:
    """Requests of the address's bucket that reading `text` for the first time costs, beyond
    the request's own."""
    tokens = sum(1 for _ in _TOKEN.finditer(text))
    return tokens // TOKENS_PER_REQUEST + len(text) // CHARACTERS_PER_REQUEST


def client_address(scope: Scope) -> str:
    """Who a request comes from, for the per-client limits: its IPv4 address, or its IPv6
    /64 (one host is usually given a whole /64, and would otherwise count as 2**64 clients)."""
    host = str((scope.get("client") or ("?", 0))[0])
    if ":" in host:
        with contextlib.suppress(ValueError):
            return str(ipaddress.ip_network(f"{host}/64", strict=False))
    return host


def retry_after(wait: float) -> int:
    return max(1, int(wait + 0.999))


class RateLimit:
    """Answer 429 with `Retry-After` and RATE_LIMITED when `RateLimits.admit` says wait (a
    websocket handshake too)."""

    def __init__(self, app: ASGIApp, settings: Settings, limits: RateLimits,
                 on_limited: Callable[[], None] | None = None) -> None:
        self.app = app
        self.settings = settings
        self.limits = limits
        self.on_limited = on_limited
        self._paused: dict[str, int] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"] in UNLIMITED_PATHS:
            await self.app(scope, receive, send)
            return
        address = client_address(scope)
        try:
            key = api_key(Headers(scope=scope), self.settings)
        except MalformedKey:  # refused by the route (401): only the address's bucket counts
            key = ApiKey("")
        wait, why = await self.limits.admit(address, key)
        if wait <= 0:
            self.limits.charge_body(address, Headers(scope=scope).get("content-length", ""))
            await self.app(scope, receive, send)
            return
        if self.on_limited is not None:
            self.on_limited()
        await self._pause(address, wait)
        seconds = retry_after(wait)
        await send_errors(send, 429, "RATE_LIMITED", f"{why}; retry in {seconds}s",
                          headers={"Retry-After": str(seconds)},
                          extensions={"retryAfter": seconds}, scope=scope)

    async def _pause(self, address: str, wait: float) -> None:
        paused = self._paused.get(address, 0)
        if paused >= PAUSED_PER_ADDRESS:
            return
        self._paused[address] = paused + 1
        try:
            await asyncio.sleep(min(wait, REFUSAL_PAUSE))
        finally:
            left = self._paused[address] - 1
            if left:
                self._paused[address] = left
            else:
                del self._paused[address]
