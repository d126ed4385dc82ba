"""The choices and the smoothing behind `points` and `smoothing`, on series of every shape:
at most `points`, the ends kept, MIN_MAX's extremes kept, values that are not finite numbers
never chosen between the ends, TensorBoard's smoothing to rounding."""

from __future__ import annotations

import math
import random
from typing import Any

import numpy as np
import pytest

from gateway.downsampling import Method, Series, ema, nullable, pick

WORDS = ["NaN", "Infinity", "-Infinity", "diverged", None]


def noisy(rng: random.Random, n: int, gaps: float) -> list[Any]:
    return [rng.choice(WORDS) if rng.random() < gaps else round(rng.gauss(0, 1), 4)
            for _ in range(n)]


def finite(series: Series, at: list[int]) -> list[float]:
    return [float(series.values[p]) for p in at if not math.isnan(series.values[p])]


@pytest.mark.parametrize("method", list(Method))
@pytest.mark.parametrize("gaps", [0.0, 0.1, 0.5, 1.0])
def test_at_most_points_the_ends_kept_only_finite_values_between(method: Method,
                                                                 gaps: float) -> None:
    rng = random.Random(f"{method}{gaps}")
    for n in (2, 3, 4, 5, 9, 31, 33, 100, 257):
        values = noisy(rng, n, gaps)
        series = Series(values, list(range(0, 2 * n, 2)))
        for points in (1, 2, 3, 4, 5, 8, 24, 50):
            for among in (None, series.in_range(None, None)):
                at = series.choose(among, points, method).tolist()
                assert at == sorted(set(at)) and len(at) <= points
                if n <= points:
                    assert at == list(range(n))
                elif points == 1:
                    assert at == [n - 1]
                else:
                    assert at[0] == 0 and at[-1] == n - 1
                    assert all(not math.isnan(series.values[p]) for p in at[1:-1])
                    room = sum(1 for v in series.values if not math.isnan(v)) \
                        + math.isnan(series.values[0]) + math.isnan(series.values[-1])
                    if method is Method.LTTB:  # fills its points while there are some
                        assert len(at) == min(points, room)


def test_min_max_keeps_every_bucket_s_extremes() -> None:
    """From 4 points on, the lowest and highest finite values are always shown: even where
    float bucket edges would round the last point of a bucket away (31 points between the
    ends in 11 buckets: tsdownsample's min-max loses the 31st)."""
    rng = random.Random(4)
    for n in range(4, 400):
        values = noisy(rng, n, 0.05)
        series = Series(values, list(range(n)))
        inner = finite(series, list(range(1, n - 1)))
        for points in (4, 5, 6, 24, n // 3, n - 1):
            if points < 4 or not inner:
                continue
            shown = finite(series, series.choose(None, points, Method.MIN_MAX).tolist())
            assert min(inner) in shown and max(inner) in shown
    spike = [1.0] * 33
    spike[31] = -9.0  # the last point between the ends: 31 of them, 11 buckets
    series = Series(spike, list(range(33)))
    assert -9.0 in finite(series, series.choose(None, 24, Method.MIN_MAX).tolist())


def test_steps_that_are_missing_out_of_order_or_too_many() -> None:
    values = [float(i % 7) for i in range(40)]
    for steps in ([*range(20), None, *range(21, 40)],  # one missing
                  list(range(40, 0, -1)),  # out of order
                  list(range(30)),  # fewer than the values
                  [2**70, *range(39)]):  # beyond 64 bits
        series = Series(values, steps)
        at = series.choose(None, 10, Method.LTTB).tolist()
        assert len(at) == 10 and at[0] == 0 and at[-1] == 39
        known = [i for i, s in enumerate(steps) if s is not None and 5 <= s <= 25]
        assert series.in_range(5, 25).tolist() == known
    series = Series(values, list(range(40)))
    assert series.in_range(None, 3).tolist() == [0, 1, 2, 3]
    assert series.in_range(2**70, None).tolist() == []
    assert series.in_range(-(2**70), 2**70).tolist() == list(range(40))


def test_a_series_read_keeps_its_values_and_marks_the_rest() -> None:
    series = Series(["0.5", 2, "1_000", "NaN", "Infinity", "diverged", None, 1e308, 3.25],
                    [])
    assert nullable(series.values) == [0.5, 2.0, 1000.0, None, None, None, None, 1e308, 3.25]
    assert pick((1, 2, 3), [0, 2], 3) == [1, 3]
    assert pick((), [0, 2], 3) == []  # a list Comet left empty stays empty
    assert pick((7,), [0, 2], 3) == [7, None]  # one too short: None where it has no item


def reference(values: list[float], weight: float) -> list[float]:
    last, out = 0.0, []
    for k, v in enumerate(values, 1):
        last = last * weight + (1 - weight) * v
        out.append(last / (1 - weight ** k))
    return out


@pytest.mark.parametrize("weight", [0.0, 1e-12, 0.01, 0.3, 0.6, 0.9, 0.99, 0.999, 0.999999])
def test_smoothing_is_tensorboard_s(weight: float) -> None:
    rng = random.Random(weight)
    for n in (1, 2, 3, 50, 1_000, 15_000):
        values = [rng.gauss(0, 1) + i / 100 for i in range(n)]
        found = ema(np.array(values), weight).tolist()
        assert found == pytest.approx(reference(values, weight), rel=1e-9, abs=1e-12)
    assert ema(np.full(100, 0.1), 0.9).tolist() == [0.1] * 100  # constant stays exactly so


def test_smoothing_skips_values_that_are_not_finite() -> None:
    series = Series([1.0, "NaN", 3.0, None, "Infinity", 5.0], [])
    smoothed = nullable(series.smoothed(0.5))
    assert smoothed[1] is None and smoothed[3] is None and smoothed[4] is None
    expected = reference([1.0, 3.0, 5.0], 0.5)
    assert [smoothed[0], smoothed[2], smoothed[5]] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("weight", [1e-30, 0.5, 0.999, 0.9999999])
def test_smoothing_huge_values_stays_finite_and_tensorboard_s(weight: float) -> None:
    rng = random.Random(weight)
    for scale in (1e287, 1e307, 1.7e308):
        values = [scale * rng.choice((-1.0, 0.5, 1.0)) for _ in range(300)]
        found = ema(np.array(values), weight)
        assert np.isfinite(found).all(), scale
        assert found.tolist() == pytest.approx(reference(values, weight), rel=1e-9,
                                               abs=scale * 1e-12)
    assert nullable(np.array([1.0, math.inf, -math.inf, math.nan])) == [1.0, None, None, None]
