"""Memory handed back to the system after a wave of connections has gone.

Python frees a connection's objects when it closes (tracemalloc shows the traced total back at
its level), but the allocators keep the pages: after 3,000 keyless websockets came and went,
+214 MB stayed. glibc's `malloc_trim` returns the free pages of its heap; it is called (after
a garbage collection, for cycles such as exceptions and their tracebacks) once the open
connections have fallen by `WAVE` from their peak, at most every `EVERY` seconds, so that
steady traffic never pays for it. Python's own arenas are returned only once empty, and a few
long-lived objects made during a wave (uvicorn's cache of client addresses, say) pin some:
that memory is reused by the next wave rather than grown (`python -m bench.connections`).
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import sys
import weakref
from collections.abc import Callable, Sized

WAVE = 100  # connections gone since the peak
EVERY = 10.0  # seconds between two trims at least


def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        trim: Callable[[int], int] = ctypes.CDLL(
            ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, say): nothing to hand back this way
        return None
    return trim


MALLOC_TRIM = _malloc_trim()


class MemoryReturn:
    """Watches one server's open connections; trims after a wave has gone."""

    def __init__(self, connections: Sized, loop: asyncio.AbstractEventLoop) -> None:
        self._connections = connections
        self._loop = loop
        self._peak = 0
        self._last = -EVERY
        self._pending: asyncio.TimerHandle | None = None
        self.trims = 0

    def observe(self) -> None:
        """Called when a connection opens or closes."""
        open_now = len(self._connections)
        self._peak = max(self._peak, open_now)
        if self._peak - open_now >= WAVE and self._pending is None:
            delay = max(1.0, self._last + EVERY - self._loop.time())
            self._pending = self._loop.call_later(delay, self._trim)

    def _trim(self) -> None:
        self._pending = None
        self._last = self._loop.time()
        self._peak = len(self._connections)
        gc.collect()
        if MALLOC_TRIM is not None:
            MALLOC_TRIM(0)
        self.trims += 1


_watchers: weakref.WeakKeyDictionary[object, MemoryReturn] = weakref.WeakKeyDictionary()


def watcher(server_state: object, connections: Sized,
            loop: asyncio.AbstractEventLoop) -> MemoryReturn:
    """The watcher of one server (its state object), made on first use."""
    found = _watchers.get(server_state)
    if found is None:
        found = _watchers[server_state] = MemoryReturn(connections, loop)
    return found
