"""Every fault mode on every resource family: the answer arrives within the deadline, with the
right code on the failing field and the rest of the data intact.

The hang and the Retry-After last ten minutes, far past the test client's timeout (60 s): an
answer at all means the gateway's deadline cut the wait, with no clock in the test."""

from __future__ import annotations

from typing import Any

import pytest

from demo_upstream.world import World
from tests.demo_server import DemoServer
from tests.gateway_server import GatewayServer

WORLD = World()
PROJECT = WORLD.project_by_name("vision-lab", "image-classifier")
assert PROJECT is not None
KEY = WORLD.headers(PROJECT)[0].key
PANEL_WS = "vision-lab"

# family: (endpoint to break, query, path of the field that fails, a field that survives)
FAMILIES: dict[str, tuple[str, str, list[str], list[str]]] = {
    "workspace": ("workspaces", "{ workspaces { name } viewer { userName } }",
                  ["workspaces"], ["viewer", "userName"]),
    "project": ("project/notes",
                '{ project(workspace: "vision-lab", name: "image-classifier") { name notes } }',
                ["project", "notes"], ["project", "name"]),
    "experiment": ("experiment/git/metadata",
                   f'{{ experiment(key: "{KEY}") {{ name git {{ branch }} }} }}',
                   ["experiment", "git"], ["experiment", "name"]),
    "metrics": ("experiment/metrics/summary",
                f'{{ experiment(key: "{KEY}") {{ name metricsSummary {{ name }} }} }}',
                ["experiment", "metricsSummary"], ["experiment", "name"]),
    "chart": ("experiments/multi-metric-chart",
              f'{{ experiment(key: "{KEY}") {{ name metricSeries(names: ["loss"]) '
              "{ values } } }",
              ["experiment", "metricSeries"], ["experiment", "name"]),
    "assets": ("experiment/asset/list",
               f'{{ experiment(key: "{KEY}") {{ name assets {{ fileName }} }} }}',
               ["experiment", "assets"], ["experiment", "name"]),
    "registry": ("registry-model/notes",
                 '{ registryModel(workspace: "vision-lab", name: "resnet-classifier") '
                 "{ name notes } }",
                 ["registryModel", "notes"], ["registryModel", "name"]),
    "panels": ("code-panel/get-all",
               f'{{ workspace(name: "{PANEL_WS}") {{ name panels {{ name }} }} }}',
               ["workspace", "panels"], ["workspace", "name"]),
}

# mode: (fault options, code expected on the failing field)
MODES: dict[str, tuple[dict[str, Any], str]] = {
    "500-storm": ({"kind": "status", "status": 500}, "UPSTREAM_UNAVAILABLE"),
    "429-retry-after": ({"kind": "status", "status": 429, "retry_after": "600"},
                        "RATE_LIMITED"),
    "hang": ({"kind": "delay", "delay": 600}, "UPSTREAM_UNAVAILABLE"),
    "reset": ({"kind": "reset"}, "UPSTREAM_UNAVAILABLE"),
    "broken-json": ({"kind": "garbage"}, "UPSTREAM_BAD_RESPONSE"),
    "401-mid-query": ({"kind": "status", "status": 401}, "UNAUTHENTICATED"),
    "403-mid-query": ({"kind": "status", "status": 403}, "FORBIDDEN"),
}


def dig(data: Any, path: list[str]) -> Any:
    for step in path:
        data = data[step]
    return data


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_fault(fragile: GatewayServer, demo: DemoServer, family: str, mode: str) -> None:
    endpoint, query, failing, surviving = FAMILIES[family]
    options, code = MODES[mode]
    demo.fault(endpoint, **options)
    result = fragile.post(query)
    assert dig(result["data"], failing) is None
    assert dig(result["data"], surviving) is not None
    errors = result["errors"]
    assert [e["path"] for e in errors] == [failing]
    assert errors[0]["extensions"]["code"] == code
    assert errors[0]["extensions"]["upstream"]["endpoint"]
