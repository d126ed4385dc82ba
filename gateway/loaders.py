"""Per-request loaders: every REST resource fetched at most once per GraphQL request.

Endpoints without a batch form are loaded concurrently (the transport's caps bound them); the
multi-metric chart is the one batch endpoint, and its loader coalesces every experiment's
series request of a GraphQL request into as few POSTs as the batch size allows. A 404 (or
Comet's 400 for an unknown key) loads as `None`: missing is null, not an error.

Each loader is a `dataloader.Loader[K, V]`; keys of more than two parts are frozen
dataclasses.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import msgspec

from .dataloader import BatchHook, Loader, chunks, each, together, tracked
from .upstream import CometClient
from .upstream import errors as up
from .upstream.models import (
    Account,
    Asset,
    ChartExperiment,
    CloudDetails,
    Dashboard,
    DashboardTemplateSummary,
    ExperimentMetadata,
    ExperimentModel,
    GitMetadata,
    MetricPoint,
    MultiMetricChart,
    OptimizerBest,
    Panel,
    PanelSummary,
    Project,
    ProjectColumn,
    ProjectPage,
    ProjectQueryResult,
    RegistryModel,
    SystemDetails,
    ValueSummary,
    WebhookConfig,
)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

@dataclass(frozen=True, slots=True)
class ProjectRef:
    """A project as it was asked for: by id, or by workspace and name."""
    project_id: str | None = None
    workspace: str | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class ExperimentListing:
    """One call for a project's experiment list: all of it, or one page (page/size)."""
    project: ProjectRef
    archived: bool = False
    sort_by: str | None = None
    sort_order: str | None = None
    page: int | None = None
    size: int | None = None


@dataclass(frozen=True, slots=True)
class ProjectsPageRequest:
    """One page of a workspace's project browser."""
    workspace: str
    offset: int
    count: int
    sort: str | None = None
    order: str | None = None
    owner: str | None = None
    public: bool | None = None
    starter_project: bool | None = None
    search: str | None = None


@dataclass(frozen=True, slots=True)
class ProjectQuery:
    """A project query: the predicates as JSON text, so that equal filters are one key."""
    project_id: str
    predicates: str
    archived: bool


@dataclass(frozen=True, slots=True)
class ChartRequest:
    """`Project.metricChart`: one chart over `keys`, fetched in batches of keys."""
    keys: tuple[str, ...]
    metrics: tuple[str, ...]
    params: tuple[str, ...] = ()
    full: bool = False
    independent: bool = True


@dataclass(frozen=True, slots=True)
class Chart:
    """A chart as the upstream answered it, its batches put together."""
    experiments: dict[str, ChartExperiment]
    empty: bool | None  # Comet's flag: no batch returned any metric (null if none said)


@dataclass(frozen=True, slots=True)
class SeriesRequest:
    """`Experiment.metricSeries`: coalesced across the request into chart batches."""
    experiment_key: str
    names: tuple[str, ...]
    full: bool
    params: tuple[str, ...] = ()
    independent: bool = True

    @property
    def group(self) -> tuple[bool, bool, tuple[str, ...] | None]:
        """Requests of one group share their POSTs. Independent metrics are fetched one by
        one, so names can be merged; correlated ones keep only the steps every requested
        metric has, which depends on the exact set: those share a POST only with the same
        names."""
        return self.full, self.independent, None if self.independent else self.names


@dataclass(frozen=True, slots=True)
class AssetsByName:
    experiment_key: str
    name: str
    type: str | None


@dataclass(frozen=True, slots=True)
class OptimizerQuery:
    optimization_id: str
    metric_name: str | None
    maximize: bool | None


