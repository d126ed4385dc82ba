"""Per-request loaders: every REST resource fetched at most once per GraphQL request.

Endpoints without a batch form are loaded concurrently (the transport's caps bound them); the
multi-metric chart is the one batch endpoint, and its loader coalesces every experiment's
series request of a GraphQL request into as few POSTs as the batch size allows. A 404 (or
Comet's 400 for an unknown key) loads as `None`: missing is null, not an error.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from aiodataloader import DataLoader

from .upstream import CometClient, errors
from .upstream.models import (
    Account,
    Asset,
    ChartExperiment,
    ChartMetric,
    CloudDetails,
    Dashboard,
    DashboardTemplateSummary,
    ExperimentMetadata,
    ExperimentModel,
    GitMetadata,
    MetricPoint,
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


BatchHook = Callable[[str, int], None]  # (loader name, keys in the batch)


class Keyed(DataLoader, Generic[K, V]):  # type: ignore[type-arg]
    """One upstream call per distinct key, all of a tick's keys in flight together."""

    def __init__(self, fetch: Callable[[K], Awaitable[V]], name: str = "",
                 on_batch: BatchHook | None = None) -> None:
        super().__init__()
        self._fetch = fetch
        self._name = name
        self._on_batch = on_batch

    async def _one(self, key: K) -> V | None:
        try:
            return await self._fetch(key)
        except errors.NotFound:
            return None

    async def batch_load_fn(self, keys: Sequence[K]) -> list[V | None | BaseException]:
        if self._on_batch is not None:
            self._on_batch(self._name, len(keys))
        # An exception value fails its own key alone (aiodataloader's contract).
        return list(await asyncio.gather(*(self._one(k) for k in keys), return_exceptions=True))

    async def get(self, key: K) -> V | None:
        return await self.load(key)  # type: ignore[no-any-return]


# ("id", project id, "") or ("name", workspace, project name)
ProjectRef = tuple[str, str, str]
# (project, archived, sortBy, sortOrder, page, size)
ListingKey = tuple[ProjectRef, bool, str | None, str | None, int | None, int | None]


@dataclass(frozen=True)
class SeriesRequest:
    experiment_key: str
    names: tuple[str, ...]
    full: bool


class ChartLoader(DataLoader):  # type: ignore[type-arg]
    """`Experiment.metricSeries` across a request, as few multi-metric-chart POSTs as allowed.

    Requests are grouped by `full`; in each group the metric names are merged and the
    experiments cut into batches of `batch_size`, one POST per batch, all in flight together.
    """

    def __init__(self, client: CometClient, batch_size: int,
                 on_batch: BatchHook | None = None) -> None:
        super().__init__()
        self._client = client
        self._batch_size = batch_size
        self._on_batch = on_batch

    async def batch_load_fn(self, requests: Sequence[SeriesRequest]
                            ) -> list[tuple[ChartMetric, ...] | None | BaseException]:
        if self._on_batch is not None:
            self._on_batch("series", len(requests))
        results: dict[SeriesRequest, tuple[ChartMetric, ...] | None | BaseException] = {}
        for full in {r.full for r in requests}:
            group = [r for r in requests if r.full == full]
            names = sorted({n for r in group for n in r.names})
            keys = list(dict.fromkeys(r.experiment_key for r in group))
            batches = [keys[i:i + self._batch_size]
                       for i in range(0, len(keys), self._batch_size)]
            answers = await asyncio.gather(
                *(self._client.get_multi_metric_chart(b, names, full=full) for b in batches),
                return_exceptions=True)
            by_key: dict[str, ChartExperiment | BaseException | None] = {}
            for batch, answer in zip(batches, answers, strict=True):
                for key in batch:
                    if isinstance(answer, BaseException):
                        by_key[key] = answer
                    else:
                        by_key[key] = (answer.experiments or {}).get(key)
            for r in group:
                found = by_key[r.experiment_key]
                if found is None or isinstance(found, BaseException):
                    results[r] = found
                else:
                    series = {m.metric_name: m for m in found.metrics}
                    results[r] = tuple(series[n] for n in r.names if n in series)
        return [results[r] for r in requests]


