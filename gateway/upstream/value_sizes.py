"""What the cached values of each kind weigh, as seen, per API key: the guess that bounds a
lookup command's bytes (see `lookup_batches`).

A lookup cannot know a value's size before it is read, and the same command carries values of
one kind (an endpoint's answers, one chart's parts): so each kind's size is remembered from
the values written and read, rising at once and falling slowly, so that the guess errs large
(a command of fewer keys, never one of hundreds of megabytes). The caller's own guess (a
chart part's worst case) is a floor: what was seen raises it, never lowers it. A kind never
seen is guessed by the caller, or as `DEFAULT`.

Sizes are kept per API key (its fingerprint, `owner_of`): another key's values, small or large,
neither move a key's guess (its lookups in commands of hundreds of megabytes, or of one key
each) nor tell it, by its lookups' timing, what that key's values weigh; and another key's
kinds never evict a key's (at most `KINDS_PER_OWNER` per key, the least recently seen
forgotten; at most `OWNERS` keys, the least recently seen forgotten whole).

A command of several keys of one API key that timed out says its values were larger than
guessed (a worker that never saw them; values that grew): the guess of each of its kinds
rises so that the next command carries half as many keys, and after `TIMEOUTS_UNBATCHED` such
timeouts in a row to one key a command (a value read resets the count). A command of several
API keys' that timed out raises nothing: which key's values were large, the values read when
its keys go again say.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from .cache import owner_of

DEFAULT = 4096  # a value's size, for a kind never seen whose caller made no guess
# Kinds remembered per API key at most (the least recently seen go): every endpoint's and the
# charts' fit (about fifty).
KINDS_PER_OWNER = 64
OWNERS = 1024  # API keys whose sizes are remembered at most (the least recently seen go)
RISE = 0.5  # how far a larger value moves the guess towards itself
FALL = 0.05  # ... and a smaller one
TIMEOUTS_UNBATCHED = 3  # timeouts in a row after which a kind's values go one to a command


def kind(key: str) -> str:
    """What a cache key is an answer of: its endpoint (`cgw:v1:<key>:<endpoint>:...`), or a
    chart's part (`cgw:v1:<key>:chart:...`); "" for other keys. Every chart is one kind,
    whatever was asked of it: as kinds of their own, a dashboard's many asks pushed its
    endpoints' sizes out (back to guesses of 4 KB: commands of hundreds of megabytes), and
    the caller's guess of a part (its worst case, by what was asked) is a floor anyway."""
    parts = key.split(":", 4)
    if len(parts) < 5 or parts[0] != "cgw":
        return ""
    return parts[3]


class _Size:
    __slots__ = ("bytes", "timeouts")

    def __init__(self, size: float) -> None:
        self.bytes = size
        self.timeouts = 0  # multi-key commands of this kind that timed out, in a row


class ValueSizes:
    """The guessed size of each API key's kinds of value (see the module's docstring)."""

    def __init__(self, one_command: int) -> None:
        """`one_command`: the bytes a lookup command carries (`MGET_BYTES`); a guess of that
        much is a command per key."""
        self._one_command = one_command
        self._owners: OrderedDict[str, OrderedDict[str, _Size]] = OrderedDict()

    def saw(self, key: str, size: int) -> None:
        """A value of `key`'s kind, written or read."""
        found, new = self._entry(key, float(size))
        if not new:
            old = found.bytes
            found.bytes = old + (size - old) * (RISE if size > old else FALL)
        found.timeouts = 0

    def timed_out(self, keys: Sequence[str]) -> None:
        """A lookup command of these keys (several) was slower than its timeout, while Redis
        still answers: its kinds' values are larger than guessed."""
        if len(keys) < 2 or len({owner_of(k) for k in keys}) > 1:
            # Of several API keys: whose values were large is not known, and raising every
            # owner's guess would send a victim's small values one to a command for another
            # key's large ones. Their keys go again, an owner's to a command, and the values
            # read then tell each kind's size (`saw`); a command of one key, likewise.
            return
        half = max(1, len(keys) // 2)
        # Each of the command's kinds once, however many of its keys are of that kind.
        for key in {(owner_of(k), kind(k)): k for k in keys}.values():
            found, _ = self._entry(key, 0.0)
            found.timeouts += 1
            floor = self._one_command if found.timeouts >= TIMEOUTS_UNBATCHED \
                else self._one_command // half
            found.bytes = max(found.bytes, float(floor))

    def guess(self, key: str, told: int = 0) -> int:
        """What a value of `key`'s kind is expected to weigh: the larger of what was seen and
        `told` (the caller's guess); else `DEFAULT`."""
        sizes = self._owners.get(owner_of(key))
        seen = sizes.get(kind(key)) if sizes is not None else None
        if seen is None:
            return told or DEFAULT
        return max(told, int(seen.bytes), 1)

    def seen(self, key: str) -> bool:
        """Whether a value of `key`'s kind was seen (else its guess is only a guess)."""
        sizes = self._owners.get(owner_of(key))
        return sizes is not None and kind(key) in sizes

    def _entry(self, key: str, size: float) -> tuple[_Size, bool]:
        """`key`'s kind's record for its API key, and whether it is new (made with `size`)."""
        owner, of = owner_of(key), kind(key)
        sizes = self._owners.get(owner)
        if sizes is None:
            sizes = self._owners[owner] = OrderedDict()
            if len(self._owners) > OWNERS:
                self._owners.popitem(last=False)
        else:
            self._owners.move_to_end(owner)
        found = sizes.get(of)
        if found is None:
            found = sizes[of] = _Size(size)
            if len(sizes) > KINDS_PER_OWNER:
                sizes.popitem(last=False)
            return found, True
        sizes.move_to_end(of)
        return found, False
