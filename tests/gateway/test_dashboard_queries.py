"""The dashboard's GraphQL documents (web/dashboard/queries/*.graphql, the very files the page
bundles) run against the gateway over the demo: each validates and answers with values, the
series deferred and at the resolution asked, for the upstream calls the batching promises."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from demo_upstream.world import World
from gateway.settings import Settings
from tests.demo_server import DemoServer
from tests.demo_server import start as start_demo
from tests.gateway_server import GatewayServer, start
from tests.graphql_ws import acked, subscribe

QUERIES = Path(__file__).resolve().parents[2] / "web" / "dashboard" / "queries"
WORLD = World()
WS, PROJECT = "vision-lab", "image-classifier"
LISTED = sorted((h for h in WORLD.headers(WORLD.project_by_name(WS, PROJECT))  # type: ignore
                 if not h.archived), key=lambda h: -h.start)
# Not the newest (it runs, and other tests log values to it): these keep their seeded values.
CHOSEN = [h.key for h in LISTED[1:4]]
POINTS = 50


def document(name: str) -> str:
    return (QUERIES / f"{name}.graphql").read_text()


def operation_name(text: str) -> str:
    found = re.search(r"^(?:query|subscription)\s+(\w+)", text, re.M)
    assert found, text
    return found.group(1)


def run(gateway: GatewayServer, text: str, variables: dict[str, Any]
        ) -> tuple[dict[str, Any], int]:
    """Run a query as the page does (incremental delivery accepted): the merged result and
    how many parts it came in."""
    body = json.dumps({"query": text, "variables": variables}).encode()
    answer = gateway.http("POST", "/graphql", body, {
        "Content-Type": "application/json", "Authorization": gateway.default_key or "",
        "Accept": "multipart/mixed;incrementalSpec=v0.2, application/json;q=0.7"})
    assert answer.status == 200, answer.body[:500]
    kind = answer.headers.get("content-type", "")
    if not kind.startswith("multipart/mixed"):
        return answer.json(), 1
    boundary = re.search(r'boundary="?([^";,]+)"?', kind)
    assert boundary, kind
    payloads = [json.loads(part.split(b"\r\n\r\n", 1)[1]) for part in
                answer.body.split(b"\r\n--" + boundary.group(1).encode())
                if b"\r\n\r\n" in part]
    result: dict[str, Any] = {"data": payloads[0]["data"], "errors": payloads[0].get("errors", [])}
    paths = {p["id"]: p["path"] for p in payloads[0].get("pending", [])}
    for payload in payloads[1:]:
        paths.update({p["id"]: p["path"] for p in payload.get("pending", [])})
        for item in payload.get("incremental", []):
            target = result["data"]
            for step in [*item.get("path", paths.get(item.get("id"), [])),
                         *item.get("subPath", [])]:
                target = target[step]
            target.update(item.get("data") or {})
            result["errors"] += item.get("errors", [])
        for done in payload.get("completed", []):
            result["errors"] += done.get("errors", [])
    return result, len(payloads)


def test_every_document_is_run_below() -> None:
    assert sorted(p.stem for p in QUERIES.glob("*.graphql")) == [
        "live", "project", "projects", "workspaces"]


def test_workspaces(gateway: GatewayServer) -> None:
    result, _ = run(gateway, document("workspaces"), {})
    assert result == {"data": {"viewer": {"userName": "alice",
                                          "defaultWorkspace": {"name": "alice"}},
                               "workspaces": [{"name": "alice"}, {"name": "vision-lab"}]}}


def test_projects(gateway: GatewayServer, demo: DemoServer) -> None:
    result, _ = run(gateway, document("projects"), {"workspace": WS})
    projects = result["data"]["workspace"]["projects"]
    assert projects["totalCount"] == 2
    assert {(e["node"]["name"], e["node"]["numberOfExperiments"]) for e in projects["edges"]} \
        == {("image-classifier", 113), ("object-detection", 38)}
    assert demo.counts() == {"GET workspaces": 1, "GET projects": 1}


def test_project_view_draws_the_table_then_the_series(gateway: GatewayServer,
                                                      demo: DemoServer) -> None:
    result, parts = run(gateway, document("project"), {
        "workspace": WS, "project": PROJECT, "first": 100, "metrics": ["loss", "accuracy"],
        "experimentKeys": CHOSEN, "points": POINTS, "charts": True})
    assert result.get("errors") in (None, []), result["errors"]
    project = result["data"]["project"]
    rows = [e["node"] for e in project["experiments"]["edges"]]
    assert project["experiments"]["totalCount"] == len(LISTED) == 113
    assert [r["key"] for r in rows] == [h.key for h in LISTED[:100]]
    first = WORLD.experiment(rows[1]["key"])
    assert first is not None
    assert {p["name"]: p["valueCurrent"] for p in rows[1]["parameters"]} == first.params
    summary = {m["name"]: m for m in rows[1]["metricsSummary"]}
    assert summary["loss"]["valueCurrent"] == first.metrics["loss"].points[-1].value
    # The deferred part: one entry per chosen experiment, each series at most POINTS real
    # logged points, its first and last kept.
    assert parts >= 2  # the table came before the series
    chart = project["metricChart"]
    assert [e["experimentKey"] for e in chart] == CHOSEN
    for entry in chart:
        logged = WORLD.experiment(entry["experimentKey"])
        assert logged is not None
        assert {s["metricName"] for s in entry["metrics"]} == {"loss", "accuracy"}
        for series in entry["metrics"]:
            points = {p.step: p.value for p in logged.metrics[series["metricName"]].points}
            steps = series["steps"]
            assert 2 <= len(steps) <= POINTS < len(points)
            assert steps[0] == min(points) and steps[-1] == max(points)
            assert all(points[s] == v for s, v in zip(steps, series["values"], strict=True))
    counts = demo.counts()
    assert counts["POST experiments/multi-metric-chart"] == 1  # 3 experiments, batches of 25
    assert counts["GET experiments"] == 1 and counts["GET experiment/parameters"] == 100


def test_project_view_without_charts_asks_no_series(gateway: GatewayServer,
                                                    demo: DemoServer) -> None:
    result, parts = run(gateway, document("project"), {
        "workspace": WS, "project": PROJECT, "first": 10, "metrics": [],
        "experimentKeys": [], "points": None, "charts": False})
    assert "errors" not in result or not result["errors"]
    assert len(result["data"]["project"]["experiments"]["edges"]) == 10
    assert "metricChart" not in result["data"]["project"] and parts == 1
    assert "POST experiments/multi-metric-chart" not in demo.counts()


def test_live_pushes_what_a_running_experiment_logs(gateway: GatewayServer,
                                                    demo: DemoServer) -> None:
    key = LISTED[0].key  # the newest, the one that runs: no test counts on its values
    with acked(gateway.url, gateway.default_key) as ws:
        subscribe(ws, document("live"), {"experimentKeys": [key], "metrics": ["loss"],
                                         "intervalSeconds": 1},
                  operationName=operation_name(document("live")))
        time.sleep(1.5)  # the first poll sets the baseline
        steps = demo.log_metric(key, "loss", [0.125, 0.0625])
        message = json.loads(ws.recv(timeout=10))
    assert message["type"] == "next", message
    assert message["payload"]["data"]["metricUpdates"] == {
        "experimentKey": key, "metricName": "loss", "steps": steps, "values": [0.125, 0.0625]}


def whole_rows(refused: dict[str, Any]) -> int:
    """How many leading rows of a refused page the page keeps: rows.js wholeRows, run by node."""
    rows = QUERIES.parent / "src" / "rows.js"
    script = (f"import {{ wholeRows }} from {json.dumps(rows.as_uri())};"
              "let text = ''; for await (const chunk of process.stdin) text += chunk;"
              "const result = JSON.parse(text);"
              "console.log(wholeRows(result, result.data.project.experiments));")
    out = subprocess.run(["node", "--input-type=module", "-e", script], input=json.dumps(refused),
                         capture_output=True, text=True, timeout=60, check=True)
    return int(out.stdout)


def test_a_page_refused_for_size_says_which_rows_came_whole() -> None:
    # What the page keeps of a table's page the gateway refuses for size (rows.js wholeRows):
    # the leading rows before the edge the error is at whose lists came (the gateway nulls
    # the fields it completes after the bound, an earlier row's too), and their cursors.
    demo = start_demo(scale=6)
    server = start(Settings(upstream_url=demo.url, rate_limit_per_second=0,
                            max_answer_objects=2000), default_key=demo.keys["alice"])
    variables = {"workspace": WS, "project": PROJECT, "first": 500, "metrics": [],
                 "experimentKeys": [], "charts": False}
    try:
        refused, _ = run(server, document("project"), variables)
        [error] = refused["errors"]
        assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
        assert error["path"][:3] == ["project", "experiments", "edges"]
        edges = refused["data"]["project"]["experiments"]["edges"]
        assert 0 < error["path"][3] < len(edges) == 500
        whole = whole_rows(refused)  # the page's own count
        assert whole <= error["path"][3]
        rest, _ = run(server, document("project"), {
            **variables, "first": max(whole, 1),
            "after": edges[whole - 1]["cursor"] if whole else None})
    finally:
        server.stop()
        demo.stop()
    assert not rest.get("errors")
    after = rest["data"]["project"]["experiments"]["edges"]
    keys = [e["node"]["key"] for e in edges[:whole] + after]
    assert len(set(keys)) == len(keys) == whole + max(whole, 1)  # no row twice


@pytest.mark.parametrize("name", ["workspaces", "projects", "project", "live"])
def test_each_document_passes_the_gateways_checks_at_its_defaults(name: str) -> None:
    from gateway.schema import build_schema

    documents = build_schema(Settings().document_limits()).documents
    assert documents is not None
    assert [e.message for e in documents.validate(document(name))] == []
