"""Cache lookups gathered into a few commands: the lookups asked in one turn of the event loop
go together, in MGETs bounded in keys and in expected bytes, over at most a few connections.

A dashboard asks hundreds of lookups at once. One command each would need hundreds of
connections; past the pool's they would be misses, and a warm dashboard would cost as many
upstream calls as a cold one. Gathered, they cost a few round trips; and lookups asked while
every connection is busy wait for the next free one, in the next commands, rather than miss.

Bounded everywhere: a lookup waits at most `wait` seconds (a connection, then its command's
answer), then is a miss; at most `max_waiting` lookups wait (past them a lookup is a miss at
once); no command carries more than `MGET_KEYS` distinct keys or, by the callers' guess of each
value's size, `MGET_BYTES` bytes, so that a large request's lookups are no likelier to time out
than a small one's. (A guess can be wrong: the cache decides what a command that timed out
says of Redis, see `RedisCache`.)
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Awaitable, Callable, Sequence

MGET_KEYS = 128  # keys one command carries at most
MGET_BYTES = 1024 * 1024  # ... and expected bytes, unless one value alone is expected larger
EXPECTED_BYTES = 4096  # a value's size, for a lookup whose caller made no guess
MAX_WAITING = 16_384  # lookups waiting for a connection; past them a lookup is a miss

# The command of a batch of keys: their values in order, or None when Redis failed, refused,
# was slower than its timeout or is skipped (each a miss; the breaker is the command's).
Fetch = Callable[[list[str]], Awaitable[Sequence[bytes | None] | None]]


class LookupBatches:
    """Lookups of one cache, gathered (see the module's docstring)."""

    def __init__(self, fetch: Fetch, *, in_flight: int, wait: float,
                 max_waiting: int = MAX_WAITING) -> None:
        self._fetch = fetch
        self._max_in_flight = in_flight
        self._wait = wait
        self._max_waiting = max_waiting
        # (key, expected bytes, its waiter): a waiter each, so that one giving up (its
        # deadline, a disconnect) cancels nobody else's lookup of the same key.
        self._waiting: collections.deque[tuple[str, int, asyncio.Future[bytes | None]]] = \
            collections.deque()
        self._in_flight = 0
        self._scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    async def get_many(self, keys: Sequence[str], expected_bytes: int = 0
                       ) -> list[bytes | None]:
        """Each key's value (None for a miss), with the other lookups of this moment."""
        if not keys:
            return []
        loop = asyncio.get_running_loop()
        if self._closed or len(self._waiting) + len(keys) > self._max_waiting:
            return [None] * len(keys)
        expected = expected_bytes or EXPECTED_BYTES
        waiters: list[asyncio.Future[bytes | None]] = []
        for key in keys:
            waiter: asyncio.Future[bytes | None] = loop.create_future()
            self._waiting.append((key, expected, waiter))
            waiters.append(waiter)
        if not self._scheduled:
            # After every task of this turn has asked its lookups: they go together.
            self._scheduled = True
            loop.call_soon(self._send)
        try:
            async with asyncio.timeout(self._wait):
                return [await w for w in waiters]
        except TimeoutError:
            return [w.result() if w.done() and not w.cancelled() else None for w in waiters]
        finally:
            for w in waiters:  # given up: left out of the commands still to be sent
                w.cancel()

    def _send(self) -> None:
        """Start commands for what waits, while connections are free."""
        self._scheduled = False
        if self._closed:  # scheduled before close(): nothing may start after it
            return
        while self._waiting and self._in_flight < self._max_in_flight:
            batch = self._take()
            if batch:
                self._in_flight += 1
                task = asyncio.ensure_future(self._answer(batch))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    def _take(self) -> dict[str, list[asyncio.Future[bytes | None]]]:
        """The next command's keys, each once with its waiters: in the order asked, bounded
        in keys and expected bytes."""
        batch: dict[str, list[asyncio.Future[bytes | None]]] = {}
        size = 0
        waiting = self._waiting
        while waiting:
            key, expected, waiter = waiting[0]
            if waiter.done():  # its caller gave up
                waiting.popleft()
                continue
            same = batch.get(key)
            if same is None:
                if len(batch) >= MGET_KEYS or (batch and size + expected > MGET_BYTES):
                    break
                same = batch[key] = []
                size += expected
            waiting.popleft()
            same.append(waiter)
        return batch

    async def _answer(self, batch: dict[str, list[asyncio.Future[bytes | None]]]) -> None:
        values: Sequence[bytes | None] | None = None
        try:
            values = await self._fetch(list(batch))
        finally:  # cancelled (the cache closing) too: its waiters are misses, not errors
            self._in_flight -= 1
            if values is None or len(values) != len(batch):
                values = [None] * len(batch)
            for waiters, value in zip(batch.values(), values, strict=True):
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_result(value)
            if self._waiting and not self._scheduled and not self._closed:
                self._scheduled = True
                asyncio.get_running_loop().call_soon(self._send)

    async def close(self) -> None:
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        while self._waiting:
            waiter = self._waiting.popleft()[2]
            if not waiter.done():
                waiter.set_result(None)
