"""Series at the resolution a chart needs: the arguments `points`, `method`, `stepMin`,
`stepMax` and `smoothing` of metricSeries and metricChart, checked before any upstream call,
and applied to the series fetched (`downsampling` does the work, in numpy).

A view changes what is fetched in one way only: any view works on the full series (as `full:
true` fetches them), never on Comet's sample of about 500 points, which a zoom would thin to a
few and smoothing would turn into another curve. So fields with different points, ranges,
methods or smoothing over the same series share their upstream calls. Each field with a view
reads its series whole, once: those reads are counted against `max_series_points` for the
operation (a field asking for 10 points of 15,000 reads 15,000).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated

import strawberry

from ..context import Info
from ..errors import BadUserInput, TooMuchWork
from ..upstream import models
from .metrics import MetricSeries
from .scalars import Long

MAX_POINTS = 10_000


@strawberry.enum(description="How `points` chooses a series' points. Either way they are "
                             "real logged points, the first and last always among them.")
class Downsampling(enum.Enum):
    LTTB = strawberry.enum_value(
        "lttb", description="Largest-Triangle-Three-Buckets: keeps the curve's shape.")
    MIN_MAX = strawberry.enum_value(
        "min_max", description="The lowest and highest value of each of (points - 2) / 2 "
                               "buckets between the first and last points: a spike is never "
                               "lost, and from 4 points on the series' lowest and highest "
                               "values are always shown.")


Points = Annotated[int | None, strawberry.argument(description=(
    f"At most this many points a series (1 to {MAX_POINTS:,}), chosen from the full series "
    "(fetched as `full: true` does) by `method`: real logged points, steps, values, "
    "timestamps, durations and epochs aligned (a duration stays the time since the previous "
    "value logged), the first and last always kept (with 1, the last). Between them, only "
    "values that are finite numbers are chosen. Null: every point."))]
Method = Annotated[Downsampling, strawberry.argument(description="How `points` chooses.")]
StepMin = Annotated[Long | None, strawberry.argument(description=(
    "Only the points logged at this step or later (applied before `points`; a point "
    "without a step is in no range)."))]
StepMax = Annotated[Long | None, strawberry.argument(description=(
    "Only the points logged at this step or earlier (applied before `points`)."))]
Smoothing = Annotated[float | None, strawberry.argument(description=(
    "A weight in [0, 1): `smoothed` gets TensorBoard's debiased exponential moving average "
    "of the values, computed over the whole series fetched, before the step range and "
    "`points` choose what is shown (zooming does not change the curve). `values` stay "
    "raw."))]


@dataclass(frozen=True, slots=True)
class SeriesView:
    """What a field asks of the series fetched: how many points, of which steps, smoothed."""

    points: int | None = None
    method: Downsampling = Downsampling.LTTB
    step_min: int | None = None
    step_max: int | None = None
    smoothing: float | None = None

    @property
    def picks(self) -> bool:
        """Whether it shows some of the points, not all of them."""
        return self.points is not None or self.step_min is not None or self.step_max is not None


def series_view(points: int | None, method: Downsampling, step_min: int | None,
                step_max: int | None, smoothing: float | None) -> SeriesView | None:
    """The view asked for (None: the series as fetched); BAD_USER_INPUT for arguments out of
    their bounds, before any upstream call."""
    if points is not None and not 1 <= points <= MAX_POINTS:
        raise BadUserInput(f"points must be 1 to {MAX_POINTS} (got {points})")
    if step_min is not None and step_max is not None and step_min > step_max:
        raise BadUserInput(f"stepMin ({step_min}) is after stepMax ({step_max})")
    if smoothing is not None and not (math.isfinite(smoothing) and 0 <= smoothing < 1):
        raise BadUserInput(f"smoothing must be at least 0 and less than 1 (got {smoothing})")
    if points is None and step_min is None and step_max is None and smoothing is None:
        return None
    return SeriesView(points, method, step_min, step_max, smoothing)


def fetch_full(full: bool, view: SeriesView | None) -> bool:
    """Whether the upstream call asks for the full series: every view works on them (a zoom
    into Comet's sample of ~500 points would show a few; smoothing it, another curve), and so
    fields that differ only in their views share their calls."""
    return full or view is not None


def viewed(info: Info, metrics: Sequence[models.ChartMetric], view: SeriesView | None
           ) -> list[MetricSeries]:
    """The series of one experiment as a field shows them."""
    if view is None:
        return [MetricSeries.of(m) for m in metrics]
    _read(info, sum(len(m.values) for m in metrics))
    return [apply(m, view) for m in metrics]


def _read(info: Info, points: int) -> None:
    context = info.context
    context.series_points += points
    limit = context.settings.max_series_points
    if context.series_points > limit:
        raise TooMuchWork(f"this operation's series views have read more than {limit} points "
                          "of the series fetched (each field with points, stepMin, stepMax or "
                          "smoothing reads its series whole): ask for fewer experiments, "
                          "metrics or fields")


def apply(m: models.ChartMetric, view: SeriesView) -> MetricSeries:
    """One series as `view` shows it (its points chosen, smoothed), read whole once."""
    from .. import downsampling as ds  # numpy and tsdownsample: loaded on first use

    series = ds.Series(m.values, m.steps)
    n = len(series)
    smoothed = None if view.smoothing is None else series.smoothed(view.smoothing)
    if not view.picks:
        return MetricSeries.of(m, None if smoothed is None else ds.nullable(smoothed))
    if view.points is None:  # a step range alone
        chosen = series.in_range(view.step_min, view.step_max)
    else:
        ranged = view.step_min is not None or view.step_max is not None
        among = series.in_range(view.step_min, view.step_max) if ranged else None  # None: all
        method = ds.Method.LTTB if view.method is Downsampling.LTTB else ds.Method.MIN_MAX
        chosen = series.choose(among, view.points, method)
    at = chosen.tolist()
    return MetricSeries(
        metric_name=m.metric_name, steps=ds.pick(m.steps, at, n),
        values=ds.nullable(series.values[chosen]), timestamps=ds.pick(m.timestamps, at, n),
        durations=ds.pick(m.durations, at, n), epochs=ds.pick(m.epochs, at, n),
        smoothed=None if smoothed is None else ds.nullable(smoothed[chosen]),
        sent=ds.pick(m.values, at, n))
