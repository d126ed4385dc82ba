"""Metric, parameter and other summaries; metric values; metric series.

Comet sends metric values as text, and a run whose loss diverged logs "NaN", "Infinity" or
"-Infinity", which GraphQL's Float cannot carry. Every Float of a metric value is therefore
null where the value is not a finite number, and a String beside it (`...Text`) keeps the
value as Comet sent it: a diverged run still charts, with gaps.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any, cast

import msgspec
import strawberry

from ..errors import BadUserInput
from ..upstream import models
from ._doc import d
from .scalars import Long, from_millis

_FLOATS = frozenset({float, type(None)})
_TEXT = frozenset({str, type(None)})

# What one chart may ask of the multi-metric-chart endpoint, checked before any call: every
# experiment costs a share of a POST (chart_batch_size a POST), and every metric name and
# parameter goes into each of them.
MAX_CHART_EXPERIMENTS = 500  # as many as `experiments(keys:)` takes
MAX_CHART_METRICS = 50
MAX_CHART_PARAMS = 100
CHART_BOUNDS = (f"At most {MAX_CHART_EXPERIMENTS} experiments, {MAX_CHART_METRICS} metrics "
                f"and {MAX_CHART_PARAMS} params.")


def check_chart(metrics: Sequence[str], params: Sequence[str] = (),
                experiments: int = 0) -> None:
    """Refuse a chart over the bounds (BAD_USER_INPUT), before any upstream call."""
    if not 0 < len(metrics) <= MAX_CHART_METRICS:
        raise BadUserInput(f"give 1 to {MAX_CHART_METRICS} metric names (got {len(metrics)})")
    if len(params) > MAX_CHART_PARAMS:
        raise BadUserInput(f"give at most {MAX_CHART_PARAMS} params (got {len(params)})")
    if experiments > MAX_CHART_EXPERIMENTS:
        raise BadUserInput(f"a chart takes at most {MAX_CHART_EXPERIMENTS} experiments (got "
                           f"{experiments}): name them in experimentKeys")


def number(value: models.Reading | None) -> float | None:
    """A metric value as a Float: null unless it is a finite number."""
    if value is None:
        return None
    try:
        found = float(value)
    except (ValueError, OverflowError):  # a word; an integer beyond any float
        return None
    return found if math.isfinite(found) else None


def text(value: models.Reading | None) -> str | None:
    """A metric value as Comet sent it (a JSON number as its shortest text)."""
    return value if value is None or isinstance(value, str) else repr(value)


def floats(values: Sequence[models.Reading | None]) -> list[float | None]:
    """`number` of each value, read in one pass where every one is a finite float (Comet's
    text, in the main): a long series costs a C loop, not a Python call per value."""
    try:
        found: list[float] = list(map(float, values))  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):  # None among them, a word, a huge integer
        return [number(v) for v in values]
    # Finite values add up to a finite sum, unless it overflows: then one by one too.
    if math.isfinite(sum(found)):
        return cast(list[float | None], found)
    return [number(v) for v in values]


def numbers(values: Sequence[models.Reading | None]) -> list[float | None]:
    # A series is long, and the upstream's JSON numbers are already finite floats (JSON has no
    # NaN, `upstream.decoding` sees to the rest): those are taken as they are. Integers become
    # floats as `number` makes them (a Float list holds floats), text is read.
    if set(map(type, values)) <= _FLOATS:
        return list(values)  # type: ignore[arg-type]
    return floats(values)


def texts(values: Sequence[models.Reading | None]) -> list[str | None]:
    """`text` of each value: the values themselves where they are all text, as Comet sends."""
    if set(map(type, values)) <= _TEXT:
        return list(values)  # type: ignore[arg-type]
    return [text(v) for v in values]


def _when_and_where(s: models.ValueSummary) -> dict[str, Any]:
    """The steps, times and run contexts of a summary's current, lowest and highest values."""
    return {"step_current": s.step_current, "step_min": s.step_min, "step_max": s.step_max,
            "timestamp_current": from_millis(s.timestamp_current),
            "timestamp_min": from_millis(s.timestamp_min),
            "timestamp_max": from_millis(s.timestamp_max),
            "run_context_current": s.run_context_current, "run_context_min": s.run_context_min,
            "run_context_max": s.run_context_max}


@strawberry.type(description="A metric's summary: its last, lowest and highest logged values.")
class MetricSummary:
    name: str = d("The metric's name.")
    value_current: float | None = d("The last value logged; null if it is not a finite "
                                    "number (see valueCurrentText).")
    value_min: float | None = d("The lowest value logged; null if it is not a finite number.")
    value_max: float | None = d("The highest value logged; null if it is not a finite number.")
    value_current_text: str | None = d("The last value logged, as Comet's text (NaN and "
                                       "Infinity too).")
    value_min_text: str | None = d("The lowest value logged, as Comet's text.")
    value_max_text: str | None = d("The highest value logged, as Comet's text.")
    step_current: Long | None = d("The step of the last value.")
    step_min: Long | None = d("The step of the lowest value.")
    step_max: Long | None = d("The step of the highest value.")
    timestamp_current: dt.datetime | None = d("When the last value was logged.")
    timestamp_min: dt.datetime | None = d("When the lowest value was logged.")
    timestamp_max: dt.datetime | None = d("When the highest value was logged.")
    run_context_current: str | None = d("The run context (train, validate, ...) of the last value.")
    run_context_min: str | None = d("The run context of the lowest value.")
    run_context_max: str | None = d("The run context of the highest value.")

    @classmethod
    def of(cls, s: models.ValueSummary) -> MetricSummary:
        return cls(name=s.name, value_current=number(s.value_current),
                   value_min=number(s.value_min), value_max=number(s.value_max),
                   value_current_text=s.value_current, value_min_text=s.value_min,
                   value_max_text=s.value_max, **_when_and_where(s))


