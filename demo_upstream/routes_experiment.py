"""Demo routes of experiments: lists, metadata, metrics, charts, assets, models, artifacts."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from aiohttp import web

from . import blobs, payloads
from .experiments import Asset, Experiment, Series, digest
from .http import Fail, binary, body, flag, integer, ok, param, user, world
from .routes_workspace import find_project

routes = web.RouteTableDef()
STORAGE_SECRET = b"demo-storage-signing-secret"
SAMPLED_POINTS = 500
FULL_POINTS = 15_000


def experiment(request: web.Request, key: str | None = None) -> Experiment:
    """The experiment named by `experimentKey`; Comet answers 400 for an unknown key."""
    key = key or param(request, "experimentKey")
    w = world(request)
    if w.workspace_of_experiment(key) not in user(request).workspaces:
        raise Fail(400, f"No such experiment: {key}")
    found = w.experiment(key)
    assert found is not None
    return found


@routes.get("/api/rest/v2/experiments")
async def experiments(request: web.Request) -> web.Response:
    p = find_project(request)
    archived = flag(request.query.get("archived"), default=False)
    w = world(request)
    heads = [h for h in w.headers(p) if h.archived == archived]
    sort_by = request.query.get("sortBy")
    if sort_by:
        if sort_by not in ("startTime", "endTime"):
            raise Fail(400, f"Invalid sortBy: {sort_by}")
        order = request.query.get("sortOrder") or "asc"
        if order not in ("asc", "desc"):
            raise Fail(400, f"Invalid sortOrder: {order}")
        heads.sort(key=lambda h: h.start if sort_by == "startTime" else h.end,
                   reverse=order == "desc")
    page, size = integer(request, "page"), integer(request, "size")
    if page is not None or size is not None:
        if page is None or size is None or page < 1 or size < 1:
            raise Fail(400, "page (from 1) and size (at least 1) go together")
        heads = heads[(page - 1) * size: page * size]
    return ok({"experiments": [payloads.experiment_metadata(h, p) for h in heads]})


@routes.get("/api/rest/v2/experiment/metadata")
async def metadata(request: web.Request) -> web.Response:
    e = experiment(request)
    w = world(request)
    return ok(payloads.experiment_metadata(w.current(w.header(e.key)),
                                           w.projects[e.project_id]))


def _text_route(path: str, field: str) -> None:
    async def handler(request: web.Request) -> web.Response:
        return ok({field: getattr(experiment(request), field)})

    routes.get(path)(handler)


for _path, _field in [("experiment/html", "html"), ("experiment/code", "code"),
                      ("experiment/output", "output"), ("experiment/graph", "graph")]:
    _text_route(f"/api/rest/v2/{_path}", _field)


@routes.get("/api/rest/v2/experiment/git/metadata")
async def git_metadata(request: web.Request) -> web.Response:
    return ok(experiment(request).git)


@routes.get("/api/rest/v2/experiment/git/patch")
async def git_patch(request: web.Request) -> web.Response:
    e = experiment(request)
    if e.patch is None:
        return ok({"msg": "no patch for experiment", "code": 200, "data": None,
                   "sdk_error_code": 0})
    return binary(e.patch.encode(), "git.patch")


@routes.get("/api/rest/v2/experiment/cloud-details")
async def cloud_details(request: web.Request) -> web.Response:
    return ok(experiment(request).cloud)


@routes.get("/api/rest/v2/experiment/system-details")
async def system_details(request: web.Request) -> web.Response:
    return ok(experiment(request).system)


@routes.get("/api/rest/v2/experiment/tags")
async def tags(request: web.Request) -> web.Response:
    return ok({"tags": list(experiment(request).tags)})


@routes.get("/api/rest/v2/experiment/store")
async def store(request: web.Request) -> web.Response:
    e = experiment(request)
    return ok({"store": json.dumps({"best_loss": min(p.value for p in e.metrics["loss"].points),
                                    "status": "done"})})


# --- metrics ---------------------------------------------------------------------------------
@routes.get("/api/rest/v2/experiment/metrics/summary")
async def metrics_summary(request: web.Request) -> web.Response:
    e = experiment(request)
    series = world(request).metrics(e)
    return ok({"values": [payloads.summary(n, s) for n, s in sorted(series.items())]})


@routes.get("/api/rest/v2/experiment/parameters")
async def parameters(request: web.Request) -> web.Response:
    e = experiment(request)
    return ok({"values": [payloads.value_summary(n, v, e.start)
                          for n, v in sorted(e.params.items())]})


@routes.get("/api/rest/v2/experiment/log-other")
async def others(request: web.Request) -> web.Response:
    e = experiment(request)
    return ok({"values": [payloads.value_summary(n, v, e.start)
                          for n, v in sorted(e.others.items())]})


@routes.get("/api/rest/v2/experiment/metrics/get-metric")
async def get_metric(request: web.Request) -> web.Response:
    e = experiment(request)
    series = world(request).metrics(e).get(param(request, "metricName"))
    return ok({"metrics": payloads.metric_points(series) if series else []})


@routes.get("/api/rest/v2/experiment/metrics/get-all")
async def get_all_metrics(request: web.Request) -> web.Response:
    e = experiment(request)
    series = world(request).metrics(e).values()
    return ok({"metrics": [p for s in series for p in payloads.metric_points(s)]})


def _chart_series(series: Series, steps: set[int] | None, limit: int) -> dict[str, Any]:
    pts = [p for p in series.points if steps is None or p.step in steps]
    if len(pts) > limit:  # evenly spaced, the last point always kept
        stride = len(pts) / limit
        pts = [pts[int(i * stride)] for i in range(limit - 1)] + [pts[-1]]
    times = [p.timestamp for p in pts]
    return {"metricName": series.name, "values": [payloads.chart_value(p) for p in pts],
            "steps": [p.step for p in pts], "epochs": [p.epoch for p in pts],
            "timestamps": times,
            "durations": [0] + [b - a for a, b in zip(times, times[1:], strict=False)]}


@routes.post("/api/rest/v2/experiments/multi-metric-chart")
async def multi_metric_chart(request: web.Request) -> web.Response:
    data = await body(request)
    keys, names = data.get("targetedExperiments"), data.get("metrics") or []
    params = data.get("params") or []
    if not isinstance(keys, list) or not isinstance(names, list) or not isinstance(params, list):
        raise Fail(400, "targetedExperiments, metrics and params must be lists")
    limit = FULL_POINTS if data.get("fetchFull") else SAMPLED_POINTS
    independent = data.get("independentMetrics", True) is not False
    w, allowed = world(request), user(request).workspaces
    out: dict[str, Any] = {}
    for key in keys:
        if w.workspace_of_experiment(str(key)) not in allowed:
            continue
        e = w.experiment(str(key))
        assert e is not None
        logged = w.metrics(e)
        chosen = [logged[n] for n in names if n in logged]
        common = None
        if not independent and chosen:
            common = set.intersection(*({p.step for p in s.points} for s in chosen))
        series = [_chart_series(s, common, limit) for s in chosen]
        out[e.key] = {"experimentKey": e.key, "experimentName": e.name, "metrics": series,
                      "params": {n: e.params[n] for n in params if n in e.params},
                      "steps": sorted({st for s in series for st in s["steps"]})}
    empty = not any(x["metrics"] for x in out.values())
    return ok({"empty": empty, "experiments": out})


# --- assets ----------------------------------------------------------------------------------
def _all_assets(e: Experiment) -> list[Asset]:
    return list(e.assets) + [a for m in e.models for a in m.assets]


def find_asset(request: web.Request, e: Experiment) -> Asset:
    asset_id = param(request, "assetId")
    found = next((a for a in _all_assets(e) if a.asset_id == asset_id), None)
    if found is None:
        raise Fail(400, f"No such asset: {asset_id}")
    return found


@routes.get("/api/rest/v2/experiment/asset/list")
async def asset_list(request: web.Request) -> web.Response:
    e = experiment(request)
    kind = request.query.get("type") or "all"
    chosen = [a for a in e.assets if kind == "all" or a.type == kind]
    return ok({"assets": [payloads.asset(a, e) for a in chosen]})


@routes.get("/api/rest/v2/experiment/asset/get-by-name")
async def asset_by_name(request: web.Request) -> web.Response:
    e = experiment(request)
    name, kind = param(request, "assetName"), request.query.get("type") or "all"
    return ok({"assets": [payloads.asset(a, e) for a in _all_assets(e)
                          if a.file_name == name and kind in ("all", a.type)]})


@routes.get("/api/rest/v2/experiment/asset/get-asset-details")
async def asset_details(request: web.Request) -> web.Response:
    e = experiment(request)
    return ok(payloads.asset(find_asset(request, e), e))


def _signature(path: str) -> str:
    return hmac.new(STORAGE_SECRET, path.encode(), hashlib.sha256).hexdigest()[:32]


def artifact_file(key: str, version: str) -> tuple[str, bytes]:
    """The demo's artifact versions hold one file: its asset id and bytes."""
    return (digest(key, "artifact", version, "data.csv"),
            blobs.zip_of({"data.csv": f"experiment,version\n{key},{version}\n".encode()}))


