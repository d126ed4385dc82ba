"""Which points of a long series a chart shows, and the series smoothed: numpy, in bulk.

A series is read once into arrays (`Series`): its values as floats, NaN where one is not a
finite number, and its steps. `choose` returns the positions of the points to show, ascending,
and every list of the series (steps, values, timestamps, durations, epochs, texts) is then
picked at those same positions (`pick`): what a chart gets are real logged points, aligned.

- The first and last points (of the step range) are always kept, whatever their values.
- Between them, points are chosen among those whose value is a finite number: NaN and the
  infinities cannot be placed on a chart, and neither LTTB nor a bucket's extremes has a
  meaning for them (tsdownsample's LTTB would even prefer them: a NaN's area compares as the
  largest). A value that is not finite shows as a gap only where it is the first or last
  point; the full series keeps every one.
- LTTB (Largest-Triangle-Three-Buckets) keeps the shape: tsdownsample's, in native code, with
  the steps as x when they are known and in order (the positions otherwise).
- MIN_MAX keeps, in each of (points - 2) // 2 buckets of equal counts between the first and
  last points, the lowest and the highest value: a spike is never lost, and from 4 points on
  the series' lowest and highest values are always among those shown. Computed here, in
  numpy: tsdownsample's min-max drops a bucket's last point when its float bucket edges round
  down (31 points in 11 buckets lose the 31st), which could lose the very extreme it is for.

numpy and tsdownsample are imported with this module, which the schema imports on the first
series asked at a resolution: a gateway that never downsamples does not carry them (some
17 MB a process).
"""

from __future__ import annotations

import enum
import math
import os
from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any, cast

# numpy's OpenBLAS starts a thread per core when numpy is imported; nothing here multiplies
# matrices, and a server process with 64 idle threads per worker gains nothing from them.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import numpy.typing as npt  # noqa: E402
from tsdownsample import LTTBDownsampler  # noqa: E402

Floats = npt.NDArray[np.float64]
Steps = npt.NDArray[np.int64]
Positions = npt.NDArray[np.intp]

INT64 = (-(2**63), 2**63 - 1)
_EMPTY: Positions = np.empty(0, dtype=np.intp)


def _lttb_function() -> Callable[[Steps, Floats, int], Any]:
    """tsdownsample's LTTB over int64 x and float64 y, found once by its own dispatch: its
    `downsample` checks the dtypes with regular expressions at every call, which costs five
    times what the LTTB of 15,000 points does. (Called directly, the arrays must be
    C-contiguous, of those dtypes, of equal lengths, and n_out from 3: the Rust code panics
    otherwise, and a panic is a BaseException.)"""
    lttb: Any = LTTBDownsampler()  # type: ignore[no-untyped-call]  # (untyped)
    return cast(Callable[[Steps, Floats, int], Any], lttb._switch_mod_with_x_and_y(
        np.dtype(np.int64), np.dtype(np.float64), lttb.mod_single_core))


_LTTB = _lttb_function()


class Method(enum.Enum):
    LTTB = "lttb"
    MIN_MAX = "min_max"


