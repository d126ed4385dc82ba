"""The response cache in process: an LRU bounded in bytes and in entries.

It holds at most `max_bytes` (keys, values and an allowance for bookkeeping) and frees entries
when they expire, not when they are next looked up; it keeps no value over `max_value_bytes`.
One API key's entries take at most `key_share` of the bytes and of the entries: past it, a
key's new entries evict its own least recently used, never another key's; and when the whole
cache is full, the entries that go are those of the key holding the most (max-min fair), so
that neither one key's large request nor a few keys together can empty the cache of everyone
else's dashboards.
"""

from __future__ import annotations

import heapq
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence

from .cache import DEFAULT_MAX_BYTES, VALUE_SHARE, owner_of
from .largest import Largest

# What an entry costs beyond its key's characters and its value's bytes: the objects' headers,
# its OrderedDict slot, the (expiry, value) tuple, the heap's item. About 315 with tracemalloc.
ENTRY_OVERHEAD = 320


def _cost(key: str, value: bytes) -> int:
    return len(key) + len(value) + ENTRY_OVERHEAD


class _Owned:
    """One API key's entries in the cache: their bytes, and their keys least recently used
    first."""

    __slots__ = ("bytes", "keys")

    def __init__(self) -> None:
        self.bytes = 0
        self.keys: OrderedDict[str, None] = OrderedDict()


_NOBODY = _Owned()


class MemoryCache:
    """An in-process LRU bounded in bytes and in entries, with a lifetime per entry.

    Expired entries are freed as time passes: a heap of expiry times is swept on every get and
    set, and before `usage()` reports, so memory held by answers nobody asks for again returns.
    """

    def __init__(self, max_entries: int, *, max_bytes: int = DEFAULT_MAX_BYTES,
                 max_value_bytes: int | None = None, key_share: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """`key_share`: of the bytes and entries, what one API key's entries may take."""
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        # Shares are kept only when they bound anything (the hot path of a cache without
        # them stays as it was).
        self._owners: dict[str, _Owned] | None = {} if key_share < 1 else None
        # Who holds the most bytes, and the most entries: in O(log owners) per eviction.
        self._most_bytes = Largest(lambda o: self._held(o).bytes)
        self._most_entries = Largest(lambda o: len(self._held(o).keys))
        self._share_bytes = int(max_bytes * key_share)
        self._share_entries = max(1, int(max_entries * key_share))
        self._max_value = max_bytes // VALUE_SHARE if max_value_bytes is None \
            else max_value_bytes
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        # (expiry, key) of every entry, and of entries since replaced or evicted (skipped when
        # popped, and dropped when they outnumber the live ones).
        self._expiries: list[tuple[float, str]] = []
        self._bytes = 0

    async def get(self, key: str) -> bytes | None:
        self._sweep()  # afterwards every entry left is live
        found = self._entries.get(key)
        if found is None:
            return None
        self._entries.move_to_end(key)
        if self._owners is not None:  # its owner's least recently used go first, too
            owned = self._owners.get(owner_of(key))
            if owned is not None:
                owned.keys.move_to_end(key)
        return found[1]

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        self._sweep()
        self._drop(key)  # an answer refused below must not leave an older one behind
        if ttl <= 0 or len(value) > self._max_value:
            return
        expires = self._clock() + ttl
        self._entries[key] = (expires, value)
        self._bytes += _cost(key, value)
        heapq.heappush(self._expiries, (expires, key))
        if self._owners is not None:
            self._owned(key, value)
        while self._bytes > self._max_bytes or len(self._entries) > self._max_entries:
            if self._owners:  # the largest holder's least recently used: max-min fair
                most = self._most_bytes if self._bytes > self._max_bytes \
                    else self._most_entries
                largest = most.largest()
                if largest is not None:
                    self._drop(next(iter(self._owners[largest].keys)))
                    continue
            oldest, (_, old) = self._entries.popitem(last=False)
            self._bytes -= _cost(oldest, old)
            self._disowned(oldest, old)
        if len(self._expiries) > 2 * len(self._entries) + 64:
            self._expiries = [(at, k) for k, (at, _) in self._entries.items()]
            heapq.heapify(self._expiries)

    async def get_many(self, keys: Sequence[str], expected_bytes: int = 0
                       ) -> list[bytes | None]:
        return [await self.get(key) for key in keys]

    async def set_many(self, items: Sequence[tuple[str, bytes, float]]) -> None:
        for key, value, ttl in items:
            await self.set(key, value, ttl)

    def usage(self) -> tuple[int, int]:
        """Bytes held (bookkeeping included) and entries, expired ones freed first."""
        self._sweep()
        return self._bytes, len(self._entries)

    async def close(self) -> None:
        self._entries.clear()
        self._expiries.clear()
        self._bytes = 0
        if self._owners is not None:
            self._owners.clear()
        self._most_bytes.clear()
        self._most_entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def _owned(self, key: str, value: bytes) -> None:
        """Count a new entry to its API key's share; past the share, its oldest go."""
        assert self._owners is not None
        owned = self._owners.get(owner := owner_of(key))
        if owned is None:
            owned = self._owners[owner] = _Owned()
        owned.bytes += _cost(key, value)
        owned.keys[key] = None
        self._most_bytes.grew(owner, owned.bytes, len(self._owners))
        self._most_entries.grew(owner, len(owned.keys), len(self._owners))
        while owned.bytes > self._share_bytes or len(owned.keys) > self._share_entries:
            self._drop(next(iter(owned.keys)))

    def _held(self, owner: str) -> _Owned:
        """What `owner` holds (nothing, for one that holds nothing)."""
        assert self._owners is not None
        return self._owners.get(owner) or _NOBODY

    def _disowned(self, key: str, value: bytes) -> None:
        if self._owners is None:
            return
        owner = owner_of(key)
        owned = self._owners.get(owner)
        if owned is not None and key in owned.keys:
            del owned.keys[key]
            owned.bytes -= _cost(key, value)
            if not owned.keys:
                del self._owners[owner]

    def _drop(self, key: str) -> None:
        found = self._entries.pop(key, None)
        if found is not None:
            self._bytes -= _cost(key, found[1])
            self._disowned(key, found[1])

    def _sweep(self) -> None:
        now = self._clock()
        heap = self._expiries
        while heap and heap[0][0] <= now:
            expires, key = heapq.heappop(heap)
            found = self._entries.get(key)
            if found is not None and found[0] == expires:  # not a replaced entry's
                del self._entries[key]
                self._bytes -= _cost(key, found[1])
                self._disowned(key, found[1])
