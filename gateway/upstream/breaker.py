"""A circuit breaker: after a failure, skip the service for a while, then let one probe through.

    closed ──failure──> open ──cooldown passed──> probing ──success──> closed
                         ^                            │
                         └───────────failure──────────┘

It logs one line when the service starts failing and one when it answers again, never one per
call: under a dead service, the callers are many and the news is one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable


class CircuitBreaker:
    def __init__(self, name: str, cooldown: float, log: logging.Logger,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._name = name
        self._cooldown = cooldown
        self._log = log
        self._clock = clock
        self._open_until: float | None = None  # None while closed
        self._probing = False

    @property
    def closed(self) -> bool:
        """Calls may go through."""
        return self._open_until is None

    def take_probe(self) -> bool:
        """True once per cooldown while open: the caller should probe the service now."""
        if self._open_until is None or self._probing or self._clock() < self._open_until:
            return False
        self._probing = True
        return True

    def succeeded(self) -> None:
        if self._open_until is not None:
            self._log.warning("%s answers again", self._name)
        self._open_until = None
        self._probing = False

    def failed(self, reason: str) -> None:
        if self._open_until is None:
            self._log.warning("%s failed (%s): skipped, and probed every %.0f s until it "
                              "answers", self._name, reason, self._cooldown)
        else:
            self._log.debug("%s still failing (%s)", self._name, reason)
        self._open_until = self._clock() + self._cooldown
        self._probing = False

    def abstain(self) -> None:
        """A call that taught nothing (cancelled, or refused before reaching the service)."""
        self._probing = False

    async def probe(self, ping: Callable[[], Awaitable[object]], timeout: float) -> None:
        """Ask the service once (`ping`, within `timeout`) and record what it said: what a
        caller runs, in the background, when `take_probe` says so."""
        try:
            async with asyncio.timeout(timeout):
                await ping()
        except Exception as exc:
            self.failed(type(exc).__name__)
        else:
            self.succeeded()
        finally:
            self.abstain()
