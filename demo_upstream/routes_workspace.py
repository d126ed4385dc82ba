"""Demo routes above the experiment: account, workspaces, projects, registry, panels, dashboards."""

from __future__ import annotations

from aiohttp import web

from . import payloads
from .blobs import zip_of
from .http import Fail, binary, body, flag, integer, ok, param, user, workspace, world
from .query import PredicateError, columns, matches
from .world import Panel, Project, RegistryModel

routes = web.RouteTableDef()


@routes.get("/api/rest/v2/account-details")
async def account_details(request: web.Request) -> web.Response:
    u = user(request)
    return ok({"defaultWorkspaceName": u.default_workspace, "userName": u.name})


@routes.get("/api/rest/v2/workspaces")
async def workspaces(request: web.Request) -> web.Response:
    return ok({"workspaceNames": list(user(request).workspaces)})


@routes.get("/api/rest/v2/projects")
async def projects(request: web.Request) -> web.Response:
    ws = workspace(request, param(request, "workspaceName"))
    return ok({"projects": [payloads.project(p) for p in world(request).projects_in(ws)]})


@routes.get("/api/rest/v2/projects/page")
async def projects_page(request: web.Request) -> web.Response:
    ws = workspace(request, param(request, "workspaceName"))
    rows = world(request).projects_in(ws)
    total = len(rows)
    search = (request.query.get("search") or "").lower()
    if search:
        rows = [p for p in rows if search in p.name.lower() or search in p.description.lower()]
    if request.query.get("public"):
        rows = [p for p in rows if p.is_public == flag(request.query["public"])]
    if request.query.get("starterProject") and flag(request.query["starterProject"]):
        rows = []  # the demo has no starter projects
    owner = request.query.get("owner")
    if owner:
        rows = [p for p in rows if p.owner == owner]
    sort = request.query.get("sort") or "lastUpdated"
    keys = {"lastUpdated": lambda p: p.last_updated, "projectName": lambda p: p.name,
            "experimentCount": lambda p: p.active_count, "created_at": lambda p: p.created_at}
    if sort not in keys:
        raise Fail(400, f"Invalid sort field: {sort}")
    rows.sort(key=keys[sort], reverse=(request.query.get("order") or "desc") == "desc")
    offset = integer(request, "offset", 0) or 0
    count = integer(request, "count", 10) or 10
    page = rows[offset:offset + count]
    return ok({"filteredRowCount": len(rows), "totalRowCount": total,
               "rows": [payloads.project_row(p, len(rows), total) for p in page]})


def find_project(request: web.Request) -> Project:
    """By `projectId`, or by `workspaceName` and `projectName`; 404 when unknown or hidden."""
    w = world(request)
    pid = request.query.get("projectId")
    if pid:
        found = w.projects.get(pid)
    else:
        found = w.project_by_name(param(request, "workspaceName"), param(request, "projectName"))
    if found is None or found.workspace not in user(request).workspaces:
        raise Fail(404, "Project not found")
    return found


@routes.get("/api/rest/v2/project")
async def project(request: web.Request) -> web.Response:
    return ok(payloads.project(find_project(request)))


@routes.get("/api/rest/v2/project/column-names")
async def column_names(request: web.Request) -> web.Response:
    p = find_project(request)
    w = world(request)
    sample = [w.experiment(h.key) for h in w.headers(p)[:50]]
    return ok({"columns": columns([e for e in sample if e is not None])})


@routes.post("/api/rest/v2/project/query")
async def project_query(request: web.Request) -> web.Response:
    data = await body(request)
    w = world(request)
    if data.get("projectId"):
        p = w.projects.get(str(data["projectId"]))
    else:
        p = w.project_by_name(str(data.get("workspaceName")), str(data.get("projectName")))
    if p is None or p.workspace not in user(request).workspaces:
        raise Fail(404, "Project not found")
    archived = bool(data.get("archived", False))
    heads = [h for h in w.headers(p) if h.archived == archived]
    keys = []
    try:
        for h in heads:
            e = w.experiment(h.key)
            if e is not None and matches(e, data.get("predicates")):
                keys.append(h.key)
    except (PredicateError, TypeError, ValueError) as exc:
        raise Fail(400, f"Invalid predicates: {exc}") from None
    return ok({"experimentKeys": keys, "experimentsInProject": len(heads)})


@routes.get("/api/rest/v2/project/notes")
async def project_notes(request: web.Request) -> web.Response:
    return ok({"notes": find_project(request).notes})


@routes.get("/api/rest/v2/project/get-project-share-links")
async def share_links(request: web.Request) -> web.Response:
    return ok({"shareCodes": list(find_project(request).share_codes)})


# --- the model registry ----------------------------------------------------------------------
def registry_models(request: web.Request) -> list[RegistryModel]:
    ws = workspace(request, param(request, "workspaceName"))
    return [m for (w, _), m in world(request).registry.items() if w == ws]


def registry_model(request: web.Request) -> RegistryModel:
    ws = workspace(request, param(request, "workspaceName"))
    found = world(request).registry.get((ws, param(request, "modelName")))
    if found is None:
        raise Fail(400, "Registry model not found")
    return found


