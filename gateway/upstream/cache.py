"""Shared answers: a response cache (in process or in Redis) and single-flight calls.

Every entry is keyed by a hash of the caller's API key, the endpoint and the request, so that
no key ever receives an entry another key's call filled. Only JSON answers are cached; streamed
downloads never pass through here. A cache that fails (Redis down) is a miss, never an error.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from .config import ApiKey
from .endpoints import Endpoint

log = logging.getLogger("gateway.cache")
VERSION = "v1"  # bump when the cached representation changes


class ResponseCache(Protocol):
    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, ttl: float) -> None: ...

    async def close(self) -> None: ...


def cache_key(api_key: ApiKey, endpoint: Endpoint, query: Mapping[str, str],
              body: Any) -> str:
    request = json.dumps([endpoint.method, endpoint.path, sorted(query.items()), body],
                         sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(request.encode()).hexdigest()
    return f"cgw:{VERSION}:{api_key.fingerprint}:{endpoint.name}:{digest}"


class MemoryCache:
    """An in-process LRU with a lifetime per entry."""

    def __init__(self, max_entries: int) -> None:
        self._max = max_entries
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    async def get(self, key: str) -> bytes | None:
        found = self._entries.get(key)
        if found is None:
            return None
        expires, value = found
        if expires < time.monotonic():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        self._entries[key] = (time.monotonic() + ttl, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    async def close(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


class RedisCache:
    """The cache in Redis, shared by every worker and gateway that uses the same server."""

    def __init__(self, url: str) -> None:
        import redis.asyncio as redis  # only needed when Redis is configured

        self._redis = redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)

    async def get(self, key: str) -> bytes | None:
        try:
            value = await self._redis.get(key)
        except Exception as exc:  # a broken cache is a miss, not an outage
            log.warning("redis cache read failed: %s", type(exc).__name__)
            return None
        return value if isinstance(value, bytes) else None

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        try:
            await self._redis.set(key, value, px=max(1, int(ttl * 1000)))
        except Exception as exc:
            log.warning("redis cache write failed: %s", type(exc).__name__)

    async def close(self) -> None:
        await self._redis.aclose()


class SingleFlight:
    """Concurrent identical calls share one: the first runs, the others wait for its answer."""

    def __init__(self) -> None:
        self._flights: dict[str, asyncio.Task[bytes]] = {}

    async def run(self, key: str, call: Callable[[], Awaitable[bytes]],
                  timeout: float | None = None) -> bytes:
        task = self._flights.get(key)
        if task is None:
            task = asyncio.ensure_future(call())
            self._flights[key] = task

            def landed(done: asyncio.Task[bytes]) -> None:
                if self._flights.get(key) is done:
                    del self._flights[key]
                if not done.cancelled():
                    done.exception()  # retrieved here, in case every waiter gave up

            task.add_done_callback(landed)
        # Shielded: one waiter giving up (its deadline, a disconnect) does not cancel the rest.
        return await asyncio.wait_for(asyncio.shield(task), timeout)

    def __len__(self) -> int:
        return len(self._flights)
