"""The OpenAPI description of the read endpoints: current with the code, served by the demo,
and true of it (schemathesis generates requests from it and checks every answer)."""

from __future__ import annotations

import urllib.request

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.demo_server import DemoServer
from tools import openapi


def test_the_description_is_generated_from_the_code() -> None:
    for target in openapi.TARGETS:
        assert target.read_text() == openapi.text(), f"{target} is stale: run `make regen`"


def test_the_demo_serves_it(demo: DemoServer) -> None:
    with urllib.request.urlopen(f"{demo.url}/openapi.yaml", timeout=10) as answer:
        assert answer.read().decode() == openapi.text()


OPERATIONS = [(path, method) for path, ops in openapi.build()["paths"].items()
              for method in ops]


@pytest.mark.parametrize(("path", "method"), OPERATIONS,
                         ids=[f"{m.upper()} {p.removeprefix('/api/rest/v2/')}"
                              for p, m in OPERATIONS])
def test_the_demo_answers_as_described(demo_session: DemoServer, path: str,
                                       method: str) -> None:
    schema = schemathesis.openapi.from_url(f"{demo_session.url}/openapi.yaml")
    operation = schema[path][method.upper()]
    key = demo_session.keys["alice"]

    @settings(max_examples=10, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def check(case: schemathesis.Case) -> None:
        # Comet answers 400 for an unknown key or id, which random ids always are: a
        # schema-valid request may be refused, so that check does not apply to this API.
        case.call_and_validate(headers={"Authorization": key},
                               excluded_checks=[positive_data_acceptance])

    check()


def real_values(path: str) -> dict[str, str]:
    """Parameters naming things the demo has (alice's), for answers with data."""
    from demo_upstream.world import World

    world = World()
    project = world.project_by_name("vision-lab", "image-classifier")
    assert project is not None
    experiment = world.experiment(world.headers(project)[0].key)
    assert experiment is not None
    asset = experiment.assets[0]
    panel = next(p for p in world.panels.values() if p.workspace == "vision-lab")
    dashboard = next(d for d in world.dashboards.values() if d.project_id == project.project_id)
    registry = "registry-model" in path or "webhooks" in path
    values = {
        "workspaceName": "vision-lab", "workspace": "vision-lab", "projectName": project.name,
        "experimentKey": experiment.key, "metricName": "loss", "assetId": asset.asset_id,
        "assetName": asset.file_name, "modelName": "resnet-classifier" if registry
        else "classifier", "version": "2.0.0" if registry else "1.0.0",
        "optimizationId": experiment.optimization_id or "",
        "templateId": dashboard.template_id if "dashboard" in path else panel.template_id,
    }
    if path.endswith(("project/notes", "project/get-project-share-links")):
        values["projectId"] = project.project_id
    return values


@pytest.mark.parametrize(("path", "method"), [o for o in OPERATIONS if o[1] == "get"],
                         ids=[f"GET {p.removeprefix('/api/rest/v2/')}"
                              for p, m in OPERATIONS if m == "get"])
def test_real_answers_match_the_described_shapes(demo_session: DemoServer, path: str,
                                                 method: str) -> None:
    schema = schemathesis.openapi.from_url(f"{demo_session.url}/openapi.yaml")
    operation = schema[path]["GET"]
    values = real_values(path)
    declared = openapi.build()["paths"][path]["get"]["parameters"]
    query = {p["name"]: values[p["name"]] for p in declared
             if p["in"] == "query" and p["name"] in values
             and (p["required"] or p["name"] in ("workspaceName", "projectName", "version")
                  or path.endswith("artifacts/version/download"))
             and not (path.endswith("artifacts/version/download")
                      and p["name"] in ("artifactId", "versionId"))}
    path_parameters = {p["name"]: values[p["name"]] for p in declared if p["in"] == "path"}
    case = operation.Case(query=query, path_parameters=path_parameters)
    response = case.call_and_validate(headers={"Authorization": demo_session.keys["alice"]},
                                      excluded_checks=[positive_data_acceptance])
    assert response.status_code == 200, (path, query, response.text[:200])
