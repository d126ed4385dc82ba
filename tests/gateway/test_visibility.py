"""`isPublic` when Comet's answer lacks it: false (private), the rest of the answer intact."""

from __future__ import annotations

import json
from pathlib import Path

from tests.demo_server import DemoServer
from tests.gateway_server import GatewayServer

SCHEMA = Path(__file__).parents[2] / "schema.graphql"


def answer(demo: DemoServer, path: str, body: object) -> None:
    demo.fault(path, "status", status=200, body=json.dumps(body),
               content_type="application/json")


def test_a_project_without_the_flag_is_private(gateway: GatewayServer, demo: DemoServer) -> None:
    answer(demo, "project", {"projectId": "p-1", "projectName": "quiet",
                             "workspaceName": "vision-lab", "numberOfExperiments": 3})
    result = gateway.post('{ project(id: "p-1") { name isPublic numberOfExperiments } }')
    assert "errors" not in result
    assert result["data"]["project"] == {"name": "quiet", "isPublic": False,
                                         "numberOfExperiments": 3}


def test_a_null_flag_is_private_too(gateway: GatewayServer, demo: DemoServer) -> None:
    answer(demo, "project", {"projectId": "p-1", "projectName": "quiet", "isPublic": None})
    assert gateway.data('{ project(id: "p-1") { isPublic } }') == {
        "project": {"isPublic": False}}


def test_a_registry_model_without_the_flag_is_private(gateway: GatewayServer,
                                                      demo: DemoServer) -> None:
    answer(demo, "registry-model/details", {
        "registryModelId": "m-1", "modelName": "quiet", "description": "d", "versions": []})
    result = gateway.post('{ workspace(name: "vision-lab") { '
                          'registryModel(name: "quiet") { name isPublic description } } }')
    assert "errors" not in result
    assert result["data"]["workspace"]["registryModel"] == {
        "name": "quiet", "isPublic": False, "description": "d"}


def test_the_rule_is_in_the_schema() -> None:
    text = SCHEMA.read_text()
    for kind in ("project", "model"):
        assert (f"Comet sends this flag with every {kind}, and a {kind} is private until "
                "someone makes it public: an answer without the flag (or with null) reads as "
                "false.") in text