@strawberry.interface(description="A logged value's summary, kept as Comet's text.")
class ValueSummary:
    name: str = d("The name it was logged under.")
    value_current: str | None = d("The last value logged, as text.")
    value_min: str | None = d("The lowest value logged, as text.")
    value_max: str | None = d("The highest value logged, as text.")
    step_current: Long | None = d("The step of the last value.")
    step_min: Long | None = d("The step of the lowest value.")
    step_max: Long | None = d("The step of the highest value.")
    timestamp_current: dt.datetime | None = d("When the last value was logged.")
    timestamp_min: dt.datetime | None = d("When the lowest value was logged.")
    timestamp_max: dt.datetime | None = d("When the highest value was logged.")
    run_context_current: str | None = d("The run context of the last value.")
    run_context_min: str | None = d("The run context of the lowest value.")
    run_context_max: str | None = d("The run context of the highest value.")

    @classmethod
    def of(cls, s: models.ValueSummary) -> Any:
        return cls(name=s.name, value_current=s.value_current, value_min=s.value_min,
                   value_max=s.value_max, **_when_and_where(s))


@strawberry.type(description="A hyperparameter's summary (logged with log_parameter).")
class ParameterSummary(ValueSummary):
    pass


@strawberry.type(description="An 'other' value's summary (logged with log_other).")
class OtherSummary(ValueSummary):
    pass


@strawberry.type(description="One logged value of a metric.")
class MetricPoint:
    metric_name: str = d("The metric's name.")
    metric_value: float | None = d("The value; null if it is not a finite number (see "
                                   "metricValueText).")
    metric_value_text: str | None = d("The value as Comet's text: NaN, Infinity, -Infinity "
                                      "too.")
    step: Long | None = d("The step it was logged at.")
    epoch: Long | None = d("The epoch it was logged in.")
    timestamp: Long | None = d("When it was logged, in epoch milliseconds.")
    offset: Long | None = d("The offset Comet received it under.")
    run_context: str | None = d("The run context (train, validate, ...).")


class PointRow(msgspec.Struct, frozen=True, gc=False):
    """A `MetricPoint` as the schema reads it: its fields, by the same names, in a Struct that
    is made in C (a tenth of what a Strawberry type's constructor costs: thousands of points
    an answer). The schema's `MetricPoint` is the GraphQL type; a field over points names it
    as its `graphql_type`. (`MetricPoint` implements no interface: graphql-core asks its
    objects no type check, which a row would fail.)"""

    metric_name: str
    metric_value: float | None
    metric_value_text: str | None
    step: int | None
    epoch: int | None
    timestamp: int | None
    offset: int | None
    run_context: str | None


def point_rows(points: Sequence[models.MetricPoint]) -> list[PointRow]:
    """Points as the schema shows them, their values read once for the whole series."""
    sent = [p.metric_value for p in points]
    return [PointRow(p.metric_name, value, shown, p.step, p.epoch, p.timestamp, p.offset,
                     p.run_context)
            for p, value, shown in zip(points, floats(sent), texts(sent), strict=True)]


@strawberry.type(description="One metric of one experiment as parallel lists, ready to plot "
                             "(sampled by Comet to about 500 points unless `full`, or "
                             "a view: `points`, `stepMin`/`stepMax`, `smoothing`).")
class MetricSeries:
    metric_name: str = d("The metric's name.")
    steps: list[Long | None] | None = d("The step of each value.")
    values: list[float | None] | None = d("The values; null where one is not a finite "
                                          "number (NaN, Infinity: see valuesText).")
    timestamps: list[Long | None] | None = d("When each value was logged (epoch ms).")
    durations: list[Long | None] | None = d("Milliseconds since the previous value (0 first).")
    epochs: list[Long | None] | None = d("The epoch of each value.")
    smoothed: list[float | None] | None = strawberry.field(
        default=None, description="With `smoothing`: TensorBoard's debiased exponential "
        "moving average at each value (computed over the whole series fetched, skipping the "
        "values that are not finite numbers, which are null here); null without it.")
    sent: strawberry.Private[Sequence[models.Reading | None]] = ()

    @strawberry.field(description="The values as Comet sent them, as text: NaN, Infinity and "
                                  "-Infinity too.")
    def values_text(self) -> list[str | None] | None:
        return texts(self.sent)

    @classmethod
    def of(cls, m: models.ChartMetric, smoothed: list[float | None] | None = None
           ) -> MetricSeries:
        return cls(metric_name=m.metric_name, steps=list(m.steps), values=numbers(m.values),
                   timestamps=list(m.timestamps), durations=list(m.durations),
                   epochs=list(m.epochs), smoothed=smoothed, sent=m.values)


@strawberry.type(description="A name and a value.")
class KeyValue:
    key: str = d("The name.")
    value: str | None = d("The value, as text.")
