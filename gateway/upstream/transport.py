"""The only code that speaks HTTP to Comet: one pooled session, caps, retries, error mapping.

A call runs under two caps (all callers, and the caller's key), inside one overall deadline.
500/502/503/504, refused or reset connections and timeouts are retried with exponential
backoff and full jitter, at most `max_retries` times; a 429 is waited out when its `Retry-After`
fits the deadline; nothing else is retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import aiohttp
import orjson
from yarl import URL

from . import errors
from .cache import ResponseCache, SingleFlight, cache_key
from .config import ApiKey, UpstreamConfig
from .endpoints import Endpoint
from .recent_keys import RecentKeys

log = logging.getLogger("gateway.upstream")
T = TypeVar("T")
RETRYABLE_STATUS = frozenset({500, 502, 503, 504})
REDIRECTS = frozenset({301, 302, 303, 307, 308})
Params = Mapping[str, str | int | bool | None]


@contextlib.contextmanager
def map_transport_errors(endpoint: str) -> Iterator[None]:
    """Translate aiohttp's exceptions into the upstream tree: the one place that does."""
    try:
        yield
    except errors.UpstreamError:
        raise
    except TimeoutError as exc:  # aiohttp's ServerTimeoutError is one too
        raise errors.Timeout(f"{endpoint}: no answer in time", endpoint=endpoint) from exc
    except aiohttp.ClientPayloadError as exc:
        raise errors.Unavailable(f"{endpoint}: the answer was cut short",
                                 endpoint=endpoint) from exc
    except aiohttp.ClientResponseError as exc:  # includes ContentTypeError
        raise errors.BadResponse(f"{endpoint}: malformed answer ({type(exc).__name__})",
                                 endpoint=endpoint, status=getattr(exc, "status", None)) from exc
    except aiohttp.InvalidURL as exc:
        raise errors.BadRequest(f"{endpoint}: invalid upstream URL", endpoint=endpoint) from exc
    except (aiohttp.ClientError, ConnectionError, OSError) as exc:
        raise errors.Unavailable(f"{endpoint}: connection failed ({type(exc).__name__})",
                                 endpoint=endpoint) from exc


def retry_after_seconds(value: str | None) -> float | None:
    """`Retry-After` as seconds from now: delta-seconds or an HTTP date; None when absent."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def error_for(endpoint: Endpoint, status: int, body: bytes, retry_after: str | None,
              key: ApiKey) -> errors.UpstreamError:
    """The exception for a non-success answer, keeping Comet's `msg` and `sdk_error_code`."""
    msg: str | None = None
    code: int | None = None
    try:
        data = json.loads(body)
        if isinstance(data, dict):
            msg = str(data["msg"]) if data.get("msg") is not None else None
            code = int(data["sdk_error_code"]) if data.get("sdk_error_code") is not None else None
    except (ValueError, TypeError):
        pass
    if msg:
        msg = msg.replace(key.reveal(), "***")[:500]
    text = f"{endpoint.name}: HTTP {status}" + (f": {msg}" if msg else "")
    kw: dict[str, Any] = {"endpoint": endpoint.name, "status": status, "msg": msg,
                          "sdk_error_code": code}
    if status == 401:
        return errors.Unauthenticated(text, **kw)
    if status == 403:
        return errors.Forbidden(text, **kw)
    if status == 404 or (status == 400 and endpoint.unknown_is_400):
        return errors.NotFound(text, **kw)
    if status == 429:
        return errors.RateLimited(text, retry_after=retry_after_seconds(retry_after), **kw)
    if status >= 500:
        return errors.Unavailable(text, **kw)
    return errors.BadRequest(text, **kw)


