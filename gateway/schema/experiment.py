"""The experiment: its metadata, links, summaries, series, assets and models."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, cast

import strawberry
from graphql.pyutils import AwaitableOrValue

from ..context import Info
from ..loaders import AssetsByName, SeriesRequest
from ..upstream import models
from ..upstream.models import ExperimentMetadata
from .asset import ArtifactVersion, Asset, AssetType, ExperimentModel
from .at_hand import pick
from .experiment_details import CloudDetails, GitMetadata, SystemDetails
from .metrics import (
    MAX_CHART_METRICS,
    MAX_CHART_PARAMS,
    KeyValue,
    MetricPoint,
    MetricSeries,
    MetricSummary,
    OtherSummary,
    ParameterSummary,
    PointRow,
    check_chart,
    point_rows,
)
from .resolution import (
    Downsampling,
    Method,
    Points,
    SeriesView,
    Smoothing,
    StepMax,
    StepMin,
    fetch_full,
    series_view,
    viewed,
)
from .scalars import Long, from_millis

T = TypeVar("T")

if TYPE_CHECKING:
    from .optimizer import Optimization
    from .project import Project
    from .workspace import Workspace


@strawberry.type(description="One run of a training script, as Comet recorded it.")
class Experiment:
    key: strawberry.ID = strawberry.field(description="Comet's experimentKey.")
    # What the experiment list or metadata already said, so that it is not fetched again.
    known: strawberry.Private[ExperimentMetadata | None] = None
    parent: strawberry.Private[Any] = None  # the Project it was listed under

    async def _meta(self, info: Info) -> ExperimentMetadata | None:
        if self.known is None:
            self.known = await info.context.loaders.metadata.load(str(self.key))
        return self.known

    def _pick(self, info: Info, use: Callable[[ExperimentMetadata], T]
              ) -> AwaitableOrValue[T | None]:
        return pick(self.known, lambda: self._meta(info), use)

    @strawberry.field(description="The same as `key`: a stable id for normalized client "
                                  "caches.")
    def id(self) -> strawberry.ID:
        return self.key

    @classmethod
    def of(cls, meta: ExperimentMetadata, parent: Any = None) -> Experiment:
        return cls(key=strawberry.ID(meta.experiment_key), known=meta, parent=parent)

    # The fields below read the metadata, at hand when the experiment was listed (at_hand).
    @strawberry.field(description="The experiment's name.", graphql_type=str | None)
    def name(self, info: Info) -> AwaitableOrValue[str | None]:
        return self._pick(info, lambda m: m.experiment_name)

    @strawberry.field(description="One version of an artifact it logged or used, by its "
                                  "version string; no upstream call until it is downloaded.")
    def artifact_version(self, version: str) -> ArtifactVersion:
        return ArtifactVersion(version=version, experiment_key=str(self.key))

    @strawberry.field(description="The optimizer run it belongs to, if any.",
                      graphql_type=str | None)
    def optimization_id(self, info: Info) -> AwaitableOrValue[str | None]:
        return self._pick(info, lambda m: m.optimization_id)

    @strawberry.field(description="When it started (as recorded by Comet).",
                      graphql_type=dt.datetime | None)
    def start_time(self, info: Info) -> AwaitableOrValue[dt.datetime | None]:
        return self._pick(info, lambda m: from_millis(m.start_time_millis))

    @strawberry.field(description="When it ended (as recorded by Comet).",
                      graphql_type=dt.datetime | None)
    def end_time(self, info: Info) -> AwaitableOrValue[dt.datetime | None]:
        return self._pick(info, lambda m: from_millis(m.end_time_millis))

    @strawberry.field(description="How long it ran, in milliseconds.", graphql_type=Long | None)
    def duration_millis(self, info: Info) -> AwaitableOrValue[Long | None]:
        return self._pick(info, lambda m: m.duration_millis)

    @strawberry.field(description="Whether it is archived.", graphql_type=bool | None)
    def archived(self, info: Info) -> AwaitableOrValue[bool | None]:
        return self._pick(info, lambda m: m.archived)

    @strawberry.field(description="Whether it is still running.", graphql_type=bool | None)
    def running(self, info: Info) -> AwaitableOrValue[bool | None]:
        return self._pick(info, lambda m: m.running)

    @strawberry.field(description="Whether it crashed.", graphql_type=bool | None)
    def has_crashed(self, info: Info) -> AwaitableOrValue[bool | None]:
        return self._pick(info, lambda m: m.has_crashed)

    @strawberry.field(description="The script's file name.", graphql_type=str | None)
    def file_name(self, info: Info) -> AwaitableOrValue[str | None]:
        return self._pick(info, lambda m: m.file_name)

    @strawberry.field(description="The script's path.", graphql_type=str | None)
    def file_path(self, info: Info) -> AwaitableOrValue[str | None]:
        return self._pick(info, lambda m: m.file_path)

    @strawberry.field(description="The project it belongs to.",
                      graphql_type=Annotated["Project", strawberry.lazy(".project")] | None)
    def project(self, info: Info) -> AwaitableOrValue[Project | None]:
        if self.parent is not None:  # listed under it
            return cast("Project", self.parent)
        return self._project(info)

    async def _project(self, info: Info) -> Project | None:
        from .project import Project

        meta = await self._meta(info)
        if meta is None or not meta.project_id:
            return None
        found = await info.context.loaders.project.load(meta.project_id)
        return None if found is None else Project.of(found)

    @strawberry.field(description="The workspace it belongs to.",
                      graphql_type=Annotated["Workspace", strawberry.lazy(".workspace")] | None)
    def workspace(self, info: Info) -> AwaitableOrValue[Workspace | None]:
        return self._pick(info, _workspace)

    @strawberry.field(description="The git state it ran from.")
    async def git(self, info: Info) -> GitMetadata | None:
        found = await info.context.loaders.git.load(str(self.key))
        return None if found is None else GitMetadata.of(found)

    @strawberry.field(description="The uncommitted changes it ran with, as a patch.")
    async def git_patch(self, info: Info) -> str | None:
        return await info.context.loaders.git_patch.load(str(self.key))

    @strawberry.field(description="HTML it logged.")
    async def html(self, info: Info) -> str | None:
        return await info.context.loaders.html.load(str(self.key))

    @strawberry.field(description="Its source code.")
    async def code(self, info: Info) -> str | None:
        return await info.context.loaders.code.load(str(self.key))

    @strawberry.field(description="Its standard output and error.")
    async def output(self, info: Info) -> str | None:
        return await info.context.loaders.output.load(str(self.key))

    @strawberry.field(description="Its model graph.")
    async def graph(self, info: Info) -> str | None:
        return await info.context.loaders.graph.load(str(self.key))

    @strawberry.field(description="Its key-value store, as JSON text.")
    async def store(self, info: Info) -> str | None:
        return await info.context.loaders.store.load(str(self.key))

    @strawberry.field(description="Where it ran in the cloud.")
    async def cloud_details(self, info: Info) -> CloudDetails | None:
        found = await info.context.loaders.cloud.load(str(self.key))
        return None if found is None else CloudDetails(provider=found.provider,
                                                       metadata=found.metadata)

    @strawberry.field(description="Every metric's summary.")
    async def metrics_summary(self, info: Info) -> list[MetricSummary] | None:
        found = await info.context.loaders.metrics_summary.load(str(self.key))
        return None if found is None else [MetricSummary.of(s) for s in found]

    @strawberry.field(description="One metric's summary (from the same call as metricsSummary).")
    async def metric_summary(self, info: Info, name: str) -> MetricSummary | None:
        found = await info.context.loaders.metrics_summary.load(str(self.key))
        return next((MetricSummary.of(s) for s in found or () if s.name == name), None)

    @strawberry.field(description="Every logged value of one metric.",
                      graphql_type=list[MetricPoint] | None)
    async def metric_history(self, info: Info, name: str) -> list[PointRow] | None:
        found = await info.context.loaders.metric.load((str(self.key), name))
        return None if found is None else point_rows(found)

    @strawberry.field(description="Every logged value of every metric (one call).",
                      graphql_type=list[MetricPoint] | None)
    async def all_metrics(self, info: Info) -> list[PointRow] | None:
        found = await info.context.loaders.all_metrics.load(str(self.key))
        return None if found is None else point_rows(found)

    @strawberry.field(description="Metrics as plottable series, batched across experiments "
                                  "through one multi-metric-chart call per batch. 1 to "
                                  f"{MAX_CHART_METRICS} names, at most {MAX_CHART_PARAMS} "
                                  "params (their values: see metricChart). `independent: "
                                  "false` keeps only the steps every named metric has. "
                                  "`points`, `stepMin`/`stepMax` and `smoothing` give each "
                                  "series at a chart's resolution; fields that differ only in "
                                  "those share their upstream call.")
    async def metric_series(self, info: Info, names: list[str], full: bool = False,
                            params: list[str] | None = None, independent: bool = True,
                            points: Points = None, method: Method = Downsampling.LTTB,
                            step_min: StepMin = None, step_max: StepMax = None,
                            smoothing: Smoothing = None) -> list[MetricSeries] | None:
        view = series_view(points, method, step_min, step_max, smoothing)
        found = await self._series(info, names, full, params, independent, view)
        return None if found is None else viewed(info, found.metrics, view)

    @strawberry.field(description="Its part of a multi-metric chart: the series of `metrics`, "
                                  "the values of `params`, and the steps. Batched with "
                                  "metricSeries across experiments (one call per batch); "
                                  "`points`, `stepMin`/`stepMax` and `smoothing` as there.")
    async def metric_chart(self, info: Info, metrics: list[str],
                           params: list[str] | None = None, full: bool = False,
                           independent: bool = True, points: Points = None,
                           method: Method = Downsampling.LTTB, step_min: StepMin = None,
                           step_max: StepMax = None, smoothing: Smoothing = None
                           ) -> MetricChartEntry | None:
        view = series_view(points, method, step_min, step_max, smoothing)
        found = await self._series(info, metrics, full, params, independent, view)
        return None if found is None else MetricChartEntry.of(
            str(self.key), found, viewed(info, found.metrics, view), view)

    async def _series(self, info: Info, names: list[str], full: bool,
                      params: list[str] | None, independent: bool, view: SeriesView | None
                      ) -> models.ChartExperiment | None:
        check_chart(names, params or ())
        return await info.context.loaders.series.load(SeriesRequest(
            str(self.key), tuple(names), fetch_full(full, view), tuple(params or ()),
            independent))

    @strawberry.field(description="Every hyperparameter's summary.")
    async def parameters(self, info: Info) -> list[ParameterSummary] | None:
        found = await info.context.loaders.parameters.load(str(self.key))
        return None if found is None else [ParameterSummary.of(s) for s in found]

    @strawberry.field(description="One hyperparameter (from the same call as parameters).")
    async def parameter(self, info: Info, name: str) -> ParameterSummary | None:
        found = await info.context.loaders.parameters.load(str(self.key))
        return next((ParameterSummary.of(s) for s in found or () if s.name == name), None)

    @strawberry.field(description="Every 'other' value's summary (log_other).")
    async def others(self, info: Info) -> list[OtherSummary] | None:
        found = await info.context.loaders.others.load(str(self.key))
        return None if found is None else [OtherSummary.of(s) for s in found]

    @strawberry.field(description="Its tags.")
    async def tags(self, info: Info) -> list[str] | None:
        found = await info.context.loaders.tags.load(str(self.key))
        return None if found is None else list(found)

    @strawberry.field(description="The machine and environment it ran in.")
    async def system_details(self, info: Info) -> SystemDetails | None:
        found = await info.context.loaders.system.load(str(self.key))
        return None if found is None else SystemDetails.of(found)

    @strawberry.field(description="The files it logged, optionally of one type.")
    async def assets(self, info: Info, type: AssetType = AssetType.ALL) -> list[Asset] | None:
        found = await info.context.loaders.assets.load((str(self.key), type.value))
        return None if found is None else [Asset.of(a, str(self.key)) for a in found]

    @strawberry.field(description="One file it logged, by asset id.")
    async def asset(self, info: Info, id: strawberry.ID) -> Asset | None:
        found = await info.context.loaders.asset_details.load((str(self.key), str(id)))
        return None if found is None else Asset.of(found, str(self.key))

    @strawberry.field(description="The files it logged under one name (models' files too), "
                                  "optionally of one type.")
    async def assets_by_name(self, info: Info, name: str,
                             type: AssetType | None = None) -> list[Asset] | None:
        kind = None if type is None or type is AssetType.ALL else type.value
        found = await info.context.loaders.assets_by_name.load(
            AssetsByName(str(self.key), name, kind))
        return None if found is None else [Asset.of(a, str(self.key)) for a in found]

    @strawberry.field(description="The models it logged.")
    async def models(self, info: Info) -> list[ExperimentModel] | None:
        found = await info.context.loaders.models.load(str(self.key))
        return None if found is None else [
            ExperimentModel(id=strawberry.ID(m.experiment_model_id), name=m.model_name,
                            experiment_key=m.experiment_key or str(self.key)) for m in found]

    @strawberry.field(description="The optimizer run it belongs to, when optimizationId is set. "
                                  "Its best experiment is judged on `metricName` (Comet's "
                                  "default when omitted), lowest first unless `maximize`.",
                      graphql_type=Annotated["Optimization", strawberry.lazy(".optimizer")]
                      | None)
    def optimizer(self, info: Info, metric_name: str | None = None,
                  maximize: bool | None = None) -> AwaitableOrValue[Optimization | None]:
        from .optimizer import Optimization

        def of(meta: ExperimentMetadata) -> Optimization | None:
            return Optimization(id=strawberry.ID(meta.optimization_id), metric_name=metric_name,
                                maximize=maximize) if meta.optimization_id else None

        return self._pick(info, of)


@strawberry.type(description="One experiment's part of a multi-metric chart.")
class MetricChartEntry:
    experiment_key: strawberry.ID = strawberry.field(description="The experiment's key.")
    metrics: list[MetricSeries] = strawberry.field(
        description="Its series, one per metric asked for that it logged.")
    params: list[KeyValue] = strawberry.field(
        description="The parameters asked for, with its values.")
    steps: list[Long | None] | None = strawberry.field(description="Every step that has a "
                                                                   "value.")

    @strawberry.field(description="The experiment.")
    def experiment(self) -> Experiment:
        return Experiment(key=self.experiment_key)

    @classmethod
    def of(cls, key: str, entry: models.ChartExperiment, metrics: list[MetricSeries],
           view: SeriesView | None = None) -> MetricChartEntry:
        """The entry with its series as the field shows them (`metrics`); where its view
        shows some of their points, its steps are theirs."""
        steps: list[int | None] = list(entry.steps)
        if view is not None and view.picks:
            steps = [*sorted({s for m in metrics for s in m.steps or () if s is not None})]
        return cls(experiment_key=strawberry.ID(key), metrics=metrics,
                   params=[KeyValue(key=k, value=None if v is None else str(v))
                           for k, v in (entry.params or {}).items()],
                   steps=steps)


def _workspace(meta: ExperimentMetadata) -> Workspace | None:
    from .workspace import Workspace

    return Workspace(name=meta.workspace_name) if meta.workspace_name else None
