"""How many calls one API key may have in flight: a window that adapts to the upstream.

A fixed cap is wrong both ways: too low and a dashboard of 300 calls goes in many waves
against an upstream that would take them at once; too high and a strict upstream is flooded
with calls it answers 429. So each key gets a window, as TCP does for its packets (AIMD):

- it starts at `initial` and, while the upstream answers well and the window is what holds
  calls back, grows by one call per success (doubling each round trip) up to `ceiling`;
- a 429 or a 503 halves it (never below 1), once per window: the calls that were already in
  flight when it was cut do not cut it again. After the first cut it grows by one call per
  round trip only;
- a short `Retry-After` (at most `MAX_PAUSE`) holds the key's new calls until then: the
  upstream asks for a moment's quiet. A longer one is the refused call's own (the retry policy
  waits it out or fails the call at once), so that one endpoint's long refusal does not stall
  every other read of the key, nor make them wait past their deadlines.

A key's window outlives its calls for a while (`keep`), so that the next request of the same
client starts where the last one ended; idle windows are forgotten oldest first past
`max_idle_keys`, so that invented keys cannot fill memory.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from enum import Enum

from . import errors
from .config import ApiKey

MAX_PAUSE = 2.0  # seconds: the longest Retry-After that holds a key's new calls
MAX_IDLE_KEYS = 10_000  # idle windows remembered, all keys together
KEEP = 600.0  # seconds an idle window is remembered


class Outcome(Enum):
    OK = "ok"  # the upstream answered (any status but the two below)
    SLOW_DOWN = "slow down"  # 429 or 503: the upstream asks for less
    OTHER = "other"  # no answer to learn from (a timeout, a reset, cancelled)


class Window:
    """One key's window (see the module's docstring)."""

    __slots__ = ("limit", "ceiling", "in_flight", "growing_fast", "epoch", "paused_until",
                 "_waiters", "_clock", "_wake_timer", "last_used")

    def __init__(self, initial: int, ceiling: int, clock: Callable[[], float]) -> None:
        self.ceiling = max(1, ceiling)
        self.limit = float(min(max(1, initial), self.ceiling))
        self.in_flight = 0
        self.growing_fast = True  # until the first cut
        self.epoch = 0  # bumped by each cut: calls sent before it cannot cut again
        self.paused_until = 0.0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._clock = clock
        self._wake_timer: asyncio.TimerHandle | None = None
        self.last_used = clock()

    @property
    def idle(self) -> bool:
        return self.in_flight == 0 and not self._waiters

    def _may_start(self) -> bool:
        return self.in_flight < int(self.limit) and self._clock() >= self.paused_until

    def try_acquire(self) -> tuple[int, bool] | None:
        """Room now, without waiting: (the epoch it started in, whether the window was then
        full); None when the call must wait."""
        if not self._waiters and self._may_start():
            self.in_flight += 1
            return self.epoch, self.in_flight >= int(self.limit)
        return None

    async def acquire(self) -> tuple[int, bool]:
        """Wait for room (see `try_acquire`)."""
        ticket = self.try_acquire()
        if ticket is not None:
            return ticket
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self._wake()  # paused with nothing in flight: only a timer will wake it
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.in_flight -= 1  # room was handed over as it was cancelled: pass it on
                self._wake()
            else:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
            raise
        return self.epoch, True  # it had to wait: the window was what held it back

    def release(self, epoch: int, was_full: bool, outcome: Outcome,
                retry_after: float | None = None) -> None:
        self.in_flight -= 1
        self.last_used = self._clock()
        if outcome is Outcome.SLOW_DOWN:
            if epoch == self.epoch:
                self.limit = max(1.0, self.limit / 2)
                self.growing_fast = False
                self.epoch += 1
            if retry_after is not None and 0 < retry_after <= MAX_PAUSE:
                self.paused_until = max(self.paused_until, self._clock() + retry_after)
        elif outcome is Outcome.OK and was_full and self.limit < self.ceiling:
            self.limit = min(float(self.ceiling),
                             self.limit + (1.0 if self.growing_fast else 1.0 / self.limit))
        self._wake()

    def _wake(self) -> None:
        while self._waiters and self.in_flight < int(self.limit):
            pause = self.paused_until - self._clock()
            if pause > 0:
                self._wake_later(pause)
                return
            waiter = self._waiters.popleft()
            if not waiter.done():
                self.in_flight += 1
                waiter.set_result(None)

    def _wake_later(self, delay: float) -> None:
        if self._wake_timer is None:
            def wake() -> None:
                self._wake_timer = None
                self._wake()

            self._wake_timer = asyncio.get_running_loop().call_later(delay, wake)


class AdaptiveSlots:
    """Every key's window, plus one cap over all keys together (`total`)."""

    def __init__(self, total: int, initial: int, ceiling: int, *,
                 clock: Callable[[], float] = time.monotonic,
                 max_idle_keys: int = MAX_IDLE_KEYS, keep: float = KEEP) -> None:
        self._all = asyncio.Semaphore(total)
        self._initial, self._ceiling = initial, ceiling
        self._clock = clock
        self._max_idle, self._keep = max_idle_keys, keep
        self._windows: collections.OrderedDict[str, Window] = collections.OrderedDict()

    def window(self, key: ApiKey) -> Window:
        window = self._windows.get(key.fingerprint)
        if window is None:
            window = self._windows[key.fingerprint] = Window(self._initial, self._ceiling,
                                                             self._clock)
            self._forget_idle()
        else:
            self._windows.move_to_end(key.fingerprint)
        return window

    def _forget_idle(self) -> None:
        """Drop idle windows past their time, and the oldest past the count (busy ones stay)."""
        now = self._clock()
        excess = len(self._windows) - self._max_idle
        for fingerprint, window in list(self._windows.items()):
            if not window.idle:
                continue
            if excess > 0 or now - window.last_used > self._keep:
                del self._windows[fingerprint]
                excess -= 1
            elif excess <= 0:
                break  # oldest first: the rest were used more recently

    @contextlib.asynccontextmanager
    async def hold(self, key: ApiKey, timeout: float | None = None, what: str = "call"
                   ) -> AsyncIterator[Callable[[Outcome, float | None], None]]:
        """A slot of `key`'s window and of the total, waited for at most `timeout` seconds
        (errors.Timeout past it, naming `what`); yields `report(outcome, retry_after)`, which
        the caller calls once it knows how the call went (OTHER if it never does)."""
        window = self.window(key)
        ticket = window.try_acquire()
        if ticket is None:  # only a call that has to wait pays for a timer
            try:
                async with asyncio.timeout(timeout):
                    ticket = await window.acquire()
            except TimeoutError:
                raise _no_slot(what) from None
        told: list[tuple[Outcome, float | None]] = []

        def report(outcome: Outcome, retry_after: float | None = None) -> None:
            told.append((outcome, retry_after))

        try:
            if self._all.locked():
                try:
                    async with asyncio.timeout(timeout):
                        await self._all.acquire()
                except TimeoutError:
                    raise _no_slot(what) from None
            else:
                await self._all.acquire()
            try:
                yield report
            finally:
                self._all.release()
        finally:
            outcome, retry_after = told[-1] if told else (Outcome.OTHER, None)
            window.release(ticket[0], ticket[1], outcome, retry_after)

    def limit_of(self, key: ApiKey) -> float:
        """The key's window as it stands (for tests and metrics)."""
        window = self._windows.get(key.fingerprint)
        return window.limit if window is not None else float(self._initial)


def _no_slot(what: str) -> errors.Timeout:
    return errors.Timeout(f"{what}: no upstream slot free in time", endpoint=what)
