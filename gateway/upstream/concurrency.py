"""How many calls one API key may have in flight: a window that adapts to the upstream.

A fixed cap is wrong both ways: too low and a dashboard of 300 calls goes in many waves
against an upstream that would take them at once; too high and a strict upstream is flooded
with calls it answers 429. So each key gets a window, as TCP does for its packets (AIMD):

- it starts at `initial` and, while the upstream answers well (a 2xx, or a 4xx that is not a
  429) and the window is what holds calls back, grows by one call per success (doubling each
  round trip) up to `ceiling`;
- a 429 or a 503 (the upstream asks for less), and a 502, a 504 or a timeout (what an
  overloaded upstream or its proxy says), halve it, never below 1, once per window: the
  calls already in flight when it was cut do not cut it again. After the first cut it grows
  by one call per round trip only. Anything else (a 500, a reset) teaches it nothing;
- a short `Retry-After` (at most `MAX_PAUSE`) on a 429 or 503 holds the key's new calls until
  then: the upstream asks for a moment's quiet. A longer one is the refused call's own (the
  retry policy waits it out or fails the call at once), so that one endpoint's long refusal
  does not stall every other read of the key, nor make them wait past their deadlines.

Over all keys, at most `total` calls are in flight, and each busy key gets at most its share
of them (`total` ÷ the keys with calls in flight or waiting), so that two clients with large
windows cannot shut a third out.

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
    OK = "ok"  # the upstream answered, and did not ask for less
    SLOW_DOWN = "slow down"  # 429 or 503: the upstream asks for less (maybe for a while)
    CONGESTED = "congested"  # 502, 504 or a timeout: overloaded, by the look of it
    OTHER = "other"  # nothing to learn from (a 500, a reset, cancelled)


class Window:
    """One key's window (see the module's docstring)."""

    __slots__ = ("limit", "ceiling", "in_flight", "growing_fast", "epoch", "paused_until",
                 "_waiters", "_clock", "_wake_timer", "last_used", "_share")

    def __init__(self, initial: int, ceiling: int, clock: Callable[[], float],
                 share: Callable[[], int] | None = None) -> None:
        self.ceiling = max(1, ceiling)
        self.limit = float(min(max(1, initial), self.ceiling))
        self.in_flight = 0
        self.growing_fast = True  # until the first cut
        self.epoch = 0  # bumped by each cut: calls sent before it cannot cut again
        self.paused_until = 0.0
        # Made when a call first has to wait: most windows never need one.
        self._waiters: collections.deque[asyncio.Future[None]] | None = None
        self._clock = clock
        self._wake_timer: asyncio.TimerHandle | None = None
        self.last_used = clock()
        self._share = share  # this key's share of the total, when keys compete for it

    @property
    def idle(self) -> bool:
        return self.in_flight == 0 and not self._waiters

    def _room(self) -> int:
        room = int(self.limit)
        return room if self._share is None else min(room, self._share())

    def _may_start(self) -> bool:
        return self.in_flight < self._room() and self._clock() >= self.paused_until

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
        if self._waiters is None:
            self._waiters = collections.deque()
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
        if outcome in (Outcome.SLOW_DOWN, Outcome.CONGESTED):
            if epoch == self.epoch:
                self.limit = max(1.0, self.limit / 2)
                self.growing_fast = False
                self.epoch += 1
            if (outcome is Outcome.SLOW_DOWN and retry_after is not None
                    and 0 < retry_after <= MAX_PAUSE):
                self.paused_until = max(self.paused_until, self._clock() + retry_after)
        elif outcome is Outcome.OK and was_full and self.limit < self.ceiling:
            self.limit = min(float(self.ceiling),
                             self.limit + (1.0 if self.growing_fast else 1.0 / self.limit))
        self._wake()

    def _wake(self) -> None:
        waiters = self._waiters
        while waiters and self.in_flight < self._room():
            pause = self.paused_until - self._clock()
            if pause > 0:
                self._wake_later(pause)
                return
            waiter = waiters.popleft()
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
    """Every key's window, and one cap over all keys together (`total`), shared fairly."""

    def __init__(self, total: int, initial: int, ceiling: int, *,
                 clock: Callable[[], float] = time.monotonic,
                 max_idle_keys: int = MAX_IDLE_KEYS, keep: float = KEEP) -> None:
        self._total = total
        self._all = asyncio.Semaphore(total)
        self._initial, self._ceiling = initial, ceiling
        self._clock = clock
        self._max_idle, self._keep = max_idle_keys, keep
        self._windows: collections.OrderedDict[str, Window] = collections.OrderedDict()
        self._busy = 0  # keys with calls in flight or waiting

    def _share(self) -> int:
        return max(1, self._total // max(1, self._busy))

    def window(self, key: ApiKey) -> Window:
        window = self._windows.get(key.fingerprint)
        if window is None:
            self._forget_idle()  # before the new one is in: it is idle too, and must stay
            window = self._windows[key.fingerprint] = Window(
                self._initial, self._ceiling, self._clock, self._share)
        else:
            self._windows.move_to_end(key.fingerprint)
        return window

    def _forget_idle(self) -> None:
        """Drop idle windows from the oldest used: those past their time, and any past the
        count. A busy window is moved to the end instead, so each is looked at once."""
        now = self._clock()
        for _ in range(len(self._windows)):
            fingerprint, oldest = next(iter(self._windows.items()))
            if not oldest.idle:
                self._windows.move_to_end(fingerprint)
                continue
            if len(self._windows) < self._max_idle and now - oldest.last_used <= self._keep:
                return
            del self._windows[fingerprint]

    @contextlib.asynccontextmanager
    async def hold(self, key: ApiKey, timeout: float | None = None, what: str = "call"
                   ) -> AsyncIterator[Callable[[Outcome, float | None], None]]:
        """A slot of `key`'s window and of the total, both waited for within `timeout`
        seconds (errors.Timeout past it, naming `what`); yields `report(outcome,
        retry_after)`, which the caller calls once it knows how the call went (OTHER if it
        never does)."""
        window = self.window(key)
        if window.idle:
            self._busy += 1
        try:
            ticket = window.try_acquire()
            if ticket is None or self._all.locked():  # only a call that waits pays for a timer
                try:
                    async with asyncio.timeout(timeout):
                        if ticket is None:
                            ticket = await window.acquire()
                        await self._all.acquire()
                except BaseException:
                    if ticket is not None:  # the window's slot, but not the total's
                        window.release(ticket[0], ticket[1], Outcome.OTHER)
                    raise
            else:
                await self._all.acquire()
        except TimeoutError:
            self._settle(window)
            raise _no_slot(what) from None
        except BaseException:
            self._settle(window)
            raise
        told: list[tuple[Outcome, float | None]] = []

        def report(outcome: Outcome, retry_after: float | None = None) -> None:
            told.append((outcome, retry_after))

        try:
            yield report
        finally:
            self._all.release()
            outcome, retry_after = told[-1] if told else (Outcome.OTHER, None)
            window.release(ticket[0], ticket[1], outcome, retry_after)
            self._settle(window)

    def _settle(self, window: Window) -> None:
        """Count the key out of the busy ones once it has nothing in flight or waiting."""
        if window.idle:
            self._busy -= 1

    def room_of(self, fingerprint: str) -> int:
        """How many calls the key's window may have in flight now (its share included)."""
        window = self._windows.get(fingerprint)
        if window is None:
            return min(self._initial, self._ceiling)
        return window._room()

    def limit_of(self, key: ApiKey) -> float:
        """The key's window as it stands (for tests and metrics)."""
        window = self._windows.get(key.fingerprint)
        return window.limit if window is not None else float(self._initial)


def _no_slot(what: str) -> errors.Timeout:
    return errors.Timeout(f"{what}: no upstream slot free in time", endpoint=what)
