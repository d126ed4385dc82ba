"""Every Comet REST endpoint the gateway calls: method, path and answer, in one table.

Paths are relative to `{root}/api/rest/v2/`. Those marked provisional have no client we could
check them against (see the project's endpoint notes); correcting one is a one-line change here.

Each row also says which answers mean "the thing the caller named does not exist" (`missing`):
a lookup's 404 (and Comet's 400 for an unknown key or id) is a null, not an error. A listing or
account endpoint names nothing that could be missing, so its 404 says the upstream is not Comet
(a wrong URL, a proxy's page): an upstream fault.

And how long its answer may be cached (`lifetime`, see `lifetimes`): what an experiment logged
lives long once it ended and seconds while it runs; its list and metadata (which say whether it
runs) and everything else, a short time each.
"""

from __future__ import annotations

import enum
import functools
import string
from dataclasses import dataclass
from urllib.parse import quote


class Lifetime(enum.Enum):
    """How long an answer may be cached (the seconds are settings: see `lifetimes`)."""

    FAMILY = "family"  # its family's time-to-live
    STATE = "state"  # an experiment list or metadata: what says whether an experiment runs
    LOGGED = "logged"  # what one experiment logged: long once it ended, seconds while it runs
    # The same for each experiment of a multi-experiment answer, kept per experiment by the
    # client (`chart_cache`): never whole, since its experiments' states differ.
    LOGGED_PER_EXPERIMENT = "logged per experiment"


class Answer(enum.Enum):
    JSON = "json"
    BYTES = "bytes"  # a stream: assets, zips, artifacts
    PATCH = "patch"  # the git patch: text, or a JSON `{"msg": ...}` when there is none


@functools.cache
def _parameters(path: str) -> frozenset[str]:
    """The names of a path's parameters (`{experimentKey}`...): read once per path."""
    return frozenset(field for _, field, _, _ in string.Formatter().parse(path) if field)


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    path: str
    answer: Answer = Answer.JSON
    # Statuses that, with Comet's JSON error body, mean the named thing does not exist.
    missing: frozenset[int] = frozenset()
    provisional: bool = False
    lifetime: Lifetime = Lifetime.FAMILY

    @property
    def family(self) -> str:
        """What the answer is about, for cache lifetimes: one of FAMILIES."""
        for prefix, family in _FAMILY_OF_PREFIX:
            if self.path.startswith(prefix):
                return family
        return "workspace"

    def url_path(self, **path_params: str) -> str:
        """The path with its parameters filled in, each one percent-encoded as one segment.

        Raises ValueError for a missing or extra parameter, and for a value no segment can
        hold: empty, `.` or `..` (which every URL library and server resolves as a step up,
        escaping or not), so that no value can move the request off this endpoint.
        """
        wanted = _parameters(self.path)
        if not wanted and not path_params:  # most endpoints: nothing to fill in
            return self.path
        if set(path_params) != wanted:
            raise ValueError(f"{self.name}: path parameters {sorted(wanted)} expected")
        for name, value in path_params.items():
            if value in ("", ".", ".."):
                raise ValueError(f"{self.name}: {value!r} is not a valid {name}")
        return self.path.format(**{k: quote(v, safe="") for k, v in path_params.items()})


FAMILIES = ("workspace", "project", "registry", "panel", "experiment", "metrics")
_FAMILY_OF_PREFIX = (
    ("experiment/metrics", "metrics"), ("experiments/multi-metric-chart", "metrics"),
    ("experiment", "experiment"), ("artifacts", "experiment"), ("optimizer", "experiment"),
    ("project", "project"), ("dashboard", "project"), ("registry-model", "registry"),
    ("webhooks", "registry"), ("code-panel", "panel"), ("template", "panel"),
)


LISTING: frozenset[int] = frozenset()  # names nothing: a 404 is an upstream fault
LOOKUP = frozenset({404})  # names one thing: 404 when it does not exist
LOOKUP_400 = frozenset({400, 404})  # ... and Comet answers 400 for an unknown key or id


