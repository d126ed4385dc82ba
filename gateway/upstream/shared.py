"""Calls shared between callers: single flight, the response cache, one deadline per operation.

Identical calls in flight at once (same key, endpoint and request) share one: the first runs
it, the others wait for its answer. Their flight is keyed by the request's parts as a tuple;
the cache's key, a SHA-256 of the same parts, is made only when a cache will be asked.

A caller waits no longer than its operation's `Deadline`: one timer for all of an operation's
calls, not one per call. Giving up does not cancel the shared call while others await it;
once the last of them gives up, it is cancelled.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, TypeVar

from . import errors

T = TypeVar("T")


class Deadline:
    """When one operation must be answered by (event-loop time), and the callers it bounds."""

    __slots__ = ("when", "_waiters", "_timer")

    def __init__(self, when: float) -> None:
        self.when = when
        self._waiters: set[asyncio.Future[Any]] = set()
        self._timer: asyncio.TimerHandle | None = None

    @classmethod
    def of(cls, deadline: Deadline | float | None) -> Deadline | None:
        return deadline if deadline is None or isinstance(deadline, Deadline) else cls(deadline)

    def passed(self) -> bool:
        return asyncio.get_running_loop().time() >= self.when

    async def wait(self, shared: asyncio.Future[T], what: str) -> T:
        """`shared`'s answer, or DeadlineExceeded once the deadline passes (it runs on)."""
        if shared.done():
            return shared.result()
        loop = asyncio.get_running_loop()
        if loop.time() >= self.when:
            raise self._exceeded(what)
        waiter: asyncio.Future[T] = loop.create_future()

        def relay(done: asyncio.Future[T]) -> None:
            if waiter.done():
                return
            if done.cancelled():
                waiter.cancel()
            elif (exc := done.exception()) is not None:
                waiter.set_exception(exc)
            else:
                waiter.set_result(done.result())

        shared.add_done_callback(relay)
        self._waiters.add(waiter)
        if self._timer is None:
            self._timer = loop.call_at(self.when, self._expire)
        try:
            answer = await waiter
        finally:
            shared.remove_done_callback(relay)
            self._waiters.discard(waiter)
            if not self._waiters and self._timer is not None:
                # Nothing waits: no timer left behind for an operation that is over.
                self._timer.cancel()
                self._timer = None
        if answer is _EXPIRED:
            # Raised out here, with no exception in flight: a traceback through the frame
            # above would hold `shared`, whose answer (up to many MB) would then wait for a
            # cyclic collection once it lands.
            del shared, waiter
            raise self._exceeded(what)
        return answer

    def _expire(self) -> None:
        self._timer = None
        for waiter in list(self._waiters):
            if not waiter.done():
                waiter.set_result(_EXPIRED)

    @staticmethod
    def _exceeded(what: str) -> errors.DeadlineExceeded:
        return errors.DeadlineExceeded(f"{what}: the operation's deadline passed", endpoint=what)


_EXPIRED: Any = object()  # what the waiters of a deadline that passed are given

class SingleFlight(Generic[T]):
    """Concurrent identical calls share one: the first runs, the others wait for its answer."""

    def __init__(self) -> None:
        self._flights: dict[Hashable, asyncio.Task[T]] = {}
        self._waiting: dict[Hashable, int] = {}  # callers awaiting each flight

    def start(self, key: Hashable, call: Callable[[], Awaitable[T]]) -> asyncio.Task[T]:
        """The call in flight under `key`, started now if there is none."""
        task = self._flights.get(key)
        if task is None:
            task = asyncio.ensure_future(call())
            self._flights[key] = task

            def landed(done: asyncio.Task[T]) -> None:
                if self._flights.get(key) is done:
                    del self._flights[key]
                if not done.cancelled():
                    done.exception()  # retrieved here, in case every waiter gave up

            task.add_done_callback(landed)
        return task

    async def run(self, key: Hashable, call: Callable[[], Awaitable[T]],
                  deadline: Deadline | None = None, what: str = "call") -> T:
        self._waiting[key] = self._waiting.get(key, 0) + 1
        try:
            # The task is no local of this frame: an error's traceback through it must not
            # keep the shared call, and its answer, alive.
            if deadline is not None:
                return await deadline.wait(self.start(key, call), what)
            # Shielded: one waiter giving up (a disconnect) does not cancel the rest.
            return await asyncio.shield(self.start(key, call))
        finally:
            left = self._waiting[key] - 1
            if left:
                self._waiting[key] = left
            else:
                del self._waiting[key]
                self._abandoned(key)

    def _abandoned(self, key: Hashable) -> None:
        """Every waiter gave up (its deadline, a cancelled operation): nobody wants the
        answer, and a call left running would hold its key's window, its connection and its
        memory for nothing. (A method of its own: no local of `run` refers to the task.)"""
        flight = self._flights.get(key)
        if flight is not None and not flight.done():
            flight.cancel()

    def __len__(self) -> int:
        return len(self._flights)
