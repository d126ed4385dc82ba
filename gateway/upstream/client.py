"""The typed Comet REST client: one method per endpoint, typed answers, the caller's key.

A `CometClient` is made per GraphQL request from the application's `Transport` and the
caller's key; it holds nothing else and outlives nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any, TypeVar

from . import endpoints as ep
from .admission import Gate
from .budget import Budget
from .chart_cache import ChartAsk
from .config import ApiKey
from .decoding import Shape, field, listing, one
from .endpoints import Endpoint
from .models import (
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
from .shared import Deadline
from .transport import Download, Params, Redirect, Transport

T = TypeVar("T")


class CometClient:
    def __init__(self, transport: Transport, api_key: ApiKey, *,
                 deadline: Deadline | float | None = None, budget: Budget | None = None,
                 cached: bool = True) -> None:
        self._transport = transport
        self._key = api_key
        # Event-loop time, for every call of this client: one Deadline, so one timer for all.
        self._deadline = Deadline.of(deadline)
        self._budget = budget
        self._cached = cached  # False: never answered from the response cache (live data)

    def __repr__(self) -> str:
        return "CometClient(key=***)"

    def gate(self) -> Gate:
        """When this key's next call may be begun (see `admission`)."""
        return self._transport.admission.gate(self._key)

    def _spend(self, endpoint: Endpoint) -> None:
        if self._budget is not None:
            self._budget.spend(endpoint)

    async def _get(self, endpoint: Endpoint, shape: Shape[T], params: Params | None = None,
                   body: Any = None, experiment: str | None = None) -> T:
        self._spend(endpoint)
        content = await self._transport.call(endpoint, self._key, params=params, body=body,
                                             deadline=self._deadline, budget=self._budget,
                                             cached=self._cached, experiment=experiment)
        return shape.decode(content, endpoint.name)

    # --- account and workspaces --------------------------------------------------------------
    async def get_account_details(self) -> Account:
        return await self._get(ep.ACCOUNT_DETAILS, one(Account))

    async def get_workspaces(self) -> tuple[str, ...]:
        return await self._get(ep.WORKSPACES, listing(str, "workspaceNames"))

    # --- projects ----------------------------------------------------------------------------
    async def get_projects(self, workspace: str) -> tuple[Project, ...]:
        return await self._get(ep.PROJECTS, listing(Project, "projects"),
                               {"workspaceName": workspace})

    async def get_projects_page(self, workspace: str, *, offset: int = 0, count: int = 10,
                                sort: str | None = None, order: str | None = None,
                                owner: str | None = None, public: bool | None = None,
                                starter_project: bool | None = None,
                                search: str | None = None) -> ProjectPage:
        return await self._get(ep.PROJECTS_PAGE, one(ProjectPage), {
            "workspaceName": workspace, "offset": offset, "count": count, "sort": sort,
            "order": order, "owner": owner, "public": public,
            "starterProject": starter_project, "search": search})

    @staticmethod
    def _project_ref(project_id: str | None, workspace: str | None,
                     project_name: str | None) -> dict[str, str]:
        if project_id is not None:
            return {"projectId": project_id}
        if workspace is not None and project_name is not None:
            return {"workspaceName": workspace, "projectName": project_name}
        raise ValueError("name a project by id, or by workspace and name")

    async def get_project(self, project_id: str | None = None, workspace: str | None = None,
                          project_name: str | None = None) -> Project:
        return await self._get(ep.PROJECT, one(Project),
                               self._project_ref(project_id, workspace, project_name))

    async def get_project_columns(self, workspace: str | None = None,
                                  project_name: str | None = None,
                                  project_id: str | None = None) -> tuple[ProjectColumn, ...]:
        return await self._get(ep.PROJECT_COLUMNS, listing(ProjectColumn, "columns"),
                               self._project_ref(project_id, workspace, project_name))

    async def query_project(self, predicates: Sequence[dict[str, Any]], *,
                            archived: bool = False, workspace: str | None = None,
                            project_name: str | None = None,
                            project_id: str | None = None) -> ProjectQueryResult:
        body: dict[str, Any] = {**self._project_ref(project_id, workspace, project_name),
                                "predicates": list(predicates), "archived": archived}
        return await self._get(ep.PROJECT_QUERY, one(ProjectQueryResult), body=body)

    async def get_project_notes(self, project_id: str) -> str | None:
        return await self._get(ep.PROJECT_NOTES, field("notes", str),
                               {"projectId": project_id})

    async def get_project_share_links(self, project_id: str) -> tuple[str, ...]:
        return await self._get(ep.PROJECT_SHARE_LINKS, listing(str, "shareCodes"),
                               {"projectId": project_id})

    async def get_experiments(self, workspace: str | None = None,
                              project_name: str | None = None, project_id: str | None = None,
                              *, archived: bool = False, page: int | None = None,
                              size: int | None = None, sort_by: str | None = None,
                              sort_order: str | None = None) -> tuple[ExperimentMetadata, ...]:
        params = {**self._project_ref(project_id, workspace, project_name), "archived": archived,
                  "page": page, "size": size, "sortBy": sort_by, "sortOrder": sort_order}
        found = await self._get(ep.EXPERIMENTS, listing(ExperimentMetadata, "experiments"),
                                params)
        self._transport.saw_experiments(self._key, found)  # their states, for the cache
        return found

    async def get_multi_metric_chart(self, experiment_keys: Sequence[str],
                                     metrics: Sequence[str], params: Sequence[str] = (), *,
                                     independent: bool = True, full: bool = False,
                                     lookup: bool = True) -> MultiMetricChart:
        """The chart; from the cache, experiment by experiment, when it is on (see
        `chart_cache`). `lookup=False`: the caller asked `held_chart_parts` already, so only
        the upstream is asked (and what it answers kept)."""
        ask = ChartAsk(tuple(metrics), tuple(params), independent, full)
        charts = self._transport.charts
        if charts is None or not self._cached:
            return await self._chart(experiment_keys, ask)
        return await charts.chart(self._key, experiment_keys, ask,
                                  lambda keys: self._chart_bytes(keys, ask), lookup=lookup)

    async def held_chart_parts(self, experiment_keys: Sequence[str], metrics: Sequence[str],
                               params: Sequence[str] = (), *, independent: bool = True,
                               full: bool = False) -> dict[str, ChartExperiment | None]:
        """What the cache holds of these experiments' chart, by experiment (none when it is
        off): a caller that cuts experiments into batches asks the upstream for the rest
        only, so that a refresh's running experiments share their batches."""
        charts = self._transport.charts
        if charts is None or not self._cached:
            return {}
        return await charts.held(self._key, experiment_keys,
                                 ChartAsk(tuple(metrics), tuple(params), independent, full))

    async def _chart(self, experiment_keys: Sequence[str], ask: ChartAsk) -> MultiMetricChart:
        return one(MultiMetricChart).decode(await self._chart_bytes(experiment_keys, ask),
                                            ep.MULTI_METRIC_CHART.name)

    async def _chart_bytes(self, experiment_keys: Sequence[str], ask: ChartAsk) -> bytes:
        body = {"targetedExperiments": list(experiment_keys), "metrics": list(ask.metrics),
                "params": list(ask.params), "independentMetrics": ask.independent,
                "fetchFull": ask.full}
        budget = self._budget
        if not ask.full or budget is None:
            return await self._chart_call(body)
        async with budget.full_series_turn:  # one at a time: see Budget
            budget.check_full_series(ep.MULTI_METRIC_CHART)
            content = await self._chart_call(body)
            budget.full_series_read += len(content)
            return content

    async def _chart_call(self, body: dict[str, Any]) -> bytes:
        self._spend(ep.MULTI_METRIC_CHART)
        return await self._transport.call(ep.MULTI_METRIC_CHART, self._key, body=body,
                                          deadline=self._deadline, budget=self._budget,
                                          cached=self._cached)

    # --- one experiment ----------------------------------------------------------------------
    async def _experiment(self, endpoint: Endpoint, key: str, shape: Shape[T],
                          **params: Any) -> T:
        return await self._get(endpoint, shape, {"experimentKey": key, **params},
                               experiment=key)

    async def get_experiment_metadata(self, key: str) -> ExperimentMetadata:
        found = await self._experiment(ep.EXPERIMENT_METADATA, key, one(ExperimentMetadata))
        self._transport.saw_experiments(self._key, (found,))  # its state, for the cache
        return found

    async def get_git_metadata(self, key: str) -> GitMetadata:
        return await self._experiment(ep.GIT_METADATA, key, one(GitMetadata))

    async def get_git_patch(self, key: str) -> str | None:
        """The patch text, or None when the experiment has none (Comet answers `{"msg": ...}`)."""
        self._spend(ep.GIT_PATCH)
        content = await self._transport.call(ep.GIT_PATCH, self._key,
                                             params={"experimentKey": key},
                                             deadline=self._deadline, budget=self._budget,
                                             cached=self._cached, experiment=key)
        if content.lstrip().startswith(b'{"msg"'):
            return None
        return content.decode("utf-8", errors="replace")

    async def get_html(self, key: str) -> str | None:
        return await self._experiment(ep.HTML, key, field("html", str))

    async def get_code(self, key: str) -> str | None:
        return await self._experiment(ep.CODE, key, field("code", str))

    async def get_output(self, key: str) -> str | None:
        return await self._experiment(ep.OUTPUT, key, field("output", str))

    async def get_graph(self, key: str) -> str | None:
        return await self._experiment(ep.GRAPH, key, field("graph", str))

    async def get_cloud_details(self, key: str) -> CloudDetails:
        return await self._experiment(ep.CLOUD_DETAILS, key, one(CloudDetails))

    async def get_metric(self, key: str, metric_name: str) -> tuple[MetricPoint, ...]:
        return await self._experiment(ep.METRIC, key, listing(MetricPoint, "metrics"),
                                      metricName=metric_name)

    async def get_all_metrics(self, key: str) -> tuple[MetricPoint, ...]:
        return await self._experiment(ep.ALL_METRICS, key, listing(MetricPoint, "metrics"))

    async def get_metrics_summary(self, key: str) -> tuple[ValueSummary, ...]:
        return await self._experiment(ep.METRICS_SUMMARY, key, listing(ValueSummary, "values"))

    async def get_parameters(self, key: str) -> tuple[ValueSummary, ...]:
        return await self._experiment(ep.PARAMETERS, key, listing(ValueSummary, "values"))

    async def get_others(self, key: str) -> tuple[ValueSummary, ...]:
        return await self._experiment(ep.OTHERS, key, listing(ValueSummary, "values"))

    async def get_tags(self, key: str) -> tuple[str, ...]:
        return await self._experiment(ep.TAGS, key, listing(str, "tags"))

    async def get_system_details(self, key: str) -> SystemDetails:
        return await self._experiment(ep.SYSTEM_DETAILS, key, one(SystemDetails))

    async def get_store(self, key: str) -> str | None:
        return await self._experiment(ep.STORE, key, field("store", str))

    # --- assets, models, artifacts -----------------------------------------------------------
    async def get_asset_list(self, key: str, asset_type: str = "all") -> tuple[Asset, ...]:
        return await self._experiment(ep.ASSET_LIST, key, listing(Asset, "assets"),
                                      type=asset_type)

    async def get_assets_by_name(self, key: str, asset_name: str,
                                 asset_type: str | None = None) -> tuple[Asset, ...]:
        return await self._experiment(ep.ASSETS_BY_NAME, key, listing(Asset, "assets"),
                                      assetName=asset_name, type=asset_type)

    async def get_asset_details(self, key: str, asset_id: str) -> Asset:
        return await self._experiment(ep.ASSET_DETAILS, key, one(Asset), assetId=asset_id)

    def get_asset(self, key: str, asset_id: str, *, follow_redirects: bool = True,
                  artifact_version_id: str | None = None
                  ) -> contextlib.AbstractAsyncContextManager[Download | Redirect]:
        """The asset's bytes. Comet may redirect to its storage (`allow301`): the redirect is
        followed (by the rules of `redirects`: the key never leaves the upstream's origin, no
        hop reaches a private address), or with `follow_redirects=False` handed back as a
        `Redirect`."""
        params = {"experimentKey": key, "assetId": asset_id,
                  "artifactVersionId": artifact_version_id, "allow301": True}
        self._spend(ep.ASSET)
        return self._transport.stream(ep.ASSET, self._key, params=params,
                                      follow_redirects=follow_redirects, budget=self._budget)

    async def get_experiment_models(self, key: str) -> tuple[ExperimentModel, ...]:
        return await self._experiment(ep.EXPERIMENT_MODELS, key,
                                      listing(ExperimentModel, "models"))

    async def get_experiment_model_assets(self, key: str, model_name: str) -> tuple[Asset, ...]:
        return await self._experiment(ep.EXPERIMENT_MODEL_ASSETS, key,
                                      listing(Asset, "assets"), modelName=model_name)

    @contextlib.asynccontextmanager
    async def _download(self, endpoint: Endpoint, params: Params,
                        path_params: dict[str, str] | None = None) -> AsyncIterator[Download]:
        self._spend(endpoint)
        async with self._transport.stream(endpoint, self._key, params=params,
                                          path_params=path_params,
                                          budget=self._budget) as answer:
            assert isinstance(answer, Download)  # redirects are followed here
            yield answer

    def download_experiment_model(self, key: str, model_name: str
                                  ) -> contextlib.AbstractAsyncContextManager[Download]:
        return self._download(ep.EXPERIMENT_MODEL_DOWNLOAD,
                              {"experimentKey": key, "modelName": model_name})

    def download_artifact(self, *, experiment_key: str | None = None,
                          version: str | None = None, artifact_id: str | None = None,
                          version_id: str | None = None
                          ) -> contextlib.AbstractAsyncContextManager[Download]:
        """By experiment key and version (Comet's docs), or by artifact and version ids."""
        if artifact_id and version_id:
            params: Params = {"artifactId": artifact_id, "versionId": version_id}
        elif experiment_key and version:
            params = {"experimentKey": experiment_key, "version": version}
        else:
            raise ValueError("name an artifact by experiment key and version, or by ids")
        return self._download(ep.ARTIFACT_DOWNLOAD, params)

    # --- the model registry ------------------------------------------------------------------
    async def get_registry_models(self, workspace: str) -> tuple[RegistryModel, ...]:
        return await self._get(ep.REGISTRY_MODELS, listing(RegistryModel, "registryModels"),
                               {"workspaceName": workspace})

    async def get_registry_model_count(self, workspace: str) -> int | None:
        return await self._get(ep.REGISTRY_MODEL_COUNT,
                               field("registryModelCount", int),
                               {"workspaceName": workspace})

    async def get_registry_model_details(self, workspace: str, model_name: str) -> RegistryModel:
        return await self._get(ep.REGISTRY_MODEL_DETAILS, one(RegistryModel),
                               {"workspaceName": workspace, "modelName": model_name})

    async def get_registry_model_notes(self, workspace: str, model_name: str) -> str | None:
        return await self._get(ep.REGISTRY_MODEL_NOTES, field("notes", str),
                               {"workspaceName": workspace, "modelName": model_name})

    def download_registry_model(self, workspace: str, model_name: str, *,
                                version: str | None = None, stage: str | None = None
                                ) -> contextlib.AbstractAsyncContextManager[Download]:
        if bool(version) == bool(stage):
            raise ValueError("give exactly one of version or stage")
        return self._download(ep.REGISTRY_MODEL_DOWNLOAD, {
            "workspaceName": workspace, "modelName": model_name, "version": version,
            "stage": stage})

    async def get_webhook_config(self, workspace: str, model_name: str) -> WebhookConfig:
        return await self._get(ep.WEBHOOK_CONFIG, one(WebhookConfig),
                               {"workspaceName": workspace, "modelName": model_name})

    # --- panels, dashboards, optimizer -------------------------------------------------------
    async def get_panels(self, workspace: str) -> tuple[PanelSummary, ...]:
        return await self._get(ep.PANELS, listing(PanelSummary, "codePanelTemplateRows"),
                               {"workspace": workspace})

    async def get_panel(self, template_id: str) -> Panel:
        return await self._get(ep.PANEL, one(Panel), {"templateId": template_id})

    def download_panel(self, template_id: str) -> contextlib.AbstractAsyncContextManager[Download]:
        return self._download(ep.PANEL_DOWNLOAD, {}, {"templateId": template_id})

    async def get_dashboard_templates(self, workspace: str, project_id: str | None = None
                                      ) -> tuple[DashboardTemplateSummary, ...]:
        return await self._get(ep.DASHBOARD_TEMPLATES,
                               listing(DashboardTemplateSummary, "dashboardTemplates"),
                               {"workspaceName": workspace, "projectId": project_id})

    async def get_dashboard(self, template_id: str) -> Dashboard:
        return await self._get(ep.DASHBOARD, one(Dashboard), {"templateId": template_id})

    async def get_optimizer_best(self, optimization_id: str, metric_name: str | None = None,
                                 with_max_value: bool | None = None) -> OptimizerBest:
        return await self._get(ep.OPTIMIZER_BEST, one(OptimizerBest), {
            "optimizationId": optimization_id, "metricName": metric_name,
            "withMaxValue": with_max_value})