@routes.get("/api/rest/v2/experiment/asset/get-asset")
async def get_asset(request: web.Request) -> web.StreamResponse:
    e = experiment(request)
    version_id = request.query.get("artifactVersionId")
    if version_id:  # a file of one of the experiment's artifact versions
        version = next((v for v in e.artifact_versions
                        if digest(e.key, "artifact", v) == version_id), None)
        if version is None:
            raise Fail(400, "No such artifact version")
        file_id, data = artifact_file(e.key, version)
        if param(request, "assetId") != file_id:
            raise Fail(400, "No such asset in this artifact version")
        return binary(data, "data.csv.zip", "application/zip")
    a = find_asset(request, e)
    if flag(request.query.get("allow301")):
        prefix = request.path[:request.path.index("/api/rest/v2/")]  # Comet under a path
        path = f"{prefix}/_storage/{e.key}/{a.asset_id}"
        raise web.HTTPFound(f"{path}?signature={_signature(path)}")
    return binary(a.make(), a.file_name, a.mime)


@routes.get("/_storage/{key}/{asset_id}")
async def storage(request: web.Request) -> web.Response:
    """The storage a redirected asset points at: signed, like a pre-signed bucket URL."""
    path = request.path
    if not hmac.compare_digest(request.query.get("signature", ""), _signature(path)):
        return web.Response(status=403, text="bad signature")
    e = world(request).experiment(request.match_info["key"])
    a = next((x for x in _all_assets(e) if x.asset_id == request.match_info["asset_id"]),
             None) if e else None
    if a is None:
        return web.Response(status=404, text="no such object")
    return binary(a.make(), a.file_name, a.mime)


