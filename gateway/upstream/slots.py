"""Caps on upstream requests in flight: for all callers together, and for each API key."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from .config import ApiKey


class KeySlots:
    """A semaphore per API key fingerprint, dropped when no call of that key is in flight."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._slots: dict[str, tuple[asyncio.Semaphore, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: ApiKey) -> AsyncIterator[None]:
        sem, users = self._slots.get(key.fingerprint, (asyncio.Semaphore(self._size), 0))
        self._slots[key.fingerprint] = (sem, users + 1)
        try:
            async with sem:
                yield
        finally:
            sem, users = self._slots[key.fingerprint]
            if users == 1:
                del self._slots[key.fingerprint]
            else:
                self._slots[key.fingerprint] = (sem, users - 1)


class Slots:
    """`size` requests in flight at most, and `per_key` of them for one key. The key's slot is
    taken first, so that a key at its cap never holds a global slot while it waits."""

    def __init__(self, size: int, per_key: int) -> None:
        self._all = asyncio.Semaphore(size)
        self._per_key = KeySlots(per_key)

    @contextlib.asynccontextmanager
    async def hold(self, key: ApiKey) -> AsyncIterator[None]:
        async with self._per_key.hold(key), self._all:
            yield