def _get(name: str, path: str, answer: Answer = Answer.JSON, *,
         missing: frozenset[int] = LISTING, provisional: bool = False,
         lifetime: Lifetime = Lifetime.FAMILY) -> Endpoint:
    return Endpoint(name, "GET", path, answer, missing, provisional, lifetime)


def _experiment(name: str, path: str, answer: Answer = Answer.JSON, *,
                provisional: bool = False, lifetime: Lifetime = Lifetime.LOGGED) -> Endpoint:
    """An endpoint of one experiment (`experimentKey`): by default, something it logged."""
    return _get(name, path, answer, missing=LOOKUP_400, provisional=provisional,
                lifetime=lifetime)


WORKSPACES = _get("workspaces", "workspaces")
PROJECTS = _get("projects", "projects")
PROJECTS_PAGE = _get("projects_page", "projects/page")
# A listing, but Comet answers its unknown workspace with 400.
REGISTRY_MODELS = _get("registry_models", "registry-model", missing=frozenset({400}))
REGISTRY_MODEL_COUNT = _get("registry_model_count", "registry-model/count")
REGISTRY_MODEL_DETAILS = _get("registry_model_details", "registry-model/details",
                              missing=LOOKUP_400)
REGISTRY_MODEL_NOTES = _get("registry_model_notes", "registry-model/notes", missing=LOOKUP_400)
REGISTRY_MODEL_DOWNLOAD = _get("registry_model_download", "registry-model/item/download",
                               Answer.BYTES, missing=LOOKUP_400)
PROJECT = _get("project", "project", missing=LOOKUP)
PROJECT_COLUMNS = _get("project_columns", "project/column-names", missing=LOOKUP)
PROJECT_QUERY = Endpoint("project_query", "POST", "project/query", missing=LOOKUP)
PROJECT_NOTES = _get("project_notes", "project/notes", missing=LOOKUP)
PROJECT_SHARE_LINKS = _get("project_share_links", "project/get-project-share-links",
                           missing=LOOKUP)
MULTI_METRIC_CHART = Endpoint("multi_metric_chart", "POST", "experiments/multi-metric-chart",
                              lifetime=Lifetime.LOGGED_PER_EXPERIMENT)
EXPERIMENTS = _get("experiments", "experiments", missing=LOOKUP,  # of one named project
                   lifetime=Lifetime.STATE)
EXPERIMENT_METADATA = _experiment("experiment_metadata", "experiment/metadata",
                                  lifetime=Lifetime.STATE)
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
TAGS = _experiment("tags", "experiment/tags", lifetime=Lifetime.FAMILY)  # edited after the end
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
STORE = _experiment("store", "experiment/store", provisional=True, lifetime=Lifetime.FAMILY)
ACCOUNT_DETAILS = _get("account_details", "account-details")
PANELS = _get("panels", "code-panel/get-all")
PANEL = _get("panel", "code-panel/download", missing=LOOKUP_400)
PANEL_DOWNLOAD = _get("panel_download", "template/{templateId}/download", Answer.BYTES,
                      missing=LOOKUP_400)
DASHBOARD_TEMPLATES = _get("dashboard_templates", "dashboard-templates", provisional=True)
DASHBOARD = _get("dashboard", "dashboard-templates/download", missing=LOOKUP_400,
                 provisional=True)
OPTIMIZER_BEST = _get("optimizer_best", "optimizer/best-experiment", missing=LOOKUP_400,
                      provisional=True)
WEBHOOK_CONFIG = _get("webhook_config", "webhooks/config", missing=LOOKUP_400)

ALL: tuple[Endpoint, ...] = tuple(v for v in dict(globals()).values() if isinstance(v, Endpoint))
# The families whose answers live their family's time-to-live (`Lifetime.FAMILY`); the other
# answers' lifetimes follow their experiment's state.
TIMED_FAMILIES: tuple[str, ...] = tuple(
    f for f in FAMILIES
    if any(e.family == f and e.lifetime is Lifetime.FAMILY and e.answer is not Answer.BYTES
           for e in ALL))
