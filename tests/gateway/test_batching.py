"""One request, each resource once: upstream calls counted in the demo's request log."""

from __future__ import annotations

import math

from tests.demo_server import DemoServer
from tests.gateway_server import GatewayServer

BATCH = 25  # the test gateway's chart_batch_size

DASHBOARD = """query Dashboard {
  project(workspace: "vision-lab", name: "image-classifier") {
    name
    experiments(first: 500) {
      totalCount
      edges { node {
        key name startTime
        metricsSummary { name valueCurrent valueMin valueMax }
        parameters { name valueCurrent }
        tags
        metricSeries(names: ["loss", "accuracy"]) { metricName steps values }
      } }
    }
  }
}"""


def test_the_dashboard_query_makes_the_minimum_of_upstream_calls(gateway: GatewayServer,
                                                                 demo: DemoServer) -> None:
    data = gateway.data(DASHBOARD)
    edges = data["project"]["experiments"]["edges"]
    n = len(edges)
    assert n == data["project"]["experiments"]["totalCount"] == 113
    assert all(len(e["node"]["metricSeries"]) == 2 and e["node"]["metricsSummary"]
               and e["node"]["parameters"] for e in edges)
    assert demo.counts() == {
        "GET project": 1,
        "GET experiments": 1,
        "GET experiment/metrics/summary": n,
        "GET experiment/parameters": n,
        "GET experiment/tags": n,
        "POST experiments/multi-metric-chart": math.ceil(n / BATCH),
    }
    charts = [r for r in demo.requests() if r["endpoint"] == "experiments/multi-metric-chart"]
    assert len(charts) == 5


def test_the_same_resource_twice_is_fetched_once(gateway: GatewayServer,
                                                 demo: DemoServer) -> None:
    key = gateway.data('{ project(workspace: "alice", name: "sandbox") { experiments(first: 1) '
                       '{ edges { node { key } } } } }')["project"]["experiments"]["edges"][0][
        "node"]["key"]
    demo.clear_log()
    gateway.data(f"""{{
      a: experiment(key: "{key}") {{ name tags metricSummary(name: "loss") {{ valueMin }} }}
      b: experiment(key: "{key}") {{ name tags metricsSummary {{ name }}
                                     loss: metricSeries(names: ["loss"]) {{ values }}
                                     acc: metricSeries(names: ["accuracy"]) {{ values }} }}
      c: experiments(keys: ["{key}", "{key}"]) {{ tags parameter(name: "optimizer") {{ name }}
                                                  parameters {{ name }} }} }}""")
    assert demo.counts() == {
        "GET experiment/metadata": 1, "GET experiment/tags": 1,
        "GET experiment/metrics/summary": 1, "GET experiment/parameters": 1,
        "POST experiments/multi-metric-chart": 1}
    chart = next(r for r in demo.requests() if r["endpoint"] == "experiments/multi-metric-chart")
    assert chart["method"] == "POST"


def test_what_the_list_holds_is_not_fetched_again(gateway: GatewayServer,
                                                  demo: DemoServer) -> None:
    data = gateway.data("""{ workspace(name: "alice") { projects { edges { node {
        name owner experiments(first: 5) { edges { node { name startTime endTime durationMillis
          optimizationId project { name id } workspace { name } } } } } } } } }""")
    edges = data["workspace"]["projects"]["edges"][0]["node"]["experiments"]["edges"]
    assert len(edges) == 5 and edges[0]["node"]["project"]["name"] == "sandbox"
    assert demo.counts() == {"GET workspaces": 1, "GET projects": 1, "GET experiments": 1}


def test_paging_maps_onto_comets_page_and_size(gateway: GatewayServer,
                                               demo: DemoServer) -> None:
    query = """query($after: String) { project(workspace: "vision-lab", name: "image-classifier")
      { experiments(first: 10, after: $after, orderBy: {field: START_TIME, direction: DESC}) {
          totalCount pageInfo { hasNextPage endCursor } edges { node { key startTime } } } } }"""
    first = gateway.data(query)["project"]["experiments"]
    second = gateway.data(query, {"after": first["pageInfo"]["endCursor"]})["project"][
        "experiments"]
    pages = [r["params"] for r in demo.requests() if r["endpoint"] == "experiments"]
    assert [(p["page"], p["size"], p["sortBy"], p["sortOrder"]) for p in pages] == [
        ("1", "10", "startTime", "desc"), ("2", "10", "startTime", "desc")]
    times = [e["node"]["startTime"] for e in first["edges"] + second["edges"]]
    assert times == sorted(times, reverse=True) and len(set(times)) == 20
    assert first["totalCount"] == 113 and second["pageInfo"]["hasNextPage"] is True


def test_where_runs_as_a_project_query(gateway: GatewayServer, demo: DemoServer) -> None:
    data = gateway.data("""{ project(workspace: "vision-lab", name: "image-classifier") {
      experiments(first: 500, where: {rules: [
          {source: PARAMETER, field: "optimizer", operator: EQUAL, value: "sgd"},
          {source: METRIC, field: "accuracy", operator: GREATER, value: "0.5"}]}) {
        totalCount edges { node { key parameter(name: "optimizer") { valueCurrent }
                                  metricSummary(name: "accuracy") { valueCurrent } } } } } }""")
    found = data["project"]["experiments"]
    assert 0 < found["totalCount"] < 113 and found["totalCount"] == len(found["edges"])
    for edge in found["edges"]:
        assert edge["node"]["parameter"]["valueCurrent"] == "sgd"
        assert edge["node"]["metricSummary"]["valueCurrent"] > 0.5
    query = next(r for r in demo.requests() if r["endpoint"] == "project/query")
    assert query["method"] == "POST"
    assert demo.counts()["GET experiments"] == 1


def test_the_list_is_fetched_together_with_the_project(gateway: GatewayServer,
                                                       demo: DemoServer) -> None:
    demo.latency(150)
    data = gateway.data("""{ project(workspace: "alice", name: "sandbox") {
        name experiments(first: 4, orderBy: {field: END_TIME}) { totalCount
          edges { node { name } } } } }""")
    assert data["project"]["experiments"]["totalCount"] == 12
    log = {r["endpoint"]: r for r in demo.requests()}
    assert set(log) == {"project", "experiments"}
    project, listing = log["project"], log["experiments"]
    assert listing["params"] == {"workspaceName": "alice", "projectName": "sandbox",
                                 "archived": "False", "sortBy": "endTime",
                                 "sortOrder": "asc", "page": "1", "size": "4"}
    assert listing["at"] < project["ended"]  # in flight at the same time: one level, not two


def test_a_wrong_guess_costs_one_call_and_no_error(gateway: GatewayServer,
                                                   demo: DemoServer) -> None:
    result = gateway.post("""{ project(workspace: "alice", name: "nope") {
        experiments(first: 4) { totalCount } } }""")
    assert result == {"data": {"project": None}}
    assert demo.counts() == {"GET project": 1, "GET experiments": 1}
