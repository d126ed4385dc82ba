"""Token buckets in Redis: one limit for every worker and replica that uses the same server.

Each charge is one Lua script (EVALSHA), so reading the level, refilling it by the time passed
and taking tokens happen atomically in Redis; the time is Redis's own (`TIME`), so processes
whose clocks differ still share one bucket. A bucket is a hash `{tokens, at}` under a key that
holds a hash of its name, never the name (a client's address, a key's fingerprint); it expires
once it would have refilled, so a full bucket costs Redis nothing.

The `limits` library was weighed and not taken: its strategies are windows (fixed, moving,
sliding), not a bucket that running work may take below zero down to a floor and that a cost
may charge partly, which is what `rate_limits` promises; a Lua script of 20 lines does.

A Redis that fails or freezes must not make the gateway slower or refuse everyone: each script
has the Redis timeout (`COMET_GATEWAY_REDIS_TIMEOUT`, waiting for its turn included), no
retries and a few connections; past a failure a circuit breaker (as the cache's) skips Redis
and probes it in the background, while the process's own buckets (`TokenBuckets`) hold the
limit per process.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from .upstream.breaker import CircuitBreaker

log = logging.getLogger("gateway.rate_limits")

# Scripts in flight at once (and connections): a script takes a fraction of a millisecond, so a
# few carry thousands of charges a second; the others wait their turn, within the timeout, and
# skip Redis if it failed meanwhile (so a frozen Redis costs this many connections, not one per
# waiter).
POOL_SIZE = 4
COOLDOWN = 5.0  # seconds Redis is skipped after a failure, between probes
MAX_TTL_MS = 86_400_000  # a bucket that refills slower than this is forgotten after a day
# Charges whose answer nobody waits for (a cost beyond a request's token) in flight at once;
# past them a charge is made in process.
PENDING_CHARGES = 64

# KEYS[1] the bucket; ARGV: rate, burst, floor, tokens, mode. Modes: "wait" reads only; "take"
# takes 1 when there is 1; "charge" takes `tokens` down to the floor, or none past it;
# "partly" takes as many as are left above the floor. Answers {taken (0/1), level} with the
# level as text (Lua numbers come back as integers).
SCRIPT = """
local rate, burst, floor = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local tokens, mode = tonumber(ARGV[4]), ARGV[5]
local now = redis.call('TIME')
now = tonumber(now[1]) + tonumber(now[2]) / 1e6
local saved = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local level = burst
if saved[1] then
  level = math.min(burst, tonumber(saved[1]) + math.max(0, now - tonumber(saved[2])) * rate)
end
local taken = 1
if mode == 'wait' then
  return {1, tostring(level)}
elseif mode == 'take' then
  if level >= 1 then level = level - 1 else taken = 0 end
elseif level - tokens >= floor then
  level = level - tokens
elseif mode == 'partly' then
  level = math.max(floor, level - tokens)
else
  taken = 0
end
redis.call('HSET', KEYS[1], 'tokens', tostring(level), 'at', tostring(now))
local ttl = math.min(tonumber(ARGV[6]), math.ceil((burst - level) / rate * 1000) + 1000)
redis.call('PEXPIRE', KEYS[1], math.max(1000, ttl))
return {taken, tostring(level)}
"""


class RedisBuckets:
    """The Redis side of one kind of bucket (`kind`: "requests", "upstream"): `rate` tokens a
    second, at most `burst` saved up, charges down to `floor`. Every method answers None when
    Redis is skipped, fails or is too slow: the caller then uses its own bucket."""

    def __init__(self, redis: Any, script: Any, breaker: CircuitBreaker,
                 turns: asyncio.Semaphore, kind: str, rate: float, burst: int, floor: float,
                 timeout: float) -> None:
        self._redis, self._script, self._breaker = redis, script, breaker
        self._turns = turns
        self._prefix = f"cgw:rl:v1:{kind}:"
        self._args = (rate, burst, floor)
        self._timeout = timeout
        self._tasks: set[asyncio.Task[None]] = set()

    def key(self, name: str) -> str:
        return self._prefix + hashlib.sha256(name.encode()).hexdigest()[:40]

    async def level(self, name: str, tokens: float = 1.0, mode: str = "take") -> \
            tuple[bool, float] | None:
        """Run the script for `name`: (taken, level after), or None when Redis is not used."""
        answer = await self._guarded(lambda: self._script(
            keys=[self.key(name)], args=[*self._args, tokens, mode, MAX_TTL_MS]))
        if not isinstance(answer, list) or len(answer) != 2:
            return None
        return bool(answer[0]), float(answer[1])

    def charge_later(self, name: str, tokens: float, fallback: Callable[[], object]) -> None:
        """A partial charge nobody waits for: sent in the background (`fallback` when Redis
        is not used, or when too many are in flight)."""
        if not self._breaker.closed or len(self._tasks) >= PENDING_CHARGES:
            fallback()
            return

        async def charge() -> None:
            if await self.level(name, tokens, "partly") is None:
                fallback()

        self._spawn(charge())

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guarded(self, command: Callable[[], Awaitable[Any]]) -> Any:
        if not self._breaker.closed:
            if self._breaker.take_probe():
                self._spawn(self._breaker.probe(self._redis.ping, self._timeout))
            return None
        try:
            async with asyncio.timeout(self._timeout), self._turns:
                if not self._breaker.closed:  # it failed while this one waited its turn
                    return None
                answer = await command()
        except Exception as exc:  # a broken Redis is a limit per process, not an outage
            self._breaker.failed(type(exc).__name__)
            return None
        self._breaker.succeeded()
        return answer



class RedisConnection:
    """One pool and one registered script for every kind of bucket."""

    def __init__(self, url: str, timeout: float) -> None:
        import redis.asyncio as redis  # only needed when Redis is configured
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        pool = redis.ConnectionPool.from_url(
            url, max_connections=POOL_SIZE, socket_timeout=timeout,
            socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0))
        self.redis = redis.Redis.from_pool(pool)
        self.script = self.redis.register_script(SCRIPT)  # EVALSHA, loaded once when missing
        self.breaker = CircuitBreaker("redis rate limits", COOLDOWN, log)
        # A burst waits its turn rather than taking the process's own bucket (which would let
        # it past the shared limit).
        self.turns = asyncio.Semaphore(POOL_SIZE)
        self.timeout = timeout

    def buckets(self, kind: str, rate: float, burst: int, floor: float) -> RedisBuckets:
        return RedisBuckets(self.redis, self.script, self.breaker, self.turns, kind, rate,
                            burst, floor, self.timeout)

    async def close(self) -> None:
        await self.redis.aclose()