class Series:
    """One series read into arrays: `values` (NaN where not a finite number), and its steps
    (int64) when a chart needs them."""

    __slots__ = ("_raw_steps", "_steps", "values")

    def __init__(self, values: Sequence[Any], steps: Sequence[int | None]) -> None:
        n = len(values)
        try:  # float() of each, in C: Comet's numbers, and its text ("0.5", "NaN", ...)
            read = np.fromiter(values, np.float64, n)
        except (TypeError, ValueError, OverflowError):  # None or a word among them
            read = np.fromiter(map(_float_or_nan, values), np.float64, n)
        read[~np.isfinite(read)] = np.nan
        self.values: Floats = read
        self._raw_steps = steps
        self._steps: Steps | None | bool = False  # not read yet

    def __len__(self) -> int:
        return len(self.values)

    @property
    def steps(self) -> Steps | None:
        """The steps as int64, read on first use; None when one is missing or beyond 64 bits,
        or when there are not as many steps as values."""
        if self._steps is False:
            n, raw = len(self), self._raw_steps
            try:
                self._steps = np.fromiter(raw, np.int64, n) if len(raw) == n else None
            except (TypeError, OverflowError):  # a step missing, or beyond 64 bits
                self._steps = None
        return cast("Steps | None", self._steps)

    def in_range(self, low: int | None, high: int | None) -> Positions:
        """Positions whose step is within [low, high] (either bound open when None), in
        order; a point without a step is in no range."""
        steps = self.steps
        if steps is None:  # rare: one by one
            return np.fromiter(
                (i for i, s in enumerate(self._raw_steps[:len(self)]) if s is not None
                 and (low is None or s >= low) and (high is None or s <= high)), np.intp)
        lo = INT64[0] if low is None else low
        hi = INT64[1] if high is None else high
        if lo > INT64[1] or hi < INT64[0]:
            return _EMPTY
        lo, hi = max(lo, INT64[0]), min(hi, INT64[1])
        return np.flatnonzero((steps >= lo) & (steps <= hi))

    def choose(self, among: Positions | None, points: int, method: Method) -> Positions:
        """At most `points` of the positions `among` (ascending; None: every point): all of
        them if they fit, else the first and last and, between them, what `method` keeps
        (see the module)."""
        values = self.values
        if among is None:
            if len(values) <= points:
                return np.arange(len(values), dtype=np.intp)
            finite = np.flatnonzero(~np.isnan(values))
            first, last = 0, len(values) - 1
        else:
            if len(among) <= points:
                return among
            finite = among[~np.isnan(values[among])]
            first, last = int(among[0]), int(among[-1])
        if points == 1:  # no room for both ends: the latest value, as a summary shows it
            return np.array([last], dtype=np.intp)
        if method is Method.LTTB:
            # The ends that are not finite take a place each; LTTB keeps the finite ones.
            first_gap, last_gap = bool(np.isnan(values[first])), bool(np.isnan(values[last]))
            chosen = self._lttb(finite, points - first_gap - last_gap, first_gap)
        else:
            inner = finite[(finite != first) & (finite != last)]
            chosen = inner[_min_max(values[inner], (points - 2) // 2)]
        # `chosen` is ascending, between the ends (inclusive): the ends added where missing.
        head = [first] if not len(chosen) or chosen[0] != first else []
        tail = [last] if not len(chosen) or chosen[-1] != last else []
        return np.concatenate((np.array(head, dtype=np.intp), chosen,
                               np.array(tail, dtype=np.intp)))

    def _lttb(self, finite: Positions, room: int, first_gap: bool) -> Positions:
        """`room` of the finite points by LTTB, their first and last among them (the series'
        ends, where those are finite)."""
        if room >= len(finite):
            return finite
        if room <= 0:
            return _EMPTY
        if room == 1:  # the end that is finite; with none, the latest finite value
            return finite[-1:] if first_gap else finite[:1]
        if room == 2:  # tsdownsample's LTTB asserts 3
            return finite[[0, -1]]
        steps = self.steps
        x = steps[finite] if steps is not None else finite.astype(np.int64)
        if not bool(np.all(x[1:] >= x[:-1])):  # steps out of order: the positions
            x = finite.astype(np.int64)
        y = self.values[finite]  # fancy indexing: new, contiguous arrays
        found = _LTTB(np.ascontiguousarray(x), np.ascontiguousarray(y), room)
        return finite[np.asarray(found, dtype=np.intp)]

    def smoothed(self, weight: float) -> Floats:
        """TensorBoard's debiased exponential moving average at every value, NaN where a
        value is not a finite number (skipped, as TensorBoard skips it)."""
        finite = ~np.isnan(self.values)
        if finite.all():
            return ema(self.values, weight)
        out = np.full(len(self), np.nan)
        out[finite] = ema(self.values[finite], weight)
        return out


def _float_or_nan(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        return math.nan


def _min_max(values: Floats, buckets: int) -> Positions:
    """Positions of each bucket's lowest and highest value (their first occurrences), the
    buckets of equal counts (give or take one), integer edges; all of them when they fit."""
    n = len(values)
    if buckets <= 0:
        return np.empty(0, dtype=np.intp)
    if 2 * buckets >= n:
        return np.arange(n, dtype=np.intp)
    starts = (np.arange(buckets, dtype=np.intp) * n) // buckets
    owner = np.repeat(np.arange(buckets), np.diff(np.append(starts, n)))
    found = []
    for extreme in (np.minimum.reduceat(values, starts), np.maximum.reduceat(values, starts)):
        hits = np.flatnonzero(values == extreme[owner])
        bucket = owner[hits]
        first = np.ones(len(hits), dtype=bool)
        first[1:] = bucket[1:] != bucket[:-1]
        found.append(hits[first])
    return np.union1d(found[0], found[1])


def ema(values: Floats, weight: float) -> Floats:
    """TensorBoard's smoothing of finite values: `last = last * w + (1 - w) * v` from
    `last = 0`, each divided by `1 - w ** k` (k: the values so far), in closed form.

    The recurrence has no numpy primitive; within a block of L values it is
    `w ** i * cumsum(v_j * w ** -j)`, exact to rounding while `w ** -L` stays far from
    overflowing (L = 50 / -ln w: w ** -L = e ** 50), and the blocks are chained by their last
    values, one multiplication a block. Powers are `exp(k ln w)` (libm's pow is some ten
    times slower). A series whose values are all equal is returned as it is, as TensorBoard
    does: smoothing cannot change it, and rounding would."""
    n = len(values)
    # Below 1e-15 a weight changes no value past rounding, and its blocks would be one value.
    if n == 0 or weight < 1e-15 or bool(np.all(values == values[0])):
        return values.copy()
    # Huge magnitudes (1e300) would overflow the blocks' sums: scaled by a power of two, exact.
    exponent = int(np.frexp(np.max(np.abs(values)))[1])
    if exponent > 512:
        return np.ldexp(ema(np.ldexp(values, -exponent), weight), exponent)
    log_w = math.log(weight)
    size = max(1, min(n, int(50 / -log_w)))
    blocks = -(-n // size)
    padded = np.zeros(blocks * size)
    padded[:n] = values
    grid = padded.reshape(blocks, size)
    j = np.arange(size, dtype=np.float64) * log_w
    local = (1 - weight) * np.exp(j) * np.cumsum(grid * np.exp(-j), axis=1)
    carry = np.empty(blocks)
    last, step = 0.0, math.exp(size * log_w)
    for b, end in enumerate(local[:, -1].tolist()):  # one float a block
        carry[b] = last
        last = last * step + end
    full = (local + carry[:, None] * np.exp(j + log_w)).ravel()[:n]
    # Debiased: divided by 1 - w ** k, which is 1 once w ** k < 2 ** -60.
    biased = min(n, max(1, math.ceil(60 * math.log(2) / -log_w)))
    full[:biased] /= -np.expm1(np.arange(1, biased + 1, dtype=np.float64) * log_w)
    return full


def pick(items: Sequence[Any], positions: list[int], n: int) -> list[Any]:
    """`items` at `positions` (a series' list of length `n`): in C where the list is whole; a
    list that is empty stays empty, one of another length gets None where it has no item."""
    if len(items) == n:
        if len(positions) > 1:
            return list(itemgetter(*positions)(items))
        return [items[p] for p in positions]
    if not items:
        return []
    return [items[p] if p < len(items) else None for p in positions]


def nullable(values: Floats) -> list[float | None]:
    """Floats as a list, None for what is not finite (NaN, an infinity)."""
    out: list[float | None] = values.tolist()
    bad = ~np.isfinite(values)
    if bad.any():
        for p in np.flatnonzero(bad).tolist():
            out[p] = None
    return out
