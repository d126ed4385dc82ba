"""An optimizer run and its best experiment so far."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from ..context import Info
from ..loaders import OptimizerQuery
from ..upstream.models import OptimizerBest
from .metrics import number, text

if TYPE_CHECKING:
    from .experiment import Experiment


@strawberry.type(description="An optimizer (hyperparameter search) run.")
class Optimization:
    id: strawberry.ID = strawberry.field(description="Comet's optimizationId.")
    metric_name: strawberry.Private[str | None] = None
    maximize: strawberry.Private[bool | None] = None

    async def _best(self, info: Info) -> OptimizerBest | None:
        return await info.context.loaders.optimizer.load(
            OptimizerQuery(str(self.id), self.metric_name, self.maximize))

    @strawberry.field(description="Its best experiment so far.")
    async def best_experiment(self, info: Info
                              ) -> Annotated[Experiment, strawberry.lazy(".experiment")] | None:
        from .experiment import Experiment

        best = await self._best(info)
        if best is None or not best.experiment_key:
            return None
        meta = await info.context.loaders.metadata.load(best.experiment_key)
        return None if meta is None else Experiment.of(meta)

    @strawberry.field(description="How many experiments it has run.")
    async def experiment_count(self, info: Info) -> int | None:
        best = await self._best(info)
        return None if best is None else best.experiment_count

    @strawberry.field(description="The best experiment's value of the metric judged; null if "
                                  "it is not a finite number (see bestMetricValueText).")
    async def best_metric_value(self, info: Info) -> float | None:
        best = await self._best(info)
        return None if best is None else number(best.metric_value)

    @strawberry.field(description="The best experiment's value of the metric judged, as "
                                  "Comet's text.")
    async def best_metric_value_text(self, info: Info) -> str | None:
        best = await self._best(info)
        return None if best is None else text(best.metric_value)
