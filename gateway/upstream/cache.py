"""The response cache: in process or in Redis (single flight is in `shared`).

Every entry is keyed by a hash of the caller's API key, the endpoint and the request, so that
no key ever receives an entry another key's call filled. Only JSON answers are cached; streamed
downloads never pass through here.

Both caches are bounded in bytes, whatever clients ask for: the in-process one holds at most
`max_bytes` (keys, values and an allowance for bookkeeping) and frees entries when they expire,
not when they are next looked up; neither keeps a value over `max_value_bytes`. In process, one
API key's entries take at most `key_share` of the bytes and of the entries: past it, a key's
new entries evict its own least recently used, never another key's; and when the whole cache
is full, the entries that go are those of the key holding the most (max-min fair), so that
neither one key's large request nor a few keys together can empty the cache of everyone
else's dashboards.

A cache must never make the gateway slower than no cache. A Redis that fails or freezes is a
miss, never an error: each command has a short timeout and no retries; after a failure a circuit
breaker skips Redis and probes it in the background until it answers. Lookups asked at once go
together, in a few MGETs over at most half the pool's connections, and wait (bounded, twice a
command's timeout) for a free one rather than miss (`lookup_batches`: a warm dashboard's
hundreds of lookups in a few round trips). An MGET carries about a megabyte, by what values
of its kind were seen to weigh (`value_sizes`); one of several keys that times out anyway (a
guess too small: values larger than their kind's) is a miss and a PING in the background,
which opens the breaker only when Redis does not answer it, for the breaker is for a Redis
that is down, not for one slow to send a large answer. Writes happen after the answer, from
a bounded queue, in pipelines (likewise, rather than most of them dropped), each living what
is left of its lifetime when it is written (its time in the queue counts).
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import heapq
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

import orjson

from .breaker import CircuitBreaker
from .config import ApiKey
from .endpoints import Endpoint
from .lookup_batches import LookupBatches
from .value_sizes import ValueSizes

log = logging.getLogger("gateway.cache")
T = TypeVar("T")
VERSION = "v1"  # bump when the cached representation changes

DEFAULT_MAX_BYTES = 32 * 1024 * 1024
VALUE_SHARE = 16  # by default, a value over 1/16 of the budget is not cached
# What an entry costs beyond its key's characters and its value's bytes: the objects' headers,
# its OrderedDict slot, the (expiry, value) tuple, the heap's item. About 315 with tracemalloc.
ENTRY_OVERHEAD = 320

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


class ResponseCache(Protocol):
    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, ttl: float) -> None: ...

    async def get_many(self, keys: Sequence[str], expected_bytes: int = 0
                       ) -> list[bytes | None]:
        """Each key's value (None for a miss), in few round trips; `expected_bytes`: a guess
        of each value's size, so that no command carries too many bytes."""
        ...

    async def set_many(self, items: Sequence[tuple[str, bytes, float]]) -> None:
        """(key, value, ttl) each, in one round trip."""
        ...

    async def close(self) -> None: ...


def cache_key(api_key: ApiKey, endpoint: Endpoint, query: Mapping[str, str],
              body: Any, tag: str = "") -> str:
    """The entry's key; `tag` tells entries of one request apart by their experiment's state
    (see `lifetimes`)."""
    request = orjson.dumps([endpoint.method, endpoint.path, sorted(query.items()), body],
                           option=orjson.OPT_SORT_KEYS)  # json takes 20 times as long
    digest = hashlib.sha256(request).hexdigest()
    return f"cgw:{VERSION}:{api_key.fingerprint}:{endpoint.name}:{digest}" + (
        f":{tag}" if tag else "")


def _cost(key: str, value: bytes) -> int:
    return len(key) + len(value) + ENTRY_OVERHEAD


def _owner(key: str) -> str:
    """The fingerprint of the API key an entry belongs to (`cache_key`'s third part); "" for
    an entry of nobody's."""
    parts = key.split(":", 3)
    return parts[2] if len(parts) == 4 and parts[0] == "cgw" else ""


class _Owned:
    """One API key's entries in the cache: their bytes, and their keys least recently used
    first."""

    __slots__ = ("bytes", "keys")

    def __init__(self) -> None:
        self.bytes = 0
        self.keys: OrderedDict[str, None] = OrderedDict()