def version_assets(request: web.Request, experiment_key: str) -> list[dict[str, object]]:
    e = world(request).experiment(experiment_key)
    if e is None:
        return []
    return [payloads.asset(a, e, with_remote=False) for m in e.models for a in m.assets]


@routes.get("/api/rest/v2/registry-model")
async def registry(request: web.Request) -> web.Response:
    out = []
    for m in registry_models(request):
        latest = m.versions[0]
        out.append({**payloads.registry_model(m), "latestVersion": payloads.registry_version(
            latest, version_assets(request, latest.experiment_key), detail=False)})
    return ok({"registryModels": out})


@routes.get("/api/rest/v2/registry-model/count")
async def registry_count(request: web.Request) -> web.Response:
    return ok({"registryModelCount": len(registry_models(request))})


@routes.get("/api/rest/v2/registry-model/details")
async def registry_details(request: web.Request) -> web.Response:
    m = registry_model(request)
    versions = [payloads.registry_version(v, version_assets(request, v.experiment_key), True)
                for v in m.versions]
    return ok({**payloads.registry_model(m), "versions": versions})


@routes.get("/api/rest/v2/registry-model/notes")
async def registry_notes(request: web.Request) -> web.Response:
    return ok({"notes": registry_model(request).notes})


@routes.get("/api/rest/v2/registry-model/item/download")
async def registry_download(request: web.Request) -> web.Response:
    m = registry_model(request)
    version, stage = request.query.get("version"), request.query.get("stage")
    if bool(version) == bool(stage):
        raise Fail(400, "Give exactly one of version or stage")
    found = next((v for v in m.versions if v.version == version or
                  (stage and stage.lower() in (s.lower() for s in v.stages))), None)
    if found is None:
        raise Fail(400, "Registry model version not found")
    e = world(request).experiment(found.experiment_key)
    files = {a.file_name: a.make() for mm in (e.models if e else ()) for a in mm.assets}
    return binary(zip_of(files), f"{m.name}_{found.version}.zip", "application/zip")


@routes.get("/api/rest/v2/webhooks/config")
async def webhooks(request: web.Request) -> web.Response:
    m = registry_model(request)
    return ok({"modelName": m.name, "webhookUrls": list(m.webhook_urls),
               "workspaceName": m.workspace})


# --- panels and dashboards -------------------------------------------------------------------
@routes.get("/api/rest/v2/code-panel/get-all")
async def panels(request: web.Request) -> web.Response:
    ws = workspace(request, param(request, "workspace"))
    return ok({"codePanelTemplateRows": [payloads.panel_row(p)
                                         for p in world(request).panels.values()
                                         if p.workspace == ws]})


def find_panel(request: web.Request, template_id: str) -> Panel:
    found = world(request).panels.get(template_id)
    if found is None or found.workspace not in user(request).workspaces:
        raise Fail(400, "Panel template not found")
    return found


@routes.get("/api/rest/v2/code-panel/download")
async def panel_json(request: web.Request) -> web.Response:
    return ok(payloads.panel(find_panel(request, param(request, "templateId"))))


@routes.get("/api/rest/v2/template/{templateId}/download")
async def panel_zip(request: web.Request) -> web.Response:
    found = find_panel(request, request.match_info["templateId"])
    return binary(world(request).panel_zip(found), f"{found.name}.zip", "application/zip")


@routes.get("/api/rest/v2/dashboard-templates")
async def dashboards(request: web.Request) -> web.Response:
    ws = workspace(request, param(request, "workspaceName"))
    pid = request.query.get("projectId")
    return ok({"dashboardTemplates": [payloads.dashboard_row(d)
                                      for d in world(request).dashboards.values()
                                      if d.workspace == ws and (not pid or d.project_id == pid)]})


@routes.get("/api/rest/v2/dashboard-templates/download")
async def dashboard(request: web.Request) -> web.Response:
    found = world(request).dashboards.get(param(request, "templateId"))
    if found is None or found.workspace not in user(request).workspaces:
        raise Fail(400, "Dashboard template not found")
    return ok(payloads.dashboard(found))


@routes.get("/api/rest/v2/optimizer/best-experiment")
async def optimizer_best(request: web.Request) -> web.Response:
    oid = param(request, "optimizationId")
    w = world(request)
    members = [h for h in w.optimization_members(oid)
               if w.workspace_of_experiment(h.key) in user(request).workspaces]
    if not members:
        raise Fail(400, "Optimization not found")
    metric = request.query.get("metricName") or "loss"
    maximize = flag(request.query.get("withMaxValue"), default=False)
    scored = []
    for h in members:
        e = w.experiment(h.key)
        if e is not None and metric in e.metrics:
            scored.append((e.metrics[metric].points[-1].value, h.key))
    if not scored:
        return ok({"experimentCount": len(members), "experimentKey": None, "metricValue": None})
    value, key = (max if maximize else min)(scored)
    return ok({"experimentCount": len(members), "experimentKey": key, "metricValue": value})

