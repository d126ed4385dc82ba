"""How many calls of one API key are begun at once; the others wait as keys, not as calls.

A call begun is a stack of coroutines (the loader's, the client's, the transport's, the retry
policy's), a task or two, futures, a timer and a URL: about 13 KB while it waits for its
key's window (`concurrency`). A large answer asks for thousands of calls in one tick (a
10,000-object answer: 2,500), and began them all: 33 MB of waiting calls, for at most 256 in
flight. So the loaders begin a key's calls only while fewer than `size` of them are under
way (`dataloader.gated`); the rest wait in their batch's loop, one future a batch.

How many may be under way follows the key's window as it stands (`room`): a quarter more
than it may send, and a few, so that the window always has calls waiting to go when one
returns (and so grows while the upstream takes them), but a request of the key that comes
after a large one waits behind at most about a round trip's worth of its calls, not all of
them.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import Callable
from dataclasses import dataclass

from .config import ApiKey

SPARE = 4  # calls begun beyond the window's room and its quarter


class _Key:
    __slots__ = ("begun", "waiters")

    def __init__(self) -> None:
        self.begun = 0
        self.waiters: collections.deque[asyncio.Future[None]] = collections.deque()


class Admission:
    """Every key's count of calls under way, dropped when none is (so that invented keys
    leave nothing behind)."""

    def __init__(self, size: int | Callable[[str], int]) -> None:
        # How many of a key's calls (by fingerprint) may be under way: fixed, or by the key.
        self._size = size if callable(size) else _fixed(max(1, size))
        self._keys: dict[str, _Key] = {}

    @classmethod
    def following(cls, room_of: Callable[[str], int]) -> Admission:
        """An admission that follows each key's window as it stands (`room_of`)."""
        def size(fingerprint: str) -> int:
            room = room_of(fingerprint)
            return room + room // 4 + SPARE

        return cls(size)

    def size(self, fingerprint: str) -> int:
        """How many of the key's calls may be under way now."""
        return self._size(fingerprint)

    def gate(self, key: ApiKey) -> Gate:
        """The key's gate, for one request's loaders."""
        return Gate(self, key.fingerprint)

    def begun(self, fingerprint: str) -> int:
        """Calls of the key under way now (for tests)."""
        found = self._keys.get(fingerprint)
        return found.begun if found is not None else 0

    async def _acquire(self, fingerprint: str) -> None:
        state = self._keys.get(fingerprint)
        if state is None:
            state = self._keys[fingerprint] = _Key()
        if state.begun < self.size(fingerprint) and not state.waiters:
            state.begun += 1
            return
        waiter = asyncio.get_running_loop().create_future()
        state.waiters.append(waiter)
        try:
            await waiter  # `_release` counted it in
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self._release(fingerprint)  # room handed over as it was cancelled: pass it on
            else:
                with contextlib.suppress(ValueError):  # unless `_release` dropped it
                    state.waiters.remove(waiter)
                self._forget_if_idle(fingerprint, state)
            raise

    def _release(self, fingerprint: str) -> None:
        state = self._keys[fingerprint]
        state.begun -= 1
        size = self.size(fingerprint)
        while state.waiters and state.begun < size:
            waiter = state.waiters.popleft()
            if not waiter.done():
                state.begun += 1
                waiter.set_result(None)
        self._forget_if_idle(fingerprint, state)

    def _forget_if_idle(self, fingerprint: str, state: _Key) -> None:
        if state.begun == 0 and not state.waiters and self._keys.get(fingerprint) is state:
            del self._keys[fingerprint]


@dataclass(frozen=True, slots=True)
class Gate:
    """One key's side of `Admission`: `acquire` before a call is begun, `release` once it is
    over (whatever its outcome)."""

    admission: Admission
    fingerprint: str

    async def acquire(self) -> None:
        await self.admission._acquire(self.fingerprint)

    def release(self) -> None:
        self.admission._release(self.fingerprint)


def _fixed(size: int) -> Callable[[str], int]:
    return lambda _: size
