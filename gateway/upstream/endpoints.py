"""Every Comet REST endpoint the gateway calls: method, path and answer, in one table.

Paths are relative to `{root}/api/rest/v2/`. Those marked provisional have no client we could
check them against (see the project's endpoint notes); correcting one is a one-line change here.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Answer(enum.Enum):
    JSON = "json"
    BYTES = "bytes"  # a stream: assets, zips, artifacts
    PATCH = "patch"  # the git patch: text, or a JSON `{"msg": ...}` when there is none


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    path: str
    answer: Answer = Answer.JSON
    # Comet answers 400, not 404, when the key or id a lookup names does not exist.
    unknown_is_400: bool = False
    provisional: bool = False

    @property
    def family(self) -> str:
        """What the answer is about, for cache lifetimes: one of FAMILIES."""
        for prefix, family in _FAMILY_OF_PREFIX:
            if self.path.startswith(prefix):
                return family
        return "workspace"

    def url_path(self, **path_params: str) -> str:
        return self.path.format(**path_params)


FAMILIES = ("workspace", "project", "registry", "panel", "experiment", "metrics")
_FAMILY_OF_PREFIX = (
    ("experiment/metrics", "metrics"), ("experiments/multi-metric-chart", "metrics"),
    ("experiment", "experiment"), ("artifacts", "experiment"), ("optimizer", "experiment"),
    ("project", "project"), ("dashboard", "project"), ("registry-model", "registry"),
    ("webhooks", "registry"), ("code-panel", "panel"), ("template", "panel"),
)


def _get(name: str, path: str, answer: Answer = Answer.JSON, *, lookup: bool = False,
         provisional: bool = False) -> Endpoint:
    return Endpoint(name, "GET", path, answer, lookup, provisional)


def _experiment(name: str, path: str, answer: Answer = Answer.JSON, *,
                provisional: bool = False) -> Endpoint:
    return _get(name, path, answer, lookup=True, provisional=provisional)


WORKSPACES = _get("workspaces", "workspaces")
PROJECTS = _get("projects", "projects")
PROJECTS_PAGE = _get("projects_page", "projects/page")
REGISTRY_MODELS = _get("registry_models", "registry-model", lookup=True)
REGISTRY_MODEL_COUNT = _get("registry_model_count", "registry-model/count")
REGISTRY_MODEL_DETAILS = _get("registry_model_details", "registry-model/details", lookup=True)
REGISTRY_MODEL_NOTES = _get("registry_model_notes", "registry-model/notes", lookup=True)
REGISTRY_MODEL_DOWNLOAD = _get("registry_model_download", "registry-model/item/download",
                               Answer.BYTES, lookup=True)
PROJECT = _get("project", "project")
PROJECT_COLUMNS = _get("project_columns", "project/column-names")
PROJECT_QUERY = Endpoint("project_query", "POST", "project/query")
PROJECT_NOTES = _get("project_notes", "project/notes")
PROJECT_SHARE_LINKS = _get("project_share_links", "project/get-project-share-links")
MULTI_METRIC_CHART = Endpoint("multi_metric_chart", "POST", "experiments/multi-metric-chart")
EXPERIMENTS = _get("experiments", "experiments")
EXPERIMENT_METADATA = _experiment("experiment_metadata", "experiment/metadata")
GIT_METADATA = _experiment("git_metadata", "experiment/git/metadata")
GIT_PATCH = _experiment("git_patch", "experiment/git/patch", Answer.PATCH)
HTML = _experiment("html", "experiment/html")
CODE = _experiment("code", "experiment/code")
OUTPUT = _experiment("output", "experiment/output")
GRAPH = _experiment("graph", "experiment/graph")
CLOUD_DETAILS = _experiment("cloud_details", "experiment/cloud-details", provisional=True)
METRIC = _experiment("metric", "experiment/metrics/get-metric")
ALL_METRICS = _experiment("all_metrics", "experiment/metrics/get-all")
METRICS_SUMMARY = _experiment("metrics_summary", "experiment/metrics/summary")
PARAMETERS = _experiment("parameters", "experiment/parameters")
OTHERS = _experiment("others", "experiment/log-other")
TAGS = _experiment("tags", "experiment/tags")
SYSTEM_DETAILS = _experiment("system_details", "experiment/system-details")
ASSET_LIST = _experiment("asset_list", "experiment/asset/list")
ASSETS_BY_NAME = _experiment("assets_by_name", "experiment/asset/get-by-name")
ASSET_DETAILS = _experiment("asset_details", "experiment/asset/get-asset-details",
                            provisional=True)
ASSET = _experiment("asset", "experiment/asset/get-asset", Answer.BYTES)
EXPERIMENT_MODELS = _experiment("experiment_models", "experiment/model")
EXPERIMENT_MODEL_ASSETS = _experiment("experiment_model_assets", "experiment/model/asset/list")
EXPERIMENT_MODEL_DOWNLOAD = _experiment("experiment_model_download",
                                        "experiment/model/download", Answer.BYTES)
ARTIFACT_DOWNLOAD = _experiment("artifact_download", "artifacts/version/download", Answer.BYTES)
STORE = _experiment("store", "experiment/store", provisional=True)
ACCOUNT_DETAILS = _get("account_details", "account-details")
PANELS = _get("panels", "code-panel/get-all")
PANEL = _get("panel", "code-panel/download", lookup=True)
PANEL_DOWNLOAD = _get("panel_download", "template/{templateId}/download", Answer.BYTES,
                      lookup=True)
DASHBOARD_TEMPLATES = _get("dashboard_templates", "dashboard-templates", provisional=True)
DASHBOARD = _get("dashboard", "dashboard-templates/download", lookup=True, provisional=True)
OPTIMIZER_BEST = _get("optimizer_best", "optimizer/best-experiment", lookup=True,
                      provisional=True)
WEBHOOK_CONFIG = _get("webhook_config", "webhooks/config", lookup=True)

ALL: tuple[Endpoint, ...] = tuple(v for v in dict(globals()).values() if isinstance(v, Endpoint))
