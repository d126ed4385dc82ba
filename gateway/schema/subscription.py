"""Live metrics, pushed over graphql-transport-ws."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence

import strawberry

from ..context import Info
from ..errors import BadUserInput
from ..upstream import models
from ._doc import d
from .experiment import Experiment
from .metrics import check_chart, numbers, text
from .scalars import Long

MIN_INTERVAL, DEFAULT_INTERVAL = 1, 5


@strawberry.type(description="Values of one metric of one experiment logged since the last "
                             "update.")
class MetricUpdate:
    experiment_key: strawberry.ID = d("The experiment's key.")
    metric_name: str = d("The metric's name.")
    steps: list[Long | None] = d("The step of each new value.")
    values: list[float | None] = d("The new values; null where one is not a finite number "
                                  "(NaN, Infinity: see valuesText).")
    timestamps: list[Long | None] = d("When each was logged (epoch ms).")
    epochs: list[Long | None] = d("The epoch of each.")
    sent: strawberry.Private[Sequence[models.Reading | None]] = ()

    @strawberry.field(description="The new values as Comet sent them, as text.")
    def values_text(self) -> list[str | None]:
        return [text(v) for v in self.sent]

    @strawberry.field(description="The experiment.")
    def experiment(self) -> Experiment:
        return Experiment(key=self.experiment_key)


@strawberry.type(description="Live data.")
class Subscription:
    @strawberry.subscription(description="New metric values of running experiments. The "
                                         "gateway polls Comet every `intervalSeconds` (5 by "
                                         "default, at least 1) with one multi-metric-chart "
                                         "call shared by every subscriber of the same key, "
                                         "experiments and metrics, and pushes only new points.")
    async def metric_updates(self, info: Info, experiment_keys: list[strawberry.ID],
                             metrics: list[str], interval_seconds: int | None = None
                             ) -> AsyncGenerator[MetricUpdate, None]:
        interval = DEFAULT_INTERVAL if interval_seconds is None else interval_seconds
        if not experiment_keys:
            raise BadUserInput("give 1 or more experimentKeys")
        check_chart(metrics, experiments=len(experiment_keys))  # each poll is such a chart
        if interval < MIN_INTERVAL:
            raise BadUserInput(f"intervalSeconds must be at least {MIN_INTERVAL}")
        context = info.context
        assert context.live is not None and context.api_key is not None
        keys = tuple(str(k) for k in experiment_keys)
        async with context.live.subscribe(context.api_key, keys, tuple(metrics),
                                          float(interval)) as queue:
            while True:
                news = await queue.get()
                if isinstance(news, BaseException):
                    raise news
                # What the events' own fields fetch (their experiment, ...) is the new poll's:
                # its own budget and deadline, and nothing an earlier poll's loaders kept.
                context.renew()
                for point in news:
                    m = point.metric
                    yield MetricUpdate(
                        experiment_key=strawberry.ID(point.experiment_key),
                        metric_name=m.metric_name, steps=list(m.steps),
                        values=numbers(m.values), timestamps=list(m.timestamps),
                        epochs=list(m.epochs), sent=m.values)
