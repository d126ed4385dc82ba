"""Generate the OpenAPI description of Comet's read endpoints, from the gateway's own tables.

Paths and methods come from `gateway/upstream/endpoints.py`, answer shapes from the typed
models in `gateway/upstream/models/`; the parameters are listed below, as Comet's clients send
them. Written to docs/comet-openapi.yaml and to the demo upstream's package (which serves it at
/openapi.yaml). `make regen` runs this; a test checks both files are current, and schemathesis
checks the description against the demo.
"""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

import msgspec
import yaml

from gateway.upstream import endpoints as ep
from gateway.upstream import models
from gateway.upstream.endpoints import Answer, Endpoint

ROOT = Path(__file__).resolve().parents[1]
TARGETS = (ROOT / "docs" / "comet-openapi.yaml", ROOT / "demo_upstream" / "comet-openapi.yaml")

KEY = ("experimentKey", True)
WS = ("workspaceName", True)
MODEL = ("modelName", True)

# endpoint → (parameters as (name, required), answer schema)
Shape = Any


def lst(key: str, item: Shape) -> Shape:
    return {"type": "object", "properties": {key: {"type": "array", "items": item}}}


def one(key: str, schema: Shape) -> Shape:
    return {"type": "object", "properties": {key: schema}}


def ref(cls: type) -> Shape:
    return {"$ref": f"#/components/schemas/{cls.__name__}"}


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, models.Model)


STRING = {"type": "string"}
NUMERIC_TEXT = {"type": "string", "pattern": "^-?[0-9.eE+-]+$"}
STRINGS = {"type": "array", "items": STRING}
BINARY = "binary"
PROJECT_REF = (("projectId", False), ("workspaceName", False), ("projectName", False))