class MemoryCache:
    """An in-process LRU bounded in bytes and in entries, with a lifetime per entry.

    Expired entries are freed as time passes: a heap of expiry times is swept on every get and
    set, and before `usage()` reports, so memory held by answers nobody asks for again returns.
    """

    def __init__(self, max_entries: int, *, max_bytes: int = DEFAULT_MAX_BYTES,
                 max_value_bytes: int | None = None, key_share: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """`key_share`: of the bytes and entries, what one API key's entries may take."""
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        # Shares are kept only when they bound anything (the hot path of a cache without
        # them stays as it was).
        self._owners: dict[str, _Owned] | None = {} if key_share < 1 else None
        self._share_bytes = int(max_bytes * key_share)
        self._share_entries = max(1, int(max_entries * key_share))
        self._max_value = max_bytes // VALUE_SHARE if max_value_bytes is None \
            else max_value_bytes
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        # (expiry, key) of every entry, and of entries since replaced or evicted (skipped when
        # popped, and dropped when they outnumber the live ones).
        self._expiries: list[tuple[float, str]] = []
        self._bytes = 0

    async def get(self, key: str) -> bytes | None:
        self._sweep()  # afterwards every entry left is live
        found = self._entries.get(key)
        if found is None:
            return None
        self._entries.move_to_end(key)
        if self._owners is not None:  # its owner's least recently used go first, too
            owned = self._owners.get(_owner(key))
            if owned is not None:
                owned.keys.move_to_end(key)
        return found[1]

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        self._sweep()
        self._drop(key)  # an answer refused below must not leave an older one behind
        if ttl <= 0 or len(value) > self._max_value:
            return
        expires = self._clock() + ttl
        self._entries[key] = (expires, value)
        self._bytes += _cost(key, value)
        heapq.heappush(self._expiries, (expires, key))
        if self._owners is not None:
            self._owned(key, value)
        while self._bytes > self._max_bytes or len(self._entries) > self._max_entries:
            if self._owners:  # the largest holder's least recently used: max-min fair
                by_bytes = self._bytes > self._max_bytes
                largest = max(self._owners.values(), key=lambda o: o.bytes if by_bytes
                              else len(o.keys))
                self._drop(next(iter(largest.keys)))
                continue
            oldest, (_, old) = self._entries.popitem(last=False)
            self._bytes -= _cost(oldest, old)
            self._disowned(oldest, old)
        if len(self._expiries) > 2 * len(self._entries) + 64:
            self._expiries = [(at, k) for k, (at, _) in self._entries.items()]
            heapq.heapify(self._expiries)

    async def get_many(self, keys: Sequence[str], expected_bytes: int = 0
                       ) -> list[bytes | None]:
        return [await self.get(key) for key in keys]

    async def set_many(self, items: Sequence[tuple[str, bytes, float]]) -> None:
        for key, value, ttl in items:
            await self.set(key, value, ttl)

    def usage(self) -> tuple[int, int]:
        """Bytes held (bookkeeping included) and entries, expired ones freed first."""
        self._sweep()
        return self._bytes, len(self._entries)

    async def close(self) -> None:
        self._entries.clear()
        self._expiries.clear()
        self._bytes = 0
        if self._owners is not None:
            self._owners.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def _owned(self, key: str, value: bytes) -> None:
        """Count a new entry to its API key's share; past the share, its oldest go."""
        assert self._owners is not None
        owned = self._owners.get(owner := _owner(key))
        if owned is None:
            owned = self._owners[owner] = _Owned()
        owned.bytes += _cost(key, value)
        owned.keys[key] = None
        while owned.bytes > self._share_bytes or len(owned.keys) > self._share_entries:
            self._drop(next(iter(owned.keys)))

    def _disowned(self, key: str, value: bytes) -> None:
        if self._owners is None:
            return
        owner = _owner(key)
        owned = self._owners.get(owner)
        if owned is not None and key in owned.keys:
            del owned.keys[key]
            owned.bytes -= _cost(key, value)
            if not owned.keys:
                del self._owners[owner]

    def _drop(self, key: str) -> None:
        found = self._entries.pop(key, None)
        if found is not None:
            self._bytes -= _cost(key, found[1])
            self._disowned(key, found[1])

    def _sweep(self) -> None:
        now = self._clock()
        heap = self._expiries
        while heap and heap[0][0] <= now:
            expires, key = heapq.heappop(heap)
            found = self._entries.get(key)
            if found is not None and found[0] == expires:  # not a replaced entry's
                del self._entries[key]
                self._bytes -= _cost(key, found[1])
                self._disowned(key, found[1])


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
                                      wait=timeout * LOOKUP_WAIT_FACTOR, owner_of=_owner)
        self._sizes = ValueSizes()
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
        return await self._lookups.get_many(keys, self._sizes.guess(keys[0], expected_bytes))

    async def _mget(self, keys: list[str]) -> list[bytes | None] | None:
        """One command of the lookups gathered (see `lookup_batches`). A timeout of several
        keys is a miss, and Redis is asked a PING before the breaker hears of it (see the
        module's docstring)."""
        values = await self._guarded(lambda: self._redis.mget(keys),
                                     slow_is_miss=len(keys) > 1)
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
                       timeout: float | None = None, *, slow_is_miss: bool = False
                       ) -> T | None:
        """The command's answer; None when Redis is skipped, refuses, fails or is slower than
        `timeout` (by default, a lookup's). `slow_is_miss`: a timeout is checked with a PING
        rather than counted as a failure."""
        if self._skipped():
            return None
        try:
            async with asyncio.timeout(timeout or self._timeout):
                answer = await command()
        except self._slow as exc:
            if slow_is_miss:
                self._check_alive()
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