# --- models and artifacts --------------------------------------------------------------------
@routes.get("/api/rest/v2/experiment/model")
async def models(request: web.Request) -> web.Response:
    e = experiment(request)
    return ok({"models": [{"experimentKey": e.key, "experimentModelId": m.model_id,
                           "modelName": m.name} for m in e.models]})


def find_model(request: web.Request, e: Experiment) -> Any:
    name = param(request, "modelName")
    found = next((m for m in e.models if m.name == name), None)
    if found is None:
        raise Fail(400, f"No such model: {name}")
    return found


@routes.get("/api/rest/v2/experiment/model/asset/list")
async def model_assets(request: web.Request) -> web.Response:
    e = experiment(request)
    return ok({"assets": [payloads.asset(a, e, with_remote=False)
                          for a in find_model(request, e).assets]})


@routes.get("/api/rest/v2/experiment/model/download")
async def model_download(request: web.Request) -> web.Response:
    e = experiment(request)
    m = find_model(request, e)
    return binary(blobs.zip_of({a.file_name: a.make() for a in m.assets}), f"{m.name}.zip",
                  "application/zip")


@routes.get("/api/rest/v2/artifacts/version/download")
async def artifact_download(request: web.Request) -> web.Response:
    w = world(request)
    if request.query.get("artifactId"):
        artifact_id, version_id = param(request, "artifactId"), param(request, "versionId")
        for key in w.experiment_index:  # the demo's artifacts hang off experiments
            if digest(key, "artifact") == artifact_id:
                e = experiment(request, key)
                version = next((v for v in e.artifact_versions
                                if digest(key, "artifact", v) == version_id), None)
                break
        else:
            raise Fail(400, "No such artifact")
    else:
        e = experiment(request)
        version = param(request, "version")
        version = version if version in e.artifact_versions else None
    if version is None:
        raise Fail(400, "No such artifact version")
    return binary(artifact_file(e.key, version)[1], f"artifact-{version}.zip",
                  "application/zip")