SPEC: dict[Endpoint, tuple[tuple[tuple[str, bool], ...], Shape]] = {
    ep.WORKSPACES: ((), one("workspaceNames", STRINGS)),
    ep.PROJECTS: ((WS,), lst("projects", ref(models.Project))),
    ep.PROJECTS_PAGE: ((WS, ("offset", False), ("count", False), ("sort", False),
                        ("order", False), ("owner", False), ("public", False),
                        ("starterProject", False), ("search", False)), ref(models.ProjectPage)),
    ep.REGISTRY_MODELS: ((WS,), lst("registryModels", ref(models.RegistryModel))),
    ep.REGISTRY_MODEL_COUNT: ((WS,), one("registryModelCount", {"type": "integer"})),
    ep.REGISTRY_MODEL_DETAILS: ((WS, MODEL), ref(models.RegistryModel)),
    ep.REGISTRY_MODEL_NOTES: ((WS, MODEL), one("notes", STRING)),
    ep.REGISTRY_MODEL_DOWNLOAD: ((WS, MODEL, ("version", False), ("stage", False)), BINARY),
    ep.PROJECT: (PROJECT_REF, ref(models.Project)),
    ep.PROJECT_COLUMNS: (PROJECT_REF, lst("columns", ref(models.ProjectColumn))),
    ep.PROJECT_QUERY: ((), ref(models.ProjectQueryResult)),
    ep.PROJECT_NOTES: ((("projectId", True),), one("notes", STRING)),
    ep.PROJECT_SHARE_LINKS: ((("projectId", True),), one("shareCodes", STRINGS)),
    ep.MULTI_METRIC_CHART: ((), ref(models.MultiMetricChart)),
    ep.EXPERIMENTS: ((*PROJECT_REF, ("archived", False), ("page", False), ("size", False),
                      ("sortBy", False), ("sortOrder", False)),
                     lst("experiments", ref(models.ExperimentMetadata))),
    ep.EXPERIMENT_METADATA: ((KEY,), ref(models.ExperimentMetadata)),
    ep.GIT_METADATA: ((KEY,), ref(models.GitMetadata)),
    ep.GIT_PATCH: ((KEY,), BINARY),
    ep.HTML: ((KEY,), one("html", STRING)),
    ep.CODE: ((KEY,), one("code", STRING)),
    ep.OUTPUT: ((KEY,), one("output", STRING)),
    ep.GRAPH: ((KEY,), one("graph", STRING)),
    ep.CLOUD_DETAILS: ((KEY,), ref(models.CloudDetails)),
    ep.METRIC: ((KEY, ("metricName", True)), lst("metrics", ref(models.MetricPoint))),
    ep.ALL_METRICS: ((KEY,), lst("metrics", ref(models.MetricPoint))),
    ep.METRICS_SUMMARY: ((KEY,), lst("values", ref(models.ValueSummary))),
    ep.PARAMETERS: ((KEY,), lst("values", ref(models.ValueSummary))),
    ep.OTHERS: ((KEY,), lst("values", ref(models.ValueSummary))),
    ep.TAGS: ((KEY,), one("tags", STRINGS)),
    ep.SYSTEM_DETAILS: ((KEY,), ref(models.SystemDetails)),
    ep.ASSET_LIST: ((KEY, ("type", False)), lst("assets", ref(models.Asset))),
    ep.ASSETS_BY_NAME: ((KEY, ("assetName", True), ("type", False)),
                        lst("assets", ref(models.Asset))),
    ep.ASSET_DETAILS: ((KEY, ("assetId", True)), ref(models.Asset)),
    ep.ASSET: ((KEY, ("assetId", True), ("allow301", False), ("artifactVersionId", False)),
               BINARY),
    ep.EXPERIMENT_MODELS: ((KEY,), lst("models", ref(models.ExperimentModel))),
    ep.EXPERIMENT_MODEL_ASSETS: ((KEY, MODEL), lst("assets", ref(models.Asset))),
    ep.EXPERIMENT_MODEL_DOWNLOAD: ((KEY, MODEL), BINARY),
    ep.ARTIFACT_DOWNLOAD: ((("experimentKey", False), ("version", False),
                            ("artifactId", False), ("versionId", False)), BINARY),
    ep.STORE: ((KEY,), one("store", STRING)),
    ep.ACCOUNT_DETAILS: ((), ref(models.Account)),
    ep.PANELS: ((("workspace", True),), lst("codePanelTemplateRows",
                                            ref(models.PanelSummary))),
    ep.PANEL: ((("templateId", True),), ref(models.Panel)),
    ep.PANEL_DOWNLOAD: ((), BINARY),
    ep.DASHBOARD_TEMPLATES: ((WS, ("projectId", False)),
                             lst("dashboardTemplates", ref(models.DashboardTemplateSummary))),
    ep.DASHBOARD: ((("templateId", True),), ref(models.Dashboard)),
    ep.OPTIMIZER_BEST: ((("optimizationId", True), ("metricName", False),
                         ("withMaxValue", False)), ref(models.OptimizerBest)),
    ep.WEBHOOK_CONFIG: ((WS, MODEL), ref(models.WebhookConfig)),
}

BODIES = {
    ep.PROJECT_QUERY: {"type": "object", "properties": {
        "workspaceName": STRING, "projectName": STRING, "projectId": STRING,
        "archived": {"type": "boolean"}, "predicates": {"type": "array", "items": {
            "type": "object"}}}},
    ep.MULTI_METRIC_CHART: {"type": "object", "required": ["targetedExperiments", "metrics"],
                            "properties": {
        "targetedExperiments": STRINGS, "metrics": STRINGS, "params": STRINGS,
        "independentMetrics": {"type": "boolean"}, "fetchFull": {"type": "boolean"}}},
}