class _KeySlots:
    """A semaphore per API key fingerprint, dropped when no call of that key is in flight."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._slots: dict[str, tuple[asyncio.Semaphore, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: ApiKey) -> AsyncIterator[None]:
        sem, users = self._slots.get(key.fingerprint, (asyncio.Semaphore(self._size), 0))
        self._slots[key.fingerprint] = (sem, users + 1)
        try:
            async with sem:
                yield
        finally:
            sem, users = self._slots[key.fingerprint]
            if users == 1:
                del self._slots[key.fingerprint]
            else:
                self._slots[key.fingerprint] = (sem, users - 1)


class CallRecord(Protocol):
    status: str


class Observer(Protocol):
    """What the transport reports, for metrics and traces (see gateway.observability)."""

    def upstream_call(self, endpoint: str,
                      method: str) -> contextlib.AbstractContextManager[CallRecord]: ...

    def retry(self, endpoint: str) -> None: ...

    def cache_lookup(self, family: str, hit: bool) -> None: ...


class _Record:
    status = "error"


class NullObserver:
    def upstream_call(self, endpoint: str,
                      method: str) -> contextlib.AbstractContextManager[CallRecord]:
        return contextlib.nullcontext(_Record())

    def retry(self, endpoint: str) -> None:
        return None

    def cache_lookup(self, family: str, hit: bool) -> None:
        return None


@contextlib.contextmanager
def observed(observer: Observer, endpoint: Endpoint) -> Iterator[CallRecord]:
    """One upstream attempt, reported with its HTTP status or the error that ended it."""
    with observer.upstream_call(endpoint.name, endpoint.method) as record:
        try:
            yield record
        except errors.UpstreamError as exc:
            if exc.status is None:
                record.status = type(exc).__name__
            raise


@dataclass(frozen=True)
class Redirect:
    """`get-asset` with `allow301`, not followed: where the bytes are."""

    location: str


class Download:
    """A streamed binary answer. Iterate `chunks()`; nothing is read until then."""

    def __init__(self, response: aiohttp.ClientResponse, endpoint: str, chunk_size: int) -> None:
        self._response = response
        self._endpoint = endpoint
        self._chunk_size = chunk_size
        self.content_type: str = response.headers.get("Content-Type",
                                                       "application/octet-stream")
        length = response.headers.get("Content-Length")
        self.content_length: int | None = int(length) if length and length.isdigit() else None
        self.content_disposition: str | None = response.headers.get("Content-Disposition")

    async def chunks(self) -> AsyncIterator[bytes]:
        with map_transport_errors(self._endpoint):
            async for chunk in self._response.content.iter_chunked(self._chunk_size):
                yield chunk

    async def read(self) -> bytes:
        """The whole body: for small answers and tests only."""
        return b"".join([chunk async for chunk in self.chunks()])


class Transport:
    """One `aiohttp.ClientSession` for the application's life; open it in the lifespan."""

    def __init__(self, config: UpstreamConfig, cache: ResponseCache | None = None,
                 ttls: Mapping[str, float] | None = None,
                 observer: Observer | None = None, key_recheck: float = 60.0) -> None:
        self.config = config
        self.observer: Observer = observer or NullObserver()
        self.cache = cache
        self._ttls = dict(ttls or {})
        self._flights = SingleFlight()
        self._recent_keys = RecentKeys(key_recheck)
        self._session: aiohttp.ClientSession | None = None
        self._all = asyncio.Semaphore(config.max_concurrency)
        self._per_key = _KeySlots(config.max_concurrency_per_key)
        self._rng = random.Random()

    async def open(self) -> None:
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self.config.connection_limit)
            self._session = aiohttp.ClientSession(
                connector=connector, raise_for_status=False,
                headers={"User-Agent": "comet-graphql-gateway"})
            # aiohttp silently repeats an idempotent request once when a pooled connection
            # was closed under it; our retry policy must be the only one, so that the retry
            # count and the deadline hold. There is no public switch for it (tests pin this).
            if hasattr(self._session, "_retry_connection"):
                self._session._retry_connection = False

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self.cache is not None:
            await self.cache.close()

    async def __aenter__(self) -> Transport:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _url(self, endpoint: Endpoint, path_params: Mapping[str, str] | None) -> str:
        return self.config.rest_root + endpoint.url_path(**(path_params or {}))

    @staticmethod
    def _query(params: Params | None) -> dict[str, str]:
        out = {}
        for name, value in (params or {}).items():
            if value is None:
                continue
            # Booleans as the SDK writes them: True / False.
            out[name] = str(value) if not isinstance(value, bool) else ("True" if value
                                                                      else "False")
        return out

    @contextlib.asynccontextmanager
    async def _slot(self, key: ApiKey) -> AsyncIterator[None]:
        async with self._per_key.hold(key), self._all:
            yield

    async def _attempts(self, endpoint: Endpoint, key: ApiKey, deadline: float,
                        attempt_once: Callable[[float], Awaitable[T]]) -> T:
        """Run `attempt_once(timeout)` until it succeeds or the retry rules say stop."""
        loop = asyncio.get_running_loop()
        retries = 0
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise errors.Timeout(f"{endpoint.name}: deadline passed", endpoint=endpoint.name)
            try:
                return await attempt_once(remaining)
            except errors.RateLimited as exc:
                wait = exc.retry_after
                if (wait is None or retries >= self.config.max_retries
                        or loop.time() + wait > deadline):
                    raise
            except errors.Unavailable as exc:
                retryable = exc.status is None or exc.status in RETRYABLE_STATUS
                if not retryable or retries >= self.config.max_retries:
                    raise
                cap = min(self.config.backoff_max, self.config.backoff_base * 2 ** retries)
                wait = self._rng.uniform(0, cap)
                if loop.time() + wait >= deadline:
                    raise
            retries += 1
            log.info("retrying %s in %.2fs (retry %d)", endpoint.name, wait, retries)
            self.observer.retry(endpoint.name)
            await asyncio.sleep(wait)

    async def probe(self) -> str:
        """Comet's version probe (`clientlib/isAlive/ver`, no key needed): is it up?"""
        session = self._session_or_fail()
        scheme, _, rest = self.config.base_url.partition("://")
        url = f"{scheme}://{rest.split('/', 1)[0]}/clientlib/isAlive/ver"
        with map_transport_errors("is_alive"):
            async with session.get(url, timeout=aiohttp.ClientTimeout(
                    total=self.config.timeout)) as resp:
                if resp.status != 200:
                    raise errors.Unavailable(f"is_alive: HTTP {resp.status}",
                                             endpoint="is_alive", status=resp.status)
                data = await resp.json(content_type=None)
        return str(data.get("version", "")) if isinstance(data, dict) else ""

    @staticmethod
    def _check_key(endpoint: Endpoint, key: ApiKey) -> None:
        # Without a key every call would be a 401: say so without asking the upstream.
        if not key.reveal():
            raise errors.Unauthenticated(
                f"{endpoint.name}: no API key; send the header `Authorization: <Comet API key>`",
                endpoint=endpoint.name)

    def _session_or_fail(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("the upstream transport is not open")
        return self._session

    async def call(self, endpoint: Endpoint, key: ApiKey, *, params: Params | None = None,
                   body: Any = None, path_params: Mapping[str, str] | None = None,
                   deadline: float | None = None) -> bytes:
        """A REST call whose whole answer is read: the raw bytes of a 200.

        Served from the cache when it holds a fresh answer for this key and request, and Comet
        accepted the key lately (see `recent_keys`); identical calls in flight at once (any
        requests of the same key) share one cache lookup and one upstream call.
        `deadline` (event-loop time) is the caller's own: past it, DeadlineExceeded.
        """
        self._check_key(endpoint, key)
        url, query = self._url(endpoint, path_params), self._query(params)
        shared = cache_key(key, endpoint, {**query, "_url": url}, body)
        timeout = None
        if deadline is not None:
            timeout = deadline - asyncio.get_running_loop().time()
            if timeout <= 0:
                raise errors.DeadlineExceeded(f"{endpoint.name}: the operation's deadline "
                                              "passed", endpoint=endpoint.name)
        try:
            return await self._flights.run(
                shared, lambda: self._cached_fetch(endpoint, key, url, query, body, shared),
                timeout)
        except TimeoutError:
            raise errors.DeadlineExceeded(f"{endpoint.name}: the operation's deadline passed",
                                          endpoint=endpoint.name) from None

    async def _cached_fetch(self, endpoint: Endpoint, key: ApiKey, url: str,
                            query: dict[str, str], body: Any, shared: str) -> bytes:
        # Inside the single flight: identical calls share the lookup too, so a slow cache
        # delays them together, and its misses cannot split them into several upstream calls.
        ttl = self._ttls.get(endpoint.family) if self.cache is not None else None
        if ttl and self.cache is not None:
            hit = await self.cache.get(shared)
            served = hit is not None and self._recent_keys.vouched(key)
            self.observer.cache_lookup(endpoint.family, served)
            if hit is not None and served:
                return hit
        try:
            content = await self._fetch(endpoint, key, url, query, body)
        except errors.Unauthenticated:
            self._recent_keys.rejected(key)
            raise
        self._recent_keys.accepted(key)
        if ttl and self.cache is not None:
            await self.cache.set(shared, content, ttl)
        return content

    async def _fetch(self, endpoint: Endpoint, key: ApiKey, url: str, query: dict[str, str],
                     body: Any) -> bytes:
        session = self._session_or_fail()
        headers = {"Authorization": key.reveal()}
        if body is not None:
            headers["Content-Type"] = "application/json;charset=utf-8"
        data = None if body is None else json.dumps(body).encode()

        async def once(remaining: float) -> bytes:
            timeout = aiohttp.ClientTimeout(total=min(self.config.timeout, remaining))
            async with self._slot(key):
                with observed(self.observer, endpoint) as record, \
                        map_transport_errors(endpoint.name):
                    async with session.request(endpoint.method, url, params=query, data=data,
                                               headers=headers, timeout=timeout) as resp:
                        record.status = str(resp.status)
                        content = await resp.read()
                        if resp.status == 200:
                            return content
                        raise error_for(endpoint, resp.status, content,
                                        resp.headers.get("Retry-After"), key)

        deadline = asyncio.get_running_loop().time() + self.config.deadline
        return await self._attempts(endpoint, key, deadline, once)

    async def call_json(self, endpoint: Endpoint, key: ApiKey, **kw: Any) -> Any:
        content = await self.call(endpoint, key, **kw)
        try:
            return orjson.loads(content)
        except ValueError:
            raise errors.BadResponse(f"{endpoint.name}: the answer is not JSON",
                                     endpoint=endpoint.name, status=200) from None

    @contextlib.asynccontextmanager
    async def stream(self, endpoint: Endpoint, key: ApiKey, *, params: Params | None = None,
                     path_params: Mapping[str, str] | None = None,
                     follow_redirects: bool = True) -> AsyncIterator[Download | Redirect]:
        """A binary answer, streamed. Retries happen only before the first byte is handed out."""
        self._check_key(endpoint, key)
        session = self._session_or_fail()
        url, query = self._url(endpoint, path_params), self._query(params)
        headers = {"Authorization": key.reveal()}
        async with contextlib.AsyncExitStack() as stack:

            async def once(remaining: float) -> aiohttp.ClientResponse:
                timeout = aiohttp.ClientTimeout(total=self.config.download_timeout,
                                                sock_connect=min(self.config.timeout, remaining))
                inner = contextlib.AsyncExitStack()
                await inner.enter_async_context(self._slot(key))
                try:
                    with observed(self.observer, endpoint) as record, \
                            map_transport_errors(endpoint.name):
                        resp = await inner.enter_async_context(session.get(
                            url, params=query, headers=headers, timeout=timeout,
                            allow_redirects=follow_redirects))
                        record.status = str(resp.status)
                        if resp.status == 200 or (not follow_redirects
                                                  and resp.status in REDIRECTS):
                            stack.push_async_exit(inner)
                            return resp
                        raise error_for(endpoint, resp.status, await resp.read(),
                                        resp.headers.get("Retry-After"), key)
                except BaseException:
                    await inner.aclose()
                    raise

            deadline = asyncio.get_running_loop().time() + self.config.deadline
            resp = await self._attempts(endpoint, key, deadline, once)
            if resp.status in REDIRECTS:
                location = resp.headers.get("Location", "")
                yield Redirect(str(resp.url.join(URL(location))))
            else:
                yield Download(resp, endpoint.name, self.config.chunk_size)
