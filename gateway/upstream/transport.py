"""The only code that speaks HTTP to Comet: one pooled session, the caps, the key's checks.

The transport is split by job, as httpx keeps retries apart from the connection:
`retries` decides what is tried again, `shared` lets identical calls share one flight and the
response cache, `concurrency` sizes each key's window of calls in flight, and this module
makes the HTTP call itself. A call runs in its key's window and under a cap for all callers
together; downloads have fixed caps of their own. Redirects are followed by the rules of
`redirects`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any

import aiohttp
import orjson
from yarl import URL

from . import errors
from .admission import Admission
from .budget import Budget
from .cache import ResponseCache, cache_key
from .chart_cache import ChartCache
from .concurrency import AdaptiveSlots, Outcome
from .config import ApiKey, UpstreamConfig
from .download import Download, Redirect
from .endpoints import Endpoint
from .lifetimes import Lifetimes, TimesToLive
from .mapping import error_for, map_transport_errors, retry_after_seconds
from .models import ExperimentMetadata
from .observer import NullObserver, Observer, observed
from .probe import ask_version
from .recent_keys import RecentKeys
from .redirects import REDIRECTS, RedirectPolicy, redirected_method
from .retries import RetryPolicy
from .shared import Deadline, SingleFlight
from .slots import KeySlots, Slots

log = logging.getLogger("gateway.upstream")
SLOW_DOWN = frozenset({429, 503})  # the upstream asks for less (see `concurrency`)
CONGESTED = frozenset({502, 504})  # an overloaded upstream, or its proxy, by the look of it


def outcome_of(status: int) -> Outcome:
    """What an answer's status tells a key's window (see `concurrency`)."""
    if status in SLOW_DOWN:
        return Outcome.SLOW_DOWN
    if status in CONGESTED:
        return Outcome.CONGESTED
    return Outcome.OTHER if status >= 500 else Outcome.OK
ERROR_BODY_LIMIT = 64 * 1024  # bytes of an error answer read for its `msg`
Params = Mapping[str, str | int | bool | None]
__all__ = ["Download", "Observer", "Params", "Redirect", "Transport", "error_for",
           "map_transport_errors", "retry_after_seconds"]


class Transport:
    """One `aiohttp.ClientSession` for the application's life; open it in the lifespan."""

    def __init__(self, config: UpstreamConfig, cache: ResponseCache | None = None,
                 ttls: TimesToLive | Mapping[str, float] | None = None,
                 observer: Observer | None = None, key_recheck: float = 60.0,
                 rng: random.Random | None = None,
                 meter: Callable[[ApiKey], bool | Awaitable[bool]] | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 retries: RetryPolicy | None = None,
                 trace_configs: Sequence[aiohttp.TraceConfig] = (),
                 max_states: int = 10_000, key_share: float = 1.0) -> None:
        """`ttls`: how long answers are cached (a mapping: seconds per family, nothing else
        cached); `max_states`: experiment states remembered, of which one API key's take at
        most `key_share` (see `lifetimes`)."""
        self.config = config
        # The sessions' tracing hooks (see gateway.tracing): none unless traces are exported.
        self._trace_configs = list(trace_configs)
        # Asked before every request sent upstream (the key's rate limit): False, not sent.
        self._meter = meter
        self.observer: Observer = observer or NullObserver()
        self.cache = cache
        if not isinstance(ttls, TimesToLive):
            ttls = TimesToLive(ended=0, running=0, state=0, families=dict(ttls or {}))
        self._lifetimes = Lifetimes(ttls, max_states, clock=clock, key_share=key_share)
        self._flights: SingleFlight[bytes] = SingleFlight()
        self._caching = cache is not None and ttls.any()
        self._recent_keys = RecentKeys(key_recheck, clock=clock)
        # Charts are cached per experiment (see `chart_cache`), when the cache is on.
        self.charts = ChartCache(cache, self._lifetimes, self.observer, self.vouches_for) \
            if cache is not None and self._caching else None
        self._probation = KeySlots(1)  # a key Comet has not accepted: one call at a time
        self._session: aiohttp.ClientSession | None = None  # to the upstream's origin
        self._away: aiohttp.ClientSession | None = None  # to where it redirects, public only
        self._queries = AdaptiveSlots(config.max_concurrency, config.initial_concurrency_per_key,
                                      config.max_concurrency_per_key)
        # When a loader may begin a key's call: never later than its window would send it.
        self.admission = Admission.following(self._queries.room_of)
        self._downloads = Slots(config.max_downloads, config.max_downloads_per_key)
        self._redirects = RedirectPolicy.of(config.root, config.private_redirect_hosts,
                                            config.max_redirects)
        self.retries = retries or RetryPolicy(config, rng=rng, on_retry=self.observer.retry)

    def _new_session(self, connector: aiohttp.TCPConnector) -> aiohttp.ClientSession:
        session = aiohttp.ClientSession(connector=connector, raise_for_status=False,
                                        headers={"User-Agent": "comet-graphql-gateway"},
                                        trace_configs=self._trace_configs or None)
        # aiohttp silently repeats an idempotent request once when a pooled connection
        # was closed under it; our retry policy must be the only one, so that the retry
        # count and the deadline hold. There is no public switch for it; the test
        # `test_cut_connections_give_up_as_unavailable[reset]` fails if this stops working.
        if hasattr(session, "_retry_connection"):
            session._retry_connection = False
        return session

    async def open(self) -> None:
        if self._session is None:
            self._session = self._new_session(
                aiohttp.TCPConnector(limit=self.config.connection_limit))
            self._away = self._new_session(aiohttp.TCPConnector(
                limit=self.config.max_downloads, resolver=self._redirects.resolver()))

    async def close(self) -> None:
        for session in (self._session, self._away):
            if session is not None:
                await session.close()
        self._session = self._away = None
        if self.cache is not None:
            await self.cache.close()

    async def __aenter__(self) -> Transport:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _url(self, endpoint: Endpoint, path_params: Mapping[str, str] | None) -> str:
        """The endpoint's URL, and nothing else: its path parameters are escaped (and the
        few values no escaping can hold refused), so that no value reaches another path."""
        try:
            path = endpoint.url_path(**(path_params or {}))
        except ValueError as exc:
            raise errors.BadRequest(f"not sent: {exc}", endpoint=endpoint.name) from None
        return self.config.rest_root + path

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

    @staticmethod
    @contextlib.asynccontextmanager
    async def _slot(slots: Slots, key: ApiKey, endpoint: Endpoint,
                    remaining: float) -> AsyncIterator[None]:
        """A slot, waited for no longer than the call's deadline allows."""
        holding = slots.hold(key)
        try:
            async with asyncio.timeout(remaining):
                await holding.__aenter__()
        except TimeoutError:
            raise errors.Timeout(f"{endpoint.name}: no upstream slot free in time",
                                 endpoint=endpoint.name) from None
        try:
            yield
        finally:
            await holding.__aexit__(None, None, None)

    def saw_experiments(self, key: ApiKey, experiments: Sequence[ExperimentMetadata]) -> None:
        """What an experiment list or metadata said of experiments' states, for the lifetimes
        of what they logged (see `lifetimes`): from answers already decoded, at no call."""
        if self._caching:
            self._lifetimes.states.saw(key, experiments)

    def vouches_for(self, key: ApiKey) -> bool:
        """Whether Comet answered a call of `key` 200 within the recheck (see `recent_keys`)."""
        return self._recent_keys.vouched(key)

    async def probe(self) -> str:
        """Comet's version probe (`{root}/clientlib/isAlive/ver`, no key needed): the version
        it reports; Unavailable when it does not answer, BadResponse when what answers is not
        Comet (not a 200, not Comet's `{"version": ...}`)."""
        return await ask_version(self._session_or_fail(), self.config)

    async def _request(self, endpoint: Endpoint, key: ApiKey, method: str, url: URL, *,
                       data: bytes | None, timeout: Callable[[], aiohttp.ClientTimeout],
                       follow_redirects: bool = True) -> aiohttp.ClientResponse:
        """One attempt: the request, through the redirects it meets when `follow_redirects`.
        The caller releases the answer. See `redirects` for what a hop may do."""
        headers = {"Authorization": key.reveal()}
        if data is not None:
            headers["Content-Type"] = "application/json;charset=utf-8"
        allowed = True if self._meter is None else self._meter(key)
        if not isinstance(allowed, bool):  # a limit shared through Redis
            allowed = await allowed
        if not allowed:
            raise errors.RateLimited(
                f"{endpoint.name}: not sent; this API key has made too many upstream calls",
                endpoint=endpoint.name)
        home_only = True  # the chain has not left the upstream's origin
        for _hop in range(self._redirects.max_redirects + 1):
            home = self._redirects.is_home(url)
            home_only = home_only and home
            if not home:
                self._redirects.check_away(url, endpoint.name)
            session = self._session_or_fail() if home else self._away_or_fail()
            sent = headers if home_only else {k: v for k, v in headers.items()
                                              if k != "Authorization"}
            # The endpoint goes to the tracing hooks (a span named after it); off the upstream's
            # origin the hop is only a URL.
            resp = await session.request(method, url, data=data, headers=sent,
                                         timeout=timeout(), allow_redirects=False,
                                         trace_request_ctx=endpoint if home else None)
            if resp.status not in REDIRECTS or not follow_redirects:
                return resp
            try:
                url = self._redirects.location(resp.url, resp.status, resp.headers,
                                               endpoint.name)
            finally:
                resp.release()
            method = redirected_method(resp.status, method)
            if method == "GET":
                data = None
                headers.pop("Content-Type", None)
        raise errors.BadResponse(f"{endpoint.name}: more than {self._redirects.max_redirects} "
                                 "redirects", endpoint=endpoint.name)

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

    def _away_or_fail(self) -> aiohttp.ClientSession:
        if self._away is None:
            raise RuntimeError("the upstream transport is not open")
        return self._away

    async def call(self, endpoint: Endpoint, key: ApiKey, *, params: Params | None = None,
                   body: Any = None, path_params: Mapping[str, str] | None = None,
                   deadline: Deadline | float | None = None, budget: Budget | None = None,
                   cached: bool = True, experiment: str | None = None) -> bytes:
        """A REST call whose whole answer is read: the raw bytes of a 200.

        Served from the cache when it holds a fresh answer for this key and request, and Comet
        accepted the key lately (see `recent_keys`), unless `cached` is False (what is new
        since the last call is the point: live metrics); identical calls in flight at once (any
        requests of the same key, as `cached` alike) share one cache lookup and one call.
        `experiment`: the experiment the call is about, whose state sets how long what it
        logged is kept (see `lifetimes`).
        `deadline` is the caller's operation's (event-loop time): past it, DeadlineExceeded.
        Retries are spent from `budget` (the call itself was spent by the caller).
        """
        self._check_key(endpoint, key)
        url, query = self._url(endpoint, path_params), self._query(params)
        data = None if body is None else orjson.dumps(body)
        waits = Deadline.of(deadline)
        if waits is not None and waits.passed():
            raise errors.DeadlineExceeded(f"{endpoint.name}: the operation's deadline passed",
                                          endpoint=endpoint.name)
        # The flight's key is the request's parts as they are: hashing them is for the cache.
        flight = (key.fingerprint, endpoint.name, url, tuple(query.items()), data, cached)
        return await self._flights.run(
            flight, lambda: self._cached_fetch(endpoint, key, url, query, body, data, budget,
                                               cached, experiment), waits, endpoint.name)

    async def _cached_fetch(self, endpoint: Endpoint, key: ApiKey, url: str,
                            query: dict[str, str], body: Any, data: bytes | None,
                            budget: Budget | None, cached: bool = True,
                            experiment: str | None = None) -> bytes:
        # Inside the single flight: identical calls share the lookup too, so a slow cache
        # delays them together, and its misses cannot split them into several upstream calls.
        kept = self._lifetimes.of(endpoint, key, experiment) if self._caching else None
        ttl = kept.ttl if kept is not None else None
        shared = cache_key(key, endpoint, {**query, "_url": url}, body,
                           kept.tag) if kept is not None else ""
        if ttl and self.cache is not None and cached:
            # A key Comet has not vouched for lately is not served from the cache: it is not
            # looked up either (an invented key would cost a Redis command each).
            hit = await self.cache.get(shared) if self._recent_keys.vouched(key) else None
            if hit is not None and not self._recent_keys.vouched(key):
                hit = None  # Comet refused the key while it was looked up (Redis: ~0.5 s)
            self.observer.cache_lookup(endpoint.family, hit is not None)
            if hit is not None:
                return hit
        try:
            if self._recent_keys.known(key):
                content = await self._fetch(endpoint, key, url, query, data, budget)
            else:
                content = await self._on_probation(endpoint, key, url, query, data, budget)
        except errors.Unauthenticated as exc:
            if exc.status == 401:  # Comet's own answer, not a refusal made here
                self._recent_keys.rejected(key)
            raise
        self._recent_keys.accepted(key)
        if ttl and self.cache is not None:
            await self.cache.set(shared, content, ttl)
        return content

    async def _on_probation(self, endpoint: Endpoint, key: ApiKey, url: str,
                            query: dict[str, str], data: bytes | None,
                            budget: Budget | None) -> bytes:
        """A call of a key Comet has not accepted lately: one at a time, so that an invented
        key's request costs Comet one call, not one per field (see `recent_keys`)."""
        async with self._probation.hold(key):
            if self._recent_keys.refused(key):
                # No status: made here, not answered by Comet (so it does not prolong itself).
                raise errors.Unauthenticated(
                    f"{endpoint.name}: Comet refused this API key moments ago; not asked again",
                    endpoint=endpoint.name)
            if not self._recent_keys.known(key):  # still unknown: this call is the probe
                return await self._fetch(endpoint, key, url, query, data, budget)
        # Accepted while this call waited (the probe's caller records it before any waiter
        # resumes): no need to go one at a time any more.
        return await self._fetch(endpoint, key, url, query, data, budget)

    async def _fetch(self, endpoint: Endpoint, key: ApiKey, url: str, query: dict[str, str],
                     data: bytes | None, budget: Budget | None = None) -> bytes:
        target = URL(url, encoded=True).with_query(query) if query else URL(url, encoded=True)
        loop = asyncio.get_running_loop()
        window = self._queries

        async def once(remaining: float) -> bytes:
            ends = loop.time() + min(self.config.timeout, remaining)

            def timeout() -> aiohttp.ClientTimeout:  # one clock for every hop of the attempt
                return aiohttp.ClientTimeout(total=max(0.001, ends - loop.time()))

            async with window.hold(key, remaining, endpoint.name) as report:
                try:
                    with observed(self.observer, endpoint) as record, \
                            map_transport_errors(endpoint.name):
                        resp = await self._request(endpoint, key, endpoint.method, target,
                                                   data=data, timeout=timeout)
                        async with resp:
                            record.status = str(resp.status)
                            report(outcome_of(resp.status),
                                   retry_after_seconds(resp.headers.get("Retry-After"))
                                   if resp.status in SLOW_DOWN else None)
                            content = await self._read_bounded(endpoint, resp)
                            if resp.status == 200:
                                # Comet's now, for how long an experiment has been ended: by
                                # Comet's answers only, not a redirect's elsewhere.
                                if self._redirects.is_home(resp.url):
                                    self._lifetimes.states.upstream.heard(
                                        resp.headers.get("Date"))
                                return content
                            raise error_for(endpoint, resp.status, content,
                                            resp.headers.get("Retry-After"), key)
                except errors.Timeout:
                    report(Outcome.CONGESTED, None)
                    raise

        return await self.retries.run(endpoint, once, budget)

    async def _read_bounded(self, endpoint: Endpoint, resp: aiohttp.ClientResponse) -> bytes:
        """A whole answer, refused (UPSTREAM_BAD_RESPONSE, not retried) past its byte bound,
        by its Content-Length or while it is read."""
        limit = self.config.max_answer_bytes
        too_large = errors.AnswerTooLarge(
            f"{endpoint.name}: the answer is larger than {limit} bytes; ask for less "
            "(fewer experiments or metrics at once, or sampled series)",
            endpoint=endpoint.name, status=resp.status)
        if resp.content_length is not None and resp.content_length > limit:
            raise too_large
        content = bytearray()
        async for chunk in resp.content.iter_chunked(self.config.chunk_size):
            content += chunk
            if len(content) > limit:
                raise too_large
        return bytes(content)

    @contextlib.asynccontextmanager
    async def stream(self, endpoint: Endpoint, key: ApiKey, *, params: Params | None = None,
                     path_params: Mapping[str, str] | None = None,
                     follow_redirects: bool = True,
                     budget: Budget | None = None) -> AsyncIterator[Download | Redirect]:
        """A binary answer, streamed, in a download slot held until the stream is closed.
        Retries happen only before the first byte is handed out."""
        self._check_key(endpoint, key)
        target = URL(self._url(endpoint, path_params), encoded=True).with_query(
            self._query(params))
        loop = asyncio.get_running_loop()
        ends = loop.time() + self.config.download_timeout  # the whole download, body included
        async with contextlib.AsyncExitStack() as stack:

            async def once(remaining: float) -> aiohttp.ClientResponse:
                def timeout() -> aiohttp.ClientTimeout:
                    return aiohttp.ClientTimeout(total=max(0.001, ends - loop.time()),
                                                 sock_connect=min(self.config.timeout,
                                                                  remaining))

                inner = contextlib.AsyncExitStack()
                await inner.enter_async_context(self._slot(self._downloads, key, endpoint,
                                                           remaining))
                try:
                    with observed(self.observer, endpoint) as record, \
                            map_transport_errors(endpoint.name):
                        resp = await self._request(endpoint, key, "GET", target, data=None,
                                                   timeout=timeout,
                                                   follow_redirects=follow_redirects)
                        inner.push_async_exit(resp)
                        record.status = str(resp.status)
                        if resp.status == 200 or (not follow_redirects
                                                  and resp.status in REDIRECTS):
                            stack.push_async_exit(inner)
                            return resp
                        raise error_for(endpoint, resp.status,
                                        await resp.content.read(ERROR_BODY_LIMIT),
                                        resp.headers.get("Retry-After"), key)
                except BaseException:
                    await inner.aclose()
                    raise

            resp = await self.retries.run(endpoint, once, budget)
            if resp.status in REDIRECTS:
                where = self._redirects.location(resp.url, resp.status, resp.headers,
                                                 endpoint.name)
                yield Redirect(str(where))
            else:
                yield Download(resp, endpoint.name, self.config.chunk_size)
