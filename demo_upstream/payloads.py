"""The JSON shapes of Comet's answers, built from the demo's data (see read-endpoints-seed)."""

from __future__ import annotations

import math
from typing import Any

from .experiments import Asset, Experiment, Header, MetricPoint, Series
from .world import Dashboard, Panel, Project, RegistryModel, RegistryVersion


def project(p: Project) -> dict[str, Any]:
    return {
        "isPublic": p.is_public, "lastUpdated": p.last_updated,
        "numberOfExperiments": p.active_count, "ownerUserName": p.owner,
        "projectDescription": p.description, "projectId": p.project_id,
        "projectName": p.name, "workspaceId": f"{p.workspace}-default",
        "workspaceName": p.workspace,
    }


def project_row(p: Project, filtered: int, total: int) -> dict[str, Any]:
    return {
        "canEdit": True, "created_at": p.created_at, "experimentCount": p.active_count,
        "filteredRowCount": str(filtered), "generalProject": False,
        "imagePath": "https://s3.amazonaws.com/comet.ml/4.png", "isInProjectTeam": True,
        "isPublic": p.is_public, "isStarterProject": False, "lastUpdated": p.last_updated,
        "lastUpdatedByUser": p.last_updated - 3_600_000, "owner": True,
        "projectDesc": p.description, "projectId": p.project_id, "projectName": p.name,
        "teamId": f"{p.workspace}-default", "teamName": p.workspace,
        "totalRowCount": str(total), "userName": p.owner,
    }


def experiment_metadata(h: Header, p: Project) -> dict[str, Any]:
    """The metadata of one experiment: what `experiments` lists and `experiment/metadata` gives."""
    return {
        "archived": h.archived, "durationMillis": h.end - h.start, "endTimeMillis": h.end,
        "experimentKey": h.key, "experimentName": h.name, "fileName": "train.py",
        "filePath": f"/home/{p.owner}/{p.name}/train.py", "hasCrashed": False,
        "optimizationId": h.optimization_id, "projectId": p.project_id,
        "projectName": p.name, "running": h.running, "startTimeMillis": h.start,
        "workspaceName": p.workspace,
    }


def value_text(p: MetricPoint) -> str:
    """A metric value as Comet shows it: the text logged, else the number, NaN and the
    infinities under Java's names."""
    if p.text is not None:
        return p.text
    if math.isnan(p.value):
        return "NaN"
    if math.isinf(p.value):
        return "Infinity" if p.value > 0 else "-Infinity"
    return str(p.value)


def chart_value(p: MetricPoint) -> float | str:
    """A chart's value: a JSON number, or text where it is not a finite one (Jackson writes
    NaN and the infinities as strings)."""
    return p.value if math.isfinite(p.value) else value_text(p)


def summary(name: str, series: Series) -> dict[str, Any]:
    pts = series.points
    cur = pts[-1]
    numbers = [p for p in pts if math.isfinite(p.value)] or [cur]
    lo = min(numbers, key=lambda x: x.value)
    hi = max(numbers, key=lambda x: x.value)
    return {
        "name": name,
        "runContextCurrent": series.context, "runContextMax": series.context,
        "runContextMin": series.context,
        "stepCurrent": cur.step, "stepMax": hi.step, "stepMin": lo.step,
        "timestampCurrent": cur.timestamp, "timestampMax": hi.timestamp,
        "timestampMin": lo.timestamp,
        "valueCurrent": value_text(cur), "valueMax": value_text(hi),
        "valueMin": value_text(lo),
    }


def value_summary(name: str, value: str, timestamp: int) -> dict[str, Any]:
    """Parameters and others: one logged value, so current, min and max agree."""
    return {
        "name": name, "runContextCurrent": None, "runContextMax": None, "runContextMin": None,
        "stepCurrent": None, "stepMax": None, "stepMin": None,
        "timestampCurrent": timestamp, "timestampMax": timestamp, "timestampMin": timestamp,
        "valueCurrent": value, "valueMax": value, "valueMin": value,
    }


