"""What the cached values of each kind weigh, as seen: the guess that bounds a lookup command's
bytes (see `lookup_batches`).

A lookup cannot know a value's size before it is read, and the same command carries values of
one kind (an endpoint's answers, one chart's parts): so each kind's size is remembered from
the values written and read, rising at once and falling slowly, so that the guess errs large
(a command of fewer keys, never one of hundreds of megabytes). A kind never seen is guessed by
the caller, or as `DEFAULT`.
"""

from __future__ import annotations

from collections import OrderedDict

DEFAULT = 4096  # a value's size, for a kind never seen whose caller made no guess
KINDS = 512  # kinds remembered at most (the least recently seen forgotten)
RISE = 0.5  # how far a larger value moves the guess towards itself
FALL = 0.05  # ... and a smaller one


def kind(key: str) -> str:
    """What a cache key is an answer of: its endpoint (`cgw:v1:<key>:<endpoint>:...`), or its
    chart and what was asked of it (`cgw:v1:<key>:chart:<ask>:...`); "" for other keys."""
    parts = key.split(":", 5)
    if len(parts) < 5 or parts[0] != "cgw":
        return ""
    return f"chart:{parts[4]}" if parts[3] == "chart" else parts[3]


class ValueSizes:
    """The guessed size of each kind of value (see the module's docstring)."""

    def __init__(self) -> None:
        self._sizes: OrderedDict[str, float] = OrderedDict()

    def saw(self, key: str, size: int) -> None:
        """A value of `key`'s kind, written or read."""
        sizes, of = self._sizes, kind(key)
        old = sizes.get(of)
        if old is None:
            sizes[of] = float(size)
            if len(sizes) > KINDS:
                sizes.popitem(last=False)
            return
        sizes[of] = old + (size - old) * (RISE if size > old else FALL)
        sizes.move_to_end(of)

    def guess(self, key: str, told: int = 0) -> int:
        """What a value of `key`'s kind is expected to weigh: as seen, else `told` (the
        caller's guess), else `DEFAULT`."""
        seen = self._sizes.get(kind(key))
        if seen is not None:
            return max(1, int(seen))
        return told or DEFAULT
