"""Which holder holds the most, in O(log holders): what max-min fair eviction takes from.

A lazy max-heap: a holder's size is pushed when it grows, never updated in place, and only a
holder's latest entry counts (older ones are dropped when they reach the top). A latest entry
found too large at the top (the holder shrank since) is pushed again at the holder's size, or
dropped when it holds nothing. Every holder's latest entry is thus at least its size, and a
latest entry at the top that is its holder's size is the largest. Entries that no longer count
are dropped in one rebuild when they outnumber the holders.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable


class Largest:
    """The largest of some holders, by `size_of` (0: holds nothing, or is gone)."""

    def __init__(self, size_of: Callable[[str], int]) -> None:
        self._size_of = size_of
        self._heap: list[tuple[int, str]] = []  # (-size when pushed, holder)
        self._latest: dict[str, int] = {}  # each holder's latest entry's size

    def grew(self, holder: str, size: int, holders: int) -> None:
        """`holder` now holds `size` (more than before); there are `holders` in all."""
        self._latest[holder] = size
        heapq.heappush(self._heap, (-size, holder))
        if len(self._heap) > 2 * holders + 64:
            self._rebuild()

    def largest(self) -> str | None:
        """The holder holding the most (ties: any of them); None when none holds anything."""
        heap, latest = self._heap, self._latest
        while heap:
            pushed, holder = heap[0]
            if latest.get(holder) != -pushed:  # not its latest entry: it does not count
                heapq.heappop(heap)
                continue
            size = self._size_of(holder)
            if size == -pushed:
                return holder
            if size > 0:  # shrank since: its entry, again, at its size
                latest[holder] = size
                heapq.heapreplace(heap, (-size, holder))
            else:
                del latest[holder]
                heapq.heappop(heap)
        return None

    def _rebuild(self) -> None:
        sizes = {holder: self._size_of(holder) for holder in self._latest}
        self._latest = {holder: size for holder, size in sizes.items() if size > 0}
        self._heap = [(-size, holder) for holder, size in self._latest.items()]
        heapq.heapify(self._heap)

    def clear(self) -> None:
        self._heap.clear()
        self._latest.clear()
