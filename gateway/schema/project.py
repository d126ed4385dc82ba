"""Projects: their experiments (a connection), columns, charts, notes and dashboards."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import strawberry

from ..context import Info
from ..loaders import ChartRequest, ExperimentListing, ProjectQuery, ProjectRef
from ..upstream import models
from ..upstream.errors import UpstreamError
from ..upstream.models import ExperimentMetadata
from ._doc import d
from .experiment import Experiment, MetricChartEntry
from .filters import ExperimentFilter, ExperimentOrder, predicates_key
from .metrics import CHART_BOUNDS, check_chart
from .pagination import PageInfo, decode_cursor, edges, page_info, page_size
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
from .scalars import from_millis
from .workspace import Workspace

if TYPE_CHECKING:
    from .panel import DashboardTemplate


@dataclass(frozen=True)
class ListingPlan:
    key: ExperimentListing  # what to ask the experiments loader for
    offset: int
    size: int
    paged: bool  # a page Comet serves as is (page/size), the total from the project


def plan_listing(ref: ProjectRef, first: int | None, after: str | None, archived: bool,
                 filtered: bool, order: ExperimentOrder | None,
                 total: int | None) -> ListingPlan:
    """How `Project.experiments(...)` reads the list: one page when Comet can serve it as a
    page (no filter, an offset on a page boundary, the total known), else the whole list.

    A pure function of the arguments, so that the root can start the same call before the
    project itself has answered (see Query.project)."""
    size, offset = page_size(first), decode_cursor(after)
    paged = (not filtered and not archived and size > 0 and offset % size == 0
             and total is not None)
    key = ExperimentListing(
        ref, archived, sort_by=order.field.value if order else None,
        sort_order=order.direction.value if order else None,
        page=offset // size + 1 if paged else None, size=size if paged else None)
    return ListingPlan(key, offset, size, paged)


@strawberry.type(description="A column of a project: something its experiments can be "
                             "filtered on.")
class ProjectColumn:
    id: str | None = d("The column's id.")
    name: str = d("What it is called (a metric, parameter, tag, ... name).")
    source: str = d("Where it comes from: metrics, params, log_other, metadata, tag or "
                    "env_details.")
    type: str | None = d("Its type: double, string, datetime, boolean or timenumber.")


@strawberry.type(description="An experiment in a page of experiments.")
class ExperimentEdge:
    cursor: str = d("Opaque position of this experiment.")
    node: Experiment = d("The experiment.")


@strawberry.type(description="A page of a project's experiments.")
class ExperimentConnection:
    edges: list[ExperimentEdge] = d("The experiments of this page.")
    page_info: PageInfo = d("Where this page stands.")
    total_count: int = d("How many experiments match, across all pages.")
    project_experiment_count: int | None = d(
        "How many experiments the project has (archived ones, if `archived` was asked), "
        "before `where` filtered them: Comet's experimentsInProject.")


@strawberry.type(description="A multi-metric chart: its entries and Comet's `empty` flag.")
class MetricChart:
    empty: bool | None = d("Comet's flag: true when no experiment had any of the metrics "
                           "asked for (null if Comet did not say).")
    experiments: list[MetricChartEntry] = d("One entry per experiment found, in the order "
                                            "of `experimentKeys` (or of the project's list).")


@strawberry.type(description="A Comet project: a set of experiments in a workspace.")
class Project:
    id: strawberry.ID = d("Comet's projectId.")
    name: str = d("The project's name.")
    description: str | None = d("Its description.")
    owner: str | None = d("Its owner's user name.")
    is_public: bool = d(
        "Whether anyone can see it. Comet sends this flag with every project, and a project is "
        "private until someone makes it public: an answer without the flag (or with null) "
        "reads as false.")
    number_of_experiments: int | None = d("How many experiments it has (not archived).")
    last_updated: dt.datetime | None = d("When it last changed.")
    workspace_id: str | None = d("Comet's id of its workspace.")
    workspace_name: strawberry.Private[str]
    # How it was asked for: its experiment list is fetched the same way (see plan_listing).
    ref: strawberry.Private[ProjectRef | None] = None

    @classmethod
    def of(cls, p: models.Project, ref: ProjectRef | None = None) -> Project:
        return cls(id=strawberry.ID(p.project_id), name=p.project_name,
                   description=p.project_description, owner=p.owner_user_name,
                   is_public=p.is_public is True, number_of_experiments=p.number_of_experiments,
                   last_updated=from_millis(p.last_updated), workspace_id=p.workspace_id,
                   workspace_name=p.workspace_name or "", ref=ref)

    @strawberry.field(description="The workspace it belongs to.")
    def workspace(self) -> Workspace:
        return Workspace(name=self.workspace_name)

    @strawberry.field(description="Its notes (Markdown).")
    async def notes(self, info: Info) -> str | None:
        return await info.context.loaders.project_notes.load(str(self.id))

    @strawberry.field(description="Its share codes.")
    async def share_links(self, info: Info) -> list[str] | None:
        found = await info.context.loaders.share_links.load(str(self.id))
        return None if found is None else list(found)

    @strawberry.field(description="What its experiments can be filtered on.")
    async def columns(self, info: Info) -> list[ProjectColumn] | None:
        found = await info.context.loaders.columns.load(str(self.id))
        return None if found is None else [
            ProjectColumn(id=c.id, name=c.name, source=c.source, type=c.type) for c in found]

    async def _listing(self, info: Info, key: ExperimentListing) -> tuple[ExperimentMetadata, ...]:
        return await info.context.loaders.experiments.load(key) or ()

    def _ref(self) -> ProjectRef:
        return self.ref or ProjectRef(project_id=str(self.id))

    @strawberry.field(description="Its experiments, a page at a time. `first`/`after` and "
                                  "`orderBy` map onto Comet's page/size/sortBy; `where` runs "
                                  "as a project query upstream.")
    async def experiments(self, info: Info, first: int | None = None, after: str | None = None,
                          archived: bool = False, where: ExperimentFilter | None = None,
                          order_by: ExperimentOrder | None = None) -> ExperimentConnection | None:
        plan = plan_listing(self._ref(), first, after, archived, where is not None,
                            order_by, self.number_of_experiments)
        offset, size = plan.offset, plan.size
        if where is not None:
            loaders = info.context.loaders
            query, listing = await asyncio.gather(  # futures both: no task of their own
                loaders.project_query.load(
                    ProjectQuery(str(self.id), predicates_key(where), archived)),
                loaders.experiments.load(plan.key))
            keep = set(query.experiment_keys if query else ())
            chosen = [e for e in listing or () if e.experiment_key in keep]
            total, page = len(chosen), chosen[offset:offset + size]
            in_project = query.experiments_in_project if query else None
        elif plan.paged:
            assert self.number_of_experiments is not None
            total = in_project = self.number_of_experiments
            page = list(await self._listing(info, plan.key)) if offset < total else []
        else:
            listing = await self._listing(info, plan.key)
            total, page = len(listing), list(listing[offset:offset + size])
            in_project = total
        nodes = [Experiment.of(m, parent=self) for m in page]
        return ExperimentConnection(
            edges=[ExperimentEdge(cursor=e.cursor, node=e.node) for e in edges(nodes, offset)],
            page_info=page_info(offset, len(nodes), total), total_count=total,
            project_experiment_count=in_project)

    async def _chart(self, info: Info, metrics: list[str], params: list[str] | None,
                     experiment_keys: list[strawberry.ID] | None, full: bool,
                     independent: bool, view: SeriesView | None) -> MetricChart | None:
        check_chart(metrics, params or (), len(experiment_keys or ()))
        if experiment_keys is None:
            everything = plan_listing(self._ref(), None, None, False, True, None, None)
            keys = [e.experiment_key for e in await self._listing(info, everything.key)]
            check_chart(metrics, params or (), len(keys))
        else:
            keys = [str(k) for k in experiment_keys]
            await self._learn_states(info)
        chart = await info.context.loaders.chart.load(ChartRequest(
            tuple(keys), tuple(metrics), tuple(params or ()), fetch_full(full, view),
            independent))
        if chart is None:
            return None
        found = chart.experiments
        return MetricChart(empty=chart.empty, experiments=[
            MetricChartEntry.of(key, found[key], viewed(info, found[key].metrics, view), view)
            for key in keys if key in found])

    async def _learn_states(self, info: Info) -> None:
        """The project's experiment list read first (through its loader: one upstream call
        per `cache_ttl_state` seconds at most), for what it says of the experiments' states:
        a chart asked by keys alone (a dashboard's series-only request, a tick, a slider's
        release) would otherwise find them unknown once the last list read is older than
        that, count ended experiments as running, and read their series again every
        `cache_ttl_running` seconds. Without a cache the states serve nothing: not read."""
        settings = info.context.settings
        if not settings.cache or settings.cache_ttl_state <= 0:
            return
        everything = plan_listing(self._ref(), None, None, False, True, None, None)
        try:
            await self._listing(info, everything.key)
        except UpstreamError:
            pass  # states unknown (running, the safe side): the chart's own call says more

    @strawberry.field(description="A multi-metric chart of its experiments (all of them, or "
                                  "`experimentKeys`): one series per metric and experiment. "
                                  "`points`, `stepMin`/`stepMax` and `smoothing` give each "
                                  "series at a chart's resolution (see Experiment."
                                  "metricSeries). " + CHART_BOUNDS)
    async def metric_chart(self, info: Info, metrics: list[str],
                           params: list[str] | None = None,
                           experiment_keys: list[strawberry.ID] | None = None,
                           full: bool = False, independent: bool = True,
                           points: Points = None, method: Method = Downsampling.LTTB,
                           step_min: StepMin = None, step_max: StepMax = None,
                           smoothing: Smoothing = None) -> list[MetricChartEntry] | None:
        view = series_view(points, method, step_min, step_max, smoothing)
        chart = await self._chart(info, metrics, params, experiment_keys, full, independent,
                                  view)
        return None if chart is None else chart.experiments

    @strawberry.field(description="The same chart as `metricChart` (the same arguments, the "
                                  "same upstream calls: asking both costs nothing more), with "
                                  "Comet's `empty` flag beside its entries. " + CHART_BOUNDS)
    async def metric_chart_result(self, info: Info, metrics: list[str],
                                  params: list[str] | None = None,
                                  experiment_keys: list[strawberry.ID] | None = None,
                                  full: bool = False, independent: bool = True,
                                  points: Points = None, method: Method = Downsampling.LTTB,
                                  step_min: StepMin = None, step_max: StepMax = None,
                                  smoothing: Smoothing = None) -> MetricChart | None:
        view = series_view(points, method, step_min, step_max, smoothing)
        return await self._chart(info, metrics, params, experiment_keys, full, independent,
                                 view)

    @strawberry.field(description="Its dashboard templates.")
    async def dashboards(self, info: Info
                         ) -> list[Annotated[DashboardTemplate, strawberry.lazy(".panel")]] | None:
        from .panel import DashboardTemplate

        found = await info.context.loaders.dashboards.load((self.workspace_name, str(self.id)))
        return None if found is None else [
            DashboardTemplate.of(t, self.workspace_name, parent=self) for t in found]


@strawberry.type(description="A project in a page of projects.")
class ProjectEdge:
    cursor: str = d("Opaque position of this project.")
    node: Project = d("The project.")


@strawberry.type(description="A page of a workspace's projects.")
class ProjectConnection:
    edges: list[ProjectEdge] = d("The projects of this page.")
    page_info: PageInfo = d("Where this page stands.")
    total_count: int = d("How many projects match, across all pages.")
