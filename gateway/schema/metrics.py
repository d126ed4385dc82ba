"""Metric, parameter and other summaries; metric values; metric series."""

from __future__ import annotations

import datetime as dt
from typing import Any

import strawberry

from ..upstream import models
from ._doc import d
from .scalars import Long, from_millis


def _number(value: str | None) -> float | None:
    try:
        return None if value is None else float(value)
    except ValueError:
        return None


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
    value_current: float | None = d("The last value logged.")
    value_min: float | None = d("The lowest value logged.")
    value_max: float | None = d("The highest value logged.")
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
        return cls(name=s.name, value_current=_number(s.value_current),
                   value_min=_number(s.value_min), value_max=_number(s.value_max),
                   **_when_and_where(s))


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
    metric_value: float | None = d("The value.")
    step: Long | None = d("The step it was logged at.")
    epoch: Long | None = d("The epoch it was logged in.")
    timestamp: Long | None = d("When it was logged, in epoch milliseconds.")
    offset: Long | None = d("The offset Comet received it under.")
    run_context: str | None = d("The run context (train, validate, ...).")

    @classmethod
    def of(cls, p: models.MetricPoint) -> MetricPoint:
        return cls(metric_name=p.metric_name, metric_value=p.metric_value, step=p.step,
                   epoch=p.epoch, timestamp=p.timestamp, offset=p.offset,
                   run_context=p.run_context)


@strawberry.type(description="One metric of one experiment as parallel lists, ready to plot "
                             "(sampled to about 500 points unless `full`).")
class MetricSeries:
    metric_name: str = d("The metric's name.")
    steps: list[Long | None] | None = d("The step of each value.")
    values: list[float | None] | None = d("The values.")
    timestamps: list[Long | None] | None = d("When each value was logged (epoch ms).")
    durations: list[Long | None] | None = d("Milliseconds since the previous value (0 first).")
    epochs: list[Long | None] | None = d("The epoch of each value.")

    @classmethod
    def of(cls, m: models.ChartMetric) -> MetricSeries:
        return cls(metric_name=m.metric_name, steps=list(m.steps), values=list(m.values),
                   timestamps=list(m.timestamps), durations=list(m.durations),
                   epochs=list(m.epochs))


@strawberry.type(description="A name and a value.")
class KeyValue:
    key: str = d("The name.")
    value: str | None = d("The value, as text.")
