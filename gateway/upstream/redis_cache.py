"""The response cache in Redis, shared by every worker and gateway that uses the same server.

A cache must never make the gateway slower than no cache. A Redis that fails or freezes is a
miss, never an error: each command has a short timeout and no retries; after a failure a circuit
breaker skips Redis and probes it in the background until it answers. Lookups asked at once go
together, in a few MGETs over at most half the pool's connections, and wait (bounded, twice a
command's timeout) for a free one rather than miss (`lookup_batches`: a warm dashboard's
hundreds of lookups in a few round trips). An MGET carries about a megabyte, by what values
of its kind were seen to weigh, per API key (`value_sizes`); one of several keys that times
out anyway (a guess too small: values larger than their kind's, never seen by this worker)
raises its kinds' guesses, sends its keys again one to a command within their wait, and asks
a PING in the background, which opens the breaker only when Redis does not answer it, for the
breaker is for a Redis that is down, not for one slow to send a large answer. Writes happen
after the answer, from a bounded queue, in pipelines (likewise, rather than most of them
dropped), each living what is left of its lifetime when it is written (its time in the queue
counts). Redis has no per-key share: it evicts by its own `maxmemory` policy.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from .breaker import CircuitBreaker
from .cache import DEFAULT_MAX_BYTES, VALUE_SHARE, owner_of
from .lookup_batches import MGET_BYTES, SLOW, Answer, LookupBatches
from .value_sizes import ValueSizes

log = logging.getLogger("gateway.cache")
T = TypeVar("T")

REDIS_TIMEOUT = 0.25  # seconds for one command, connecting included
REDIS_COOLDOWN = 5.0  # seconds Redis is skipped after a failure, between probes
REDIS_POOL_SIZE = 32  # connections; past them a command is a miss, not a wait
# Lookup commands in flight at once: the rest of the pool is for probes and for the writes of
# a cache that writes before it answers (the persisted-query store).
LOOKUPS_IN_FLIGHT = REDIS_POOL_SIZE // 2
# How long a lookup waits, in times a command's timeout: for a connection, then its answer.
LOOKUP_WAIT_FACTOR = 2
# Writes behind the answers wait in one queue, written by one task in pipelines: at most this
# many entries, and as many bytes as this many of the largest values; past them a write is
# dropped.
REDIS_QUEUED_WRITES = 1024
REDIS_PENDING_WRITES = 16
PIPELINE_ENTRIES = 128  # entries a pipeline (one round trip, one timeout) carries at most
PIPELINE_BYTES = 1024 * 1024  # ... and bytes, unless one value alone is larger
# The writer's timeout, in times the lookups': it runs beside the answers, whose work (a
# dashboard's decoding) may hold the event loop longer than a lookup's timeout, and nobody
# waits on it. Its connections are its own (two), so the lookups' pool stays theirs.
WRITE_TIMEOUT_FACTOR = 4
WRITER_CONNECTIONS = 2


class RedisCache:
    """The cache in Redis, shared by every worker and gateway that uses the same server.

    `write_behind`: `set` returns at once and the write runs after (the response cache); else
    `set` waits for it, still within the timeout (persisted queries, read back by the client's
    next request).
    """

    def __init__(self, url: str, *, timeout: float = REDIS_TIMEOUT,
                 max_value_bytes: int = DEFAULT_MAX_BYTES // VALUE_SHARE,
                 write_behind: bool = True, cooldown: float = REDIS_COOLDOWN,
                 name: str = "redis cache",
                 clock: Callable[[], float] = time.monotonic) -> None:
        import redis.asyncio as redis  # only needed when Redis is configured
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff
        from redis.exceptions import MaxConnectionsError, ResponseError
        from redis.exceptions import TimeoutError as SocketTimeout

        # No retries (redis-py retries connection errors and timeouts 3 times by default, with
        # backoff, pool exhaustion included): the breaker is the one policy.
        pool = redis.ConnectionPool.from_url(
            url, max_connections=REDIS_POOL_SIZE, socket_timeout=timeout,
            socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0))
        self._redis = redis.Redis.from_pool(pool)
        self._timeout = timeout
        self._write_timeout = timeout * WRITE_TIMEOUT_FACTOR
        self._writer = redis.Redis.from_pool(redis.ConnectionPool.from_url(
            url, max_connections=WRITER_CONNECTIONS, socket_timeout=self._write_timeout,
            socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0))) \
            if write_behind else self._redis
        self._max_value = max_value_bytes
        self._write_behind = write_behind
        self._breaker = CircuitBreaker(name, cooldown, log)
        self._pool_full = MaxConnectionsError
        self._refused = ResponseError
        self._slow = (TimeoutError, SocketTimeout)  # its socket's, or the command's
        self._warned_refusal = False
        self._tasks: set[asyncio.Task[None]] = set()
        # (key, value, when it expires by `clock`): a write that waited has that much less to
        # live, and one that waited its whole lifetime is not written.
        self._queue: collections.deque[tuple[str, bytes, float]] = collections.deque()
        self._clock = clock
        self._queued_bytes = 0
        self._queue_budget = REDIS_PENDING_WRITES * max_value_bytes
        self._flusher: asyncio.Task[None] | None = None
        self._lookups = LookupBatches(self._mget, in_flight=LOOKUPS_IN_FLIGHT,
                                      wait=timeout * LOOKUP_WAIT_FACTOR, owner_of=owner_of)
        self._sizes = ValueSizes(MGET_BYTES)
        self._checking: asyncio.Task[None] | None = None  # a PING after a slow MGET

    async def get(self, key: str) -> bytes | None:
        return (await self.get_many((key,)))[0]

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        await self.set_many([(key, value, ttl)])

    async def get_many(self, keys: Sequence[str], expected_bytes: int = 0
                       ) -> list[bytes | None]:
        if self._skipped():  # no wait for a Redis the breaker skips
            return [None] * len(keys)
        if not keys:
            return []
        # One call's keys are of one kind (an endpoint's answer, one chart's parts).
        return await self._lookups.get_many(keys, self._sizes.guess(keys[0], expected_bytes),
                                            unseen=not self._sizes.seen(keys[0]))

    async def _mget(self, keys: list[str]) -> Answer:
        """One command of the lookups gathered (see `lookup_batches`). A timeout is `SLOW`
        (one key's too): the guesses of a command of one API key's kinds rise, and Redis is
        asked a PING before the breaker hears of it (see the module's docstring)."""
        timed_out: list[bool] = []

        def too_slow() -> None:
            timed_out.append(True)
            self._sizes.timed_out(keys)
            self._check_alive()

        # A key alone that is slow too: its value is large, or the machine busy; Redis is
        # down only if the PING fails (a burst of resent 2 MB values under load would
        # otherwise open the breaker, every lookup a miss for its cooldown).
        values = await self._guarded(lambda: self._redis.mget(keys), on_slow=too_slow)
        if timed_out:
            return SLOW
        if not isinstance(values, list) or len(values) != len(keys):
            return None
        found: list[bytes | None] = []
        for key, value in zip(keys, values, strict=True):
            if isinstance(value, bytes):
                self._sizes.saw(key, len(value))
                found.append(value)
            else:
                found.append(None)
        return found

    def _check_alive(self) -> None:
        """After a slow command: whether Redis answers a PING (if not, the breaker opens)."""
        if self._checking is None:
            self._checking = self._spawn(self._ping())

    async def _ping(self) -> None:
        try:
            await self._guarded(self._redis.ping)
        finally:
            self._checking = None

    async def set_many(self, items: Sequence[tuple[str, bytes, float]]) -> None:
        kept = [(k, v, ttl) for k, v, ttl in items if 0 < ttl and len(v) <= self._max_value]
        if not kept:
            return
        for key, value, _ in kept:
            self._sizes.saw(key, len(value))
        if not self._write_behind:
            await self._write(kept)
            return
        if not self._breaker.closed:
            return
        now = self._clock()
        for key, value, ttl in kept:  # queued while there is room; the rest dropped
            if len(self._queue) >= REDIS_QUEUED_WRITES or \
                    self._queued_bytes + len(value) > self._queue_budget:
                break
            self._queue.append((key, value, now + ttl))
            self._queued_bytes += len(value)
        if self._queue and self._flusher is None:
            self._flusher = self._spawn(self._flush())

    async def _flush(self) -> None:
        """Write what is queued, a pipeline at a time, until the queue is empty (or Redis
        fails: then what is queued is dropped)."""
        try:
            while self._queue and self._breaker.closed:
                batch: list[tuple[str, bytes, float]] = []
                size = 0
                while self._queue and len(batch) < PIPELINE_ENTRIES and (
                        not batch or size + len(self._queue[0][1]) <= PIPELINE_BYTES):
                    batch.append(self._queue.popleft())
                    size += len(batch[-1][1])
                self._queued_bytes -= size
                now = self._clock()
                left = [(k, v, at - now) for k, v, at in batch if at - now >= 0.001]
                if left:
                    await self._write(left)
        finally:
            self._flusher = None
            if not self._breaker.closed:
                self._queue.clear()
                self._queued_bytes = 0

    async def _write(self, items: Sequence[tuple[str, bytes, float]]) -> None:
        """One pipeline (one round trip, one timeout): the writer's, behind the answers."""
        async def pipelined() -> None:
            async with self._writer.pipeline(transaction=False) as pipe:
                for key, value, ttl in items:
                    pipe.set(key, value, px=max(1, int(ttl * 1000)))
                await pipe.execute()

        await self._guarded(pipelined, self._write_timeout if self._write_behind
                            else self._timeout)

    async def close(self) -> None:
        # Cancelled before anything here yields: a writer that has not started yet does not
        # start (redis-py may swallow a cancel that lands while it connects).
        for task in list(self._tasks):
            task.cancel()
        await self._lookups.close()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._queue.clear()
        self._queued_bytes = 0
        if self._writer is not self._redis:
            await self._writer.aclose()
        await self._redis.aclose()

    def _spawn(self, work: Awaitable[None]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _skipped(self) -> bool:
        """Whether the breaker skips Redis now (then it probes it, in the background)."""
        if self._breaker.closed:
            return False
        if self._breaker.take_probe():
            self._spawn(self._breaker.probe(self._redis.ping, self._timeout))
        return True

    async def _guarded(self, command: Callable[[], Awaitable[T]],
                       timeout: float | None = None, *,
                       on_slow: Callable[[], None] | None = None) -> T | None:
        """The command's answer; None when Redis is skipped, refuses, fails or is slower than
        `timeout` (by default, a lookup's). `on_slow`: what a timeout does instead of counting
        as a failure."""
        if self._skipped():
            return None
        try:
            async with asyncio.timeout(timeout or self._timeout):
                answer = await command()
        except self._slow as exc:
            if on_slow is not None:
                on_slow()
            else:
                self._breaker.failed(type(exc).__name__)
            return None
        except self._pool_full:
            return None  # all connections busy: a miss now, not a queue
        except self._refused as exc:  # it answered (maxmemory, a read-only replica, ...)
            if not self._warned_refusal:
                self._warned_refusal = True
                log.warning("redis refused a cache command: %s", type(exc).__name__)
            return None
        except Exception as exc:  # a broken cache is a miss, not an outage
            self._breaker.failed(type(exc).__name__)
            return None
        self._breaker.succeeded()
        return answer