def metric_points(series: Series) -> list[dict[str, Any]]:
    return [{"epoch": p.epoch, "metricName": series.name, "metricValue": value_text(p),
             "offset": p.offset, "runContext": series.context, "step": p.step,
             "timestamp": p.timestamp} for p in series.points]


def asset(a: Asset, e: Experiment, with_remote: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "assetId": a.asset_id, "audio": a.type == "audio", "canView": a.type == "image",
        "createdAt": a.created_at, "dir": a.dir, "fileName": a.file_name,
        "fileSize": len(a.make()), "histogram": a.type.startswith("histogram"),
        "image": a.type == "image",
        "link": (f"https://www.comet.com/api/asset/download?assetId={a.asset_id}"
                 f"&experimentKey={e.key}"),
        "metadata": a.metadata, "runContext": a.context, "step": a.step, "type": a.type,
    }
    if with_remote:
        body["remote"] = False
        body["tags"] = list(a.tags)
    return body


def registry_version(
    v: RegistryVersion, assets: list[dict[str, Any]], detail: bool
) -> dict[str, Any]:
    """A version: with its assets in `details`, with their metadata in the model list."""
    body: dict[str, Any] = {
        "comment": v.comment, "createdAt": v.created_at,
        "experimentModel": {"experimentKey": v.experiment_key,
                            "experimentModelId": v.experiment_model_id,
                            "experimentModelName": v.experiment_model_name},
        "lastUpdated": v.created_at, "registryModelItemId": v.item_id,
        "stages": list(v.stages), "userName": v.owner, "version": v.version,
    }
    if detail:
        body["assets"] = assets
    else:
        body["metadata"] = [a["metadata"] for a in assets]
    return body


def registry_model(m: RegistryModel) -> dict[str, Any]:
    return {
        "createdAt": m.created_at, "description": m.description, "isPublic": m.is_public,
        "lastUpdated": m.last_updated, "modelName": m.name, "registryModelId": m.model_id,
        "userName": m.owner,
    }


def panel_row(p: Panel) -> dict[str, Any]:
    return {"createdAt": p.created_at, "owner": p.owner, "queryBuilderId": "",
            "revisionId": p.revision_id, "scopeType": p.scope,
            "teamId": f"{p.workspace}-default", "templateId": p.template_id,
            "templateName": p.name}


def panel(p: Panel) -> dict[str, Any]:
    return {**panel_row(p), "code": p.code, "editable": True,
            "rank": {"templateId": p.template_id, "userVoteType": "NOVOTE", "voteCount": 0},
            "thumbnailName": f"template-thumbnail-{p.template_id}"}


def dashboard_row(d: Dashboard) -> dict[str, Any]:
    return {"createdBy": d.owner, "projectId": d.project_id, "projectName": d.project_name,
            "templateId": d.template_id, "templateName": d.name}


def dashboard(d: Dashboard) -> dict[str, Any]:
    return {
        "codePanelTemplateIds": list(d.panel_ids), "created_by": d.owner, "current": False,
        "dashboardChartState": '{"downsample_size":1000,"entire_row_charts":false}',
        "experimentQueryState": '{"filters":[],"activeSegment":{}}',
        "isAutoRefreshEnabled": True, "pinnedExperiments": list(d.pinned), "project_default": False,
        "project_id": d.project_id,
        "reactGridTableState": '{"selection":[],"pageSize":25,"pageNumber":0}',
        "source": "", "template_id": d.template_id, "template_name": d.name,
        "unsaved_view": False,
        "v2": {"reactGridTableState": '{"selection":[],"pageSize":25}',
               "toggles": {"DASHBOARD_TOGGLE": {"isVisible": True,
                                                "toggleId": "DASHBOARD_TOGGLE"},
                           "EXPERIMENT_TABLE_TOGGLE": {"isVisible": True,
                                                       "toggleId": "EXPERIMENT_TABLE_TOGGLE"}}},
    }
