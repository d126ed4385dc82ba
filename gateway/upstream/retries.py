"""When a failed upstream call is tried again, and how long it waits first.

500/502/503/504, refused or reset connections and timeouts are retried with exponential
backoff and full jitter, at most `max_retries` times (a 503's `Retry-After`, when it has one,
is waited out instead when longer); a 429 is waited out when its `Retry-After` fits the
deadline (never sooner than the backoff); nothing else is retried.
Every retry is spent from the caller's budget, if it has one. The clock, the sleep and the
random source are the policy's own, so that tests can run it without waiting.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from . import errors
from .budget import Budget
from .config import UpstreamConfig
from .endpoints import Endpoint

log = logging.getLogger("gateway.upstream")
T = TypeVar("T")
RETRYABLE_STATUS = frozenset({500, 502, 503, 504})


class RetryPolicy:
    def __init__(self, config: UpstreamConfig, *, rng: random.Random | None = None,
                 clock: Callable[[], float] | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 on_retry: Callable[[str], None] | None = None) -> None:
        self.max_retries = config.max_retries
        self.backoff_base, self.backoff_max = config.backoff_base, config.backoff_max
        self.deadline = config.deadline
        self._rng = rng or random.Random()
        self._clock = clock  # None: the running loop's
        self._sleep = sleep
        self._on_retry = on_retry

    def now(self) -> float:
        return self._clock() if self._clock is not None else asyncio.get_running_loop().time()

    def backoff(self, retries: int) -> float:
        cap = min(self.backoff_max, self.backoff_base * 2 ** retries)
        return self._rng.uniform(0, cap)

    async def run(self, endpoint: Endpoint, attempt_once: Callable[[float], Awaitable[T]],
                  budget: Budget | None = None) -> T:
        """Run `attempt_once(time left)` until it succeeds or the rules say stop, within the
        call's deadline. The first attempt was spent by the caller; each retry is spent here,
        and when the budget has none left, the last failure stands."""
        deadline = self.now() + self.deadline
        retries = 0
        while True:
            remaining = deadline - self.now()
            if remaining <= 0:
                raise errors.Timeout(f"{endpoint.name}: deadline passed", endpoint=endpoint.name)
            try:
                return await attempt_once(remaining)
            except errors.RateLimited as exc:
                # A Retry-After of 0 (or in the past) is no reason to hammer: back off anyway.
                wait = None if exc.retry_after is None else max(exc.retry_after,
                                                                self.backoff(retries))
                if (wait is None or retries >= self.max_retries
                        or self.now() + wait > deadline):
                    raise
                if budget is not None and not budget.try_spend():
                    raise
            except errors.Unavailable as exc:
                retryable = exc.status is None or exc.status in RETRYABLE_STATUS
                if not retryable or retries >= self.max_retries:
                    raise
                wait = self.backoff(retries)
                if exc.retry_after is not None:  # a 503 that says when: not sooner
                    wait = max(wait, exc.retry_after)
                if self.now() + wait >= deadline:
                    raise
                if budget is not None and not budget.try_spend():
                    raise
            retries += 1
            log.info("retrying %s in %.2fs (retry %d)", endpoint.name, wait, retries)
            if self._on_retry is not None:
                self._on_retry(endpoint.name)
            await self._sleep(wait)