def schema_of(tp: Any) -> Shape:
    origin = get_origin(tp)
    if tp is typing.Any:
        return {}
    if origin is Annotated:  # `Finite`: a float all the same
        return schema_of(get_args(tp)[0])
    if origin in (Union, types.UnionType):
        inner = [a for a in get_args(tp) if a is not type(None)]
        if set(inner) == set(get_args(models.Reading)):  # a metric value: "NaN" and words too
            return {"anyOf": [{"type": "number"}, STRING], "nullable": True}
        return {**schema_of(inner[0]), "nullable": True}
    if origin in (tuple, list):
        return {"type": "array", "items": schema_of(get_args(tp)[0])}
    if origin is dict:
        return {"type": "object", "additionalProperties": schema_of(get_args(tp)[1])}
    if is_model(tp):
        return ref(tp)
    # Comet sends some numbers as text ("filteredRowCount": "205", "metricValue": "0.31"),
    # and the gateway's models take both: so does this description.
    return {str: STRING,
            int: {"anyOf": [{"type": "integer", "format": "int64"}, NUMERIC_TEXT]},
            float: {"anyOf": [{"type": "number"}, NUMERIC_TEXT]},
            bool: {"type": "boolean"}}[tp]


def component(cls: type) -> Shape:
    properties, required = {}, []
    for f in msgspec.structs.fields(cls):
        properties[f.encode_name] = schema_of(f.type)
        if f.required:
            required.append(f.encode_name)
    out: Shape = {"type": "object", "properties": properties}
    if required:
        out["required"] = required
    return out


def operation(endpoint: Endpoint, params: tuple[tuple[str, bool], ...], answer: Shape) -> Shape:
    op: Shape = {"operationId": camel(endpoint.name), "tags": [endpoint.family],
                 "parameters": [{"name": n, "in": "query", "required": r,
                                 "schema": {"type": "string"}} for n, r in params]}
    if "{templateId}" in endpoint.path:
        op["parameters"].append({"name": "templateId", "in": "path", "required": True,
                                 "schema": {"type": "string"}})
    if endpoint in BODIES:
        op["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": BODIES[endpoint]}}}
    if endpoint.answer is Answer.PATCH:  # the patch, or Comet's JSON when there is none
        ok = {"description": "the patch, or a JSON message when there is none", "content": {
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    elif answer == BINARY:  # the file's own type (image/png, application/zip, ...)
        ok = {"description": "the bytes", "content": {"*/*": {
            "schema": {"type": "string", "format": "binary"}}}}
    else:
        ok = {"description": "OK", "content": {"application/json": {"schema": answer}}}
    error = {"description": "Comet's error body", "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/Error"}}}}
    op["responses"] = {"200": ok, **{str(s): error for s in (400, 401, 403, 404)}}
    if endpoint.provisional:
        op["description"] = "Provisional: no client was found that calls this path."
    return op


def build() -> Shape:
    assert set(SPEC) == set(ep.ALL), "every endpoint needs its parameters and answer"
    paths: Shape = {}
    for endpoint, (params, answer) in SPEC.items():
        paths.setdefault(f"/api/rest/v2/{endpoint.path}", {})[endpoint.method.lower()] = \
            operation(endpoint, params, answer)
    classes = sorted({c for c in vars(models).values()
                      if is_model(c) and c is not models.Model},
                     key=lambda c: c.__name__)
    schemas = {c.__name__: component(c) for c in classes}
    schemas["Error"] = {"type": "object", "properties": {
        "msg": STRING, "code": {"type": "integer"}, "sdk_error_code": {"type": "integer"},
        "data": {"nullable": True}}}
    return {
        "openapi": "3.0.3",
        "info": {"title": "Comet REST API v2, read endpoints", "version": "2",
                 "description": "Generated by comet-graphql-gateway's tools/openapi.py from "
                                "its endpoint table and typed models."},
        "servers": [{"url": "https://www.comet.com"}],
        "security": [{"apiKey": []}],
        "components": {"securitySchemes": {"apiKey": {"type": "apiKey", "in": "header",
                                                      "name": "Authorization"}},
                       "schemas": schemas},
        "paths": paths,
    }


def text() -> str:
    return yaml.safe_dump(build(), sort_keys=False, width=100)


def main() -> None:
    for target in TARGETS:
        target.write_text(text())


if __name__ == "__main__":
    main()