class Loaders:
    """All loaders of one GraphQL request, each made on first use."""

    def __init__(self, client: CometClient, chart_batch_size: int,
                 on_batch: BatchHook | None = None) -> None:
        self.client = client
        self._gate = client.gate()
        self._chart_batch_size = chart_batch_size
        self._loading: set[asyncio.Task[Any]] = set()
        self._on_batch = tracked(self._loading, on_batch)

    def close(self) -> None:
        """Drop every loader made, and what it loaded, once the request is answered.

        A loader, its batch function and this object refer to each other: left alone, what a
        request loaded (for a large answer, tens of MB of upstream data) would wait for the
        cyclic garbage collector, which the server runs rarely (see `collector`). Dropped
        here, it goes as soon as the answer is sent. A loader asked for again is made anew."""
        for name, value in list(vars(self).items()):
            if isinstance(value, Loader):
                value.clear()
                del self.__dict__[name]

    def cancel(self) -> None:
        """The answer was abandoned (its client went away): the batches still loading stop,
        and their upstream calls with them (their keys fail with `dataloader.Abandoned`)."""
        for task in list(self._loading):
            task.cancel()

    def _each(self, name: str, fetch: Callable[[K], Awaitable[V]]) -> Loader[K, V]:
        return Loader(each(fetch, self._gate), name, self._on_batch)

    # --- account and workspaces
    @functools.cached_property
    def account(self) -> Loader[str, Account]:  # one key: ""
        return self._each("account", lambda _: self.client.get_account_details())

    @functools.cached_property
    def workspaces(self) -> Loader[str, tuple[str, ...]]:  # one key: ""
        return self._each("workspaces", lambda _: self.client.get_workspaces())

    # --- projects
    @functools.cached_property
    def projects(self) -> Loader[str, tuple[Project, ...]]:
        async def fetch(workspace: str) -> tuple[Project, ...]:
            projects = await self.client.get_projects(workspace)
            for p in projects:  # what the list holds is not fetched again
                self.project.prime(p.project_id, p)
                self.project_by_name.prime((workspace, p.project_name), p)
            return projects

        return self._each("projects", fetch)

    @functools.cached_property
    def projects_page(self) -> Loader[ProjectsPageRequest, ProjectPage]:
        return self._each("projects_page", lambda r: self.client.get_projects_page(
            r.workspace, offset=r.offset, count=r.count, sort=r.sort, order=r.order,
            owner=r.owner, public=r.public, starter_project=r.starter_project,
            search=r.search))

    @functools.cached_property
    def project(self) -> Loader[str, Project]:
        return self._each("project", lambda pid: self.client.get_project(project_id=pid))

    @functools.cached_property
    def project_by_name(self) -> Loader[tuple[str, str], Project]:  # (workspace, name)
        async def fetch(ref: tuple[str, str]) -> Project:
            found = await self.client.get_project(workspace=ref[0], project_name=ref[1])
            self.project.prime(found.project_id, found)
            return found

        return self._each("project_by_name", fetch)

    @functools.cached_property
    def project_notes(self) -> Loader[str, str | None]:
        return self._each("project_notes", self.client.get_project_notes)

    @functools.cached_property
    def share_links(self) -> Loader[str, tuple[str, ...]]:
        return self._each("share_links", self.client.get_project_share_links)

    @functools.cached_property
    def columns(self) -> Loader[str, tuple[ProjectColumn, ...]]:
        return self._each("columns", lambda pid: self.client.get_project_columns(project_id=pid))

    @functools.cached_property
    def experiments(self) -> Loader[ExperimentListing, tuple[ExperimentMetadata, ...]]:
        """A project's experiment list (the project by id, or by workspace and name)."""
        async def fetch(key: ExperimentListing) -> tuple[ExperimentMetadata, ...]:
            project = key.project
            found = await self.client.get_experiments(
                project.workspace, project.name, project.project_id, archived=key.archived,
                sort_by=key.sort_by, sort_order=key.sort_order, page=key.page, size=key.size)
            for e in found:
                self.metadata.prime(e.experiment_key, e)
            return found

        return self._each("experiments", fetch)

    @functools.cached_property
    def project_query(self) -> Loader[ProjectQuery, ProjectQueryResult]:
        return self._each("project_query", lambda q: self.client.query_project(
            json.loads(q.predicates), archived=q.archived, project_id=q.project_id))

    @functools.cached_property
    def dashboards(self) -> Loader[tuple[str, str | None], tuple[DashboardTemplateSummary, ...]]:
        """(workspace, project id or None) → its dashboard templates."""
        return self._each(
            "dashboards", lambda ref: self.client.get_dashboard_templates(ref[0], ref[1]))

    @functools.cached_property
    def dashboard(self) -> Loader[str, Dashboard]:
        return self._each("dashboard", self.client.get_dashboard)

    # --- experiments
    @functools.cached_property
    def metadata(self) -> Loader[str, ExperimentMetadata]:
        return self._each("metadata", self.client.get_experiment_metadata)

    @functools.cached_property
    def git(self) -> Loader[str, GitMetadata]:
        return self._each("git", self.client.get_git_metadata)

    @functools.cached_property
    def git_patch(self) -> Loader[str, str | None]:
        return self._each("git_patch", self.client.get_git_patch)

    @functools.cached_property
    def html(self) -> Loader[str, str | None]:
        return self._each("html", self.client.get_html)

    @functools.cached_property
    def code(self) -> Loader[str, str | None]:
        return self._each("code", self.client.get_code)

    @functools.cached_property
    def output(self) -> Loader[str, str | None]:
        return self._each("output", self.client.get_output)

    @functools.cached_property
    def graph(self) -> Loader[str, str | None]:
        return self._each("graph", self.client.get_graph)

    @functools.cached_property
    def store(self) -> Loader[str, str | None]:
        return self._each("store", self.client.get_store)

    @functools.cached_property
    def cloud(self) -> Loader[str, CloudDetails]:
        return self._each("cloud", self.client.get_cloud_details)

    @functools.cached_property
    def metrics_summary(self) -> Loader[str, tuple[ValueSummary, ...]]:
        return self._each("metrics_summary", self.client.get_metrics_summary)

    @functools.cached_property
    def parameters(self) -> Loader[str, tuple[ValueSummary, ...]]:
        return self._each("parameters", self.client.get_parameters)

    @functools.cached_property
    def others(self) -> Loader[str, tuple[ValueSummary, ...]]:
        return self._each("others", self.client.get_others)

    @functools.cached_property
    def tags(self) -> Loader[str, tuple[str, ...]]:
        return self._each("tags", self.client.get_tags)

    @functools.cached_property
    def system(self) -> Loader[str, SystemDetails]:
        return self._each("system", self.client.get_system_details)

    @functools.cached_property
    def all_metrics(self) -> Loader[str, tuple[MetricPoint, ...]]:
        return self._each("all_metrics", self.client.get_all_metrics)

    @functools.cached_property
    def asset_details(self) -> Loader[tuple[str, str], Asset]:  # (experiment, asset id)
        return self._each("asset_details",
                          lambda ref: self.client.get_asset_details(ref[0], ref[1]))

    @functools.cached_property
    def assets_by_name(self) -> Loader[AssetsByName, tuple[Asset, ...]]:
        return self._each("assets_by_name", lambda a: self.client.get_assets_by_name(
            a.experiment_key, a.name, a.type))

    @functools.cached_property
    def metric(self) -> Loader[tuple[str, str], tuple[MetricPoint, ...]]:  # (experiment, name)
        return self._each("metric", lambda ref: self.client.get_metric(ref[0], ref[1]))

    @functools.cached_property
    def series(self) -> Loader[SeriesRequest, ChartExperiment]:
        return Loader(self._series, "series", self._on_batch)

    async def _series(self, requests: list[SeriesRequest]
                      ) -> list[ChartExperiment | None | Exception]:
        """Requests grouped (see `SeriesRequest.group`); in each group the metric names and
        params merged and the experiments the cache does not hold cut into chart batches: one
        POST per batch, every batch in flight together. Each request gets its experiment's
        entry with the names and params it asked for."""
        Group = tuple[bool, bool, tuple[str, ...] | None]
        calls: list[tuple[Group, Sequence[str]]] = []
        answers: list[Awaitable[MultiMetricChart]] = []
        found: dict[tuple[Group, str], ChartExperiment | None | Exception] = {}
        for key in dict.fromkeys(r.group for r in requests):
            full, independent, _ = key
            group = [r for r in requests if r.group == key]
            names = sorted({n for r in group for n in r.names})
            params = sorted({p for r in group for p in r.params})
            experiments = list(dict.fromkeys(r.experiment_key for r in group))
            held = await self.client.held_chart_parts(experiments, names, params,
                                                      independent=independent, full=full)
            found.update(((key, e), part) for e, part in held.items())
            for batch in chunks([e for e in experiments if e not in held],
                                self._chart_batch_size):
                calls.append((key, batch))
                answers.append(self._chart_batch(batch, names, params, independent, full))
        for (key, batch), answer in zip(calls, await together(answers), strict=True):
            for experiment in batch:
                if isinstance(answer, Exception):
                    found[key, experiment] = answer
                else:
                    found[key, experiment] = (answer.experiments or {}).get(experiment)
        return [_series_of(found[r.group, r.experiment_key], r) for r in requests]

    async def _chart_batch(self, batch: Sequence[str], metrics: Sequence[str],
                           params: Sequence[str], independent: bool, full: bool
                           ) -> MultiMetricChart:
        """One batch's chart. Full series of long runs can outgrow the bytes the gateway reads
        of one answer (4 metrics of 15,000 points are some 2.4 MB an experiment): such a batch
        is asked again in two halves, and so on down to one experiment, rather than fail. Each
        call counts against the operation's budget, as every call does."""
        try:
            return await self.client.get_multi_metric_chart(
                batch, metrics, params, independent=independent, full=full, lookup=False)
        except up.AnswerTooLarge:
            if len(batch) < 2:
                raise
        middle = len(batch) // 2
        halves = await together([
            self._chart_batch(part, metrics, params, independent, full)
            for part in (batch[:middle], batch[middle:])])
        for half in halves:
            if isinstance(half, Exception):
                raise half
        first, second = (h for h in halves if not isinstance(h, Exception))
        flags = [h.empty for h in (first, second) if h.empty is not None]
        return MultiMetricChart(empty=all(flags) if flags else None,
                                experiments={**(first.experiments or {}),
                                             **(second.experiments or {})})

    @functools.cached_property
    def chart(self) -> Loader[ChartRequest, Chart]:
        async def fetch(r: ChartRequest) -> Chart:
            held = await self.client.held_chart_parts(r.keys, r.metrics, r.params,
                                                      independent=r.independent, full=r.full)
            answers = await together([
                self._chart_batch(batch, r.metrics, r.params, r.independent, r.full)
                for batch in chunks([k for k in r.keys if k not in held],
                                    self._chart_batch_size)])
            chart = {k: part for k, part in held.items() if part is not None}
            # What the cache held says empty as a batch would: no metric in any entry.
            flags = [not any(p.metrics for p in chart.values())] if held else []
            for answer in answers:
                if isinstance(answer, Exception):
                    raise answer  # one batch missing is the whole chart failing
                chart.update(answer.experiments or {})
                if answer.empty is not None:
                    flags.append(answer.empty)
            # Empty when every batch that said so was empty; null when none said.
            return Chart(chart, all(flags) if flags else None)

        return self._each("chart", fetch)

    @functools.cached_property
    def assets(self) -> Loader[tuple[str, str], tuple[Asset, ...]]:  # (experiment, type)
        return self._each("assets", lambda ref: self.client.get_asset_list(ref[0], ref[1]))

    @functools.cached_property
    def models(self) -> Loader[str, tuple[ExperimentModel, ...]]:
        return self._each("models", self.client.get_experiment_models)

    @functools.cached_property
    def model_assets(self) -> Loader[tuple[str, str], tuple[Asset, ...]]:  # (experiment, model)
        return self._each(
            "model_assets", lambda ref: self.client.get_experiment_model_assets(ref[0], ref[1]))

    @functools.cached_property
    def optimizer(self) -> Loader[OptimizerQuery, OptimizerBest]:
        return self._each("optimizer", lambda q: self.client.get_optimizer_best(
            q.optimization_id, q.metric_name, q.maximize))

    # --- registry (keys: workspace, or (workspace, model name))
    @functools.cached_property
    def registry_models(self) -> Loader[str, tuple[RegistryModel, ...]]:
        return self._each("registry_models", self.client.get_registry_models)

    @functools.cached_property
    def registry_count(self) -> Loader[str, int | None]:
        return self._each("registry_count", self.client.get_registry_model_count)

    @functools.cached_property
    def registry_details(self) -> Loader[tuple[str, str], RegistryModel]:
        return self._each(
            "registry_details", lambda ref: self.client.get_registry_model_details(*ref))

    @functools.cached_property
    def registry_notes(self) -> Loader[tuple[str, str], str | None]:
        return self._each("registry_notes",
                          lambda ref: self.client.get_registry_model_notes(*ref))

    @functools.cached_property
    def webhooks(self) -> Loader[tuple[str, str], WebhookConfig]:
        return self._each("webhooks", lambda ref: self.client.get_webhook_config(*ref))

    # --- panels
    @functools.cached_property
    def panels(self) -> Loader[str, tuple[PanelSummary, ...]]:
        return self._each("panels", self.client.get_panels)

    @functools.cached_property
    def panel(self) -> Loader[str, Panel]:
        return self._each("panel", self.client.get_panel)


def _series_of(found: ChartExperiment | None | Exception, request: SeriesRequest
               ) -> ChartExperiment | None | Exception:
    """One request's part of its experiment's chart entry: its series in the order of its
    names, and its params."""
    if found is None or isinstance(found, Exception):
        return found
    series = {m.metric_name: m for m in found.metrics}
    chosen = tuple(series[n] for n in request.names if n in series)
    values = found.params or {}
    steps = found.steps
    if len(chosen) < len(found.metrics):  # merged with other requests' names: its own steps
        steps = tuple(sorted({s for m in chosen for s in m.steps if s is not None}))
    return msgspec.structs.replace(
        found, metrics=chosen, steps=steps,
        params={p: values[p] for p in request.params if p in values})