class Loaders:
    """All loaders of one GraphQL request, each made on first use."""

    def __init__(self, client: CometClient, chart_batch_size: int,
                 on_batch: BatchHook | None = None) -> None:
        self.client = client
        self._chart_batch_size = chart_batch_size
        self._on_batch = on_batch

    def _keyed(self, name: str, fetch: Callable[[K], Awaitable[V]]) -> Keyed[K, V]:
        return Keyed(fetch, name, self._on_batch)

    # --- account and workspaces
    @functools.cached_property
    def account(self) -> Keyed[str, Account]:  # one key: ""
        return self._keyed("account", lambda _: self.client.get_account_details())

    @functools.cached_property
    def workspaces(self) -> Keyed[str, tuple[str, ...]]:  # one key: ""
        return self._keyed("workspaces", lambda _: self.client.get_workspaces())

    # --- projects
    @functools.cached_property
    def projects(self) -> Keyed[str, tuple[Project, ...]]:
        async def fetch(workspace: str) -> tuple[Project, ...]:
            projects = await self.client.get_projects(workspace)
            for p in projects:  # what the list holds is not fetched again
                self.project.prime(p.project_id, p)
                self.project_by_name.prime((workspace, p.project_name), p)
            return projects

        return self._keyed("projects", fetch)

    @functools.cached_property
    def projects_page(self) -> Keyed[tuple[str, int, int, str | None, str | None, str | None,
                                          bool | None, bool | None, str | None], ProjectPage]:
        """(workspace, offset, count, sort, order, owner, public, starter, search) → a page."""
        async def fetch(k: tuple[str, int, int, str | None, str | None, str | None,
                                 bool | None, bool | None, str | None]) -> ProjectPage:
            ws, offset, count, sort, order, owner, public, starter, search = k
            return await self.client.get_projects_page(
                ws, offset=offset, count=count, sort=sort, order=order, owner=owner,
                public=public, starter_project=starter, search=search)

        return self._keyed("projects_page", fetch)

    @functools.cached_property
    def project(self) -> Keyed[str, Project]:
        return self._keyed("project", lambda pid: self.client.get_project(project_id=pid))

    @functools.cached_property
    def project_by_name(self) -> Keyed[tuple[str, str], Project]:
        async def fetch(ref: tuple[str, str]) -> Project:
            found = await self.client.get_project(workspace=ref[0], project_name=ref[1])
            self.project.prime(found.project_id, found)
            return found

        return self._keyed("project_by_name", fetch)

    @functools.cached_property
    def project_notes(self) -> Keyed[str, str]:
        return self._keyed("project_notes", self.client.get_project_notes)  # type: ignore[arg-type]

    @functools.cached_property
    def share_links(self) -> Keyed[str, tuple[str, ...]]:
        return self._keyed("share_links", self.client.get_project_share_links)

    @functools.cached_property
    def columns(self) -> Keyed[str, tuple[ProjectColumn, ...]]:
        return self._keyed("columns", lambda pid: self.client.get_project_columns(project_id=pid))

    @functools.cached_property
    def experiments(self) -> Keyed[ListingKey, tuple[ExperimentMetadata, ...]]:
        """A project's experiment list (the project by id, or by workspace and name)."""
        async def fetch(key: ListingKey) -> tuple[ExperimentMetadata, ...]:
            project, archived, sort_by, sort_order, page, size = key
            if project[0] == "id":
                ref: dict[str, str] = {"project_id": project[1]}
            else:
                ref = {"workspace": project[1], "project_name": project[2]}
            found = await self.client.get_experiments(
                **ref, archived=archived, sort_by=sort_by, sort_order=sort_order,
                page=page, size=size)
            for e in found:
                self.metadata.prime(e.experiment_key, e)
            return found

        return self._keyed("experiments", fetch)

    @functools.cached_property
    def project_query(self) -> Keyed[tuple[str, str, bool], ProjectQueryResult]:
        """(project id, predicates as JSON text, archived) → the matching keys."""
        return self._keyed("project_query", lambda ref: self.client.query_project(
            json.loads(ref[1]), archived=ref[2], project_id=ref[0]))

    @functools.cached_property
    def dashboards(self) -> Keyed[tuple[str, str | None], tuple[DashboardTemplateSummary, ...]]:
        return self._keyed(
            "dashboards", lambda ref: self.client.get_dashboard_templates(ref[0], ref[1]))

    @functools.cached_property
    def dashboard(self) -> Keyed[str, Dashboard]:
        return self._keyed("dashboard", self.client.get_dashboard)

    # --- experiments
    @functools.cached_property
    def metadata(self) -> Keyed[str, ExperimentMetadata]:
        return self._keyed("metadata", self.client.get_experiment_metadata)

    @functools.cached_property
    def git(self) -> Keyed[str, GitMetadata]:
        return self._keyed("git", self.client.get_git_metadata)

    @functools.cached_property
    def git_patch(self) -> Keyed[str, str]:
        return self._keyed("git_patch", self.client.get_git_patch)  # type: ignore[arg-type]

    @functools.cached_property
    def html(self) -> Keyed[str, str]:
        return self._keyed("html", self.client.get_html)  # type: ignore[arg-type]

    @functools.cached_property
    def code(self) -> Keyed[str, str]:
        return self._keyed("code", self.client.get_code)  # type: ignore[arg-type]

    @functools.cached_property
    def output(self) -> Keyed[str, str]:
        return self._keyed("output", self.client.get_output)  # type: ignore[arg-type]

    @functools.cached_property
    def graph(self) -> Keyed[str, str]:
        return self._keyed("graph", self.client.get_graph)  # type: ignore[arg-type]

    @functools.cached_property
    def store(self) -> Keyed[str, str]:
        return self._keyed("store", self.client.get_store)  # type: ignore[arg-type]

    @functools.cached_property
    def cloud(self) -> Keyed[str, CloudDetails]:
        return self._keyed("cloud", self.client.get_cloud_details)

    @functools.cached_property
    def metrics_summary(self) -> Keyed[str, tuple[ValueSummary, ...]]:
        return self._keyed("metrics_summary", self.client.get_metrics_summary)

    @functools.cached_property
    def parameters(self) -> Keyed[str, tuple[ValueSummary, ...]]:
        return self._keyed("parameters", self.client.get_parameters)

    @functools.cached_property
    def others(self) -> Keyed[str, tuple[ValueSummary, ...]]:
        return self._keyed("others", self.client.get_others)

    @functools.cached_property
    def tags(self) -> Keyed[str, tuple[str, ...]]:
        return self._keyed("tags", self.client.get_tags)

    @functools.cached_property
    def system(self) -> Keyed[str, SystemDetails]:
        return self._keyed("system", self.client.get_system_details)

    @functools.cached_property
    def all_metrics(self) -> Keyed[str, tuple[MetricPoint, ...]]:
        return self._keyed("all_metrics", self.client.get_all_metrics)

    @functools.cached_property
    def asset_details(self) -> Keyed[tuple[str, str], Asset]:
        return self._keyed("asset_details",
                           lambda ref: self.client.get_asset_details(ref[0], ref[1]))

    @functools.cached_property
    def assets_by_name(self) -> Keyed[tuple[str, str, str | None], tuple[Asset, ...]]:
        return self._keyed("assets_by_name",
                           lambda ref: self.client.get_assets_by_name(*ref))

    @functools.cached_property
    def metric(self) -> Keyed[tuple[str, str], tuple[MetricPoint, ...]]:
        return self._keyed("metric", lambda ref: self.client.get_metric(ref[0], ref[1]))

    @functools.cached_property
    def series(self) -> ChartLoader:
        return ChartLoader(self.client, self._chart_batch_size, self._on_batch)

    @functools.cached_property
    def chart(self) -> Keyed[tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], bool, bool],
                             dict[str, ChartExperiment]]:
        """(keys, metrics, params, full, independent) → one chart, in batches of keys."""
        async def fetch(ref: tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], bool, bool]
                        ) -> dict[str, ChartExperiment]:
            keys, metrics, params, full, independent = ref
            size = self._chart_batch_size
            answers = await asyncio.gather(*(
                self.client.get_multi_metric_chart(keys[i:i + size], metrics, params,
                                                   independent=independent, full=full)
                for i in range(0, len(keys), size)))
            return {k: v for a in answers for k, v in (a.experiments or {}).items()}

        return self._keyed("chart", fetch)

    @functools.cached_property
    def assets(self) -> Keyed[tuple[str, str], tuple[Asset, ...]]:
        return self._keyed("assets", lambda ref: self.client.get_asset_list(ref[0], ref[1]))

    @functools.cached_property
    def models(self) -> Keyed[str, tuple[ExperimentModel, ...]]:
        return self._keyed("models", self.client.get_experiment_models)

    @functools.cached_property
    def model_assets(self) -> Keyed[tuple[str, str], tuple[Asset, ...]]:
        return self._keyed(
            "model_assets", lambda ref: self.client.get_experiment_model_assets(ref[0], ref[1]))

    @functools.cached_property
    def optimizer(self) -> Keyed[tuple[str, str | None, bool | None], OptimizerBest]:
        return self._keyed("optimizer", lambda ref: self.client.get_optimizer_best(*ref))

    # --- registry
    @functools.cached_property
    def registry_models(self) -> Keyed[str, tuple[RegistryModel, ...]]:
        return self._keyed("registry_models", self.client.get_registry_models)

    @functools.cached_property
    def registry_count(self) -> Keyed[str, int]:
        return self._keyed("registry_count", self.client.get_registry_model_count)  # type: ignore[arg-type]

    @functools.cached_property
    def registry_details(self) -> Keyed[tuple[str, str], RegistryModel]:
        return self._keyed(
            "registry_details", lambda ref: self.client.get_registry_model_details(*ref))

    @functools.cached_property
    def registry_notes(self) -> Keyed[tuple[str, str], str]:
        return self._keyed("registry_notes", lambda ref: self.client.get_registry_model_notes(*ref))  # type: ignore

    @functools.cached_property
    def webhooks(self) -> Keyed[tuple[str, str], WebhookConfig]:
        return self._keyed("webhooks", lambda ref: self.client.get_webhook_config(*ref))

    # --- panels
    @functools.cached_property
    def panels(self) -> Keyed[str, tuple[PanelSummary, ...]]:
        return self._keyed("panels", self.client.get_panels)

    @functools.cached_property
    def panel(self) -> Keyed[str, Panel]:
        return self._keyed("panel", self.client.get_panel)
