"""The chart's reads: Comet's `empty` flag, and `params`/`independent` on a single experiment's
series, batched as the dashboard's series are (one multi-metric-chart POST per batch)."""

from __future__ import annotations

import json
import math
from typing import Any

from tests.demo_server import DemoServer
from tests.gateway_server import GatewayServer

BATCH = 25  # the test gateway's chart_batch_size
PROJECT = 'project(workspace: "vision-lab", name: "image-classifier")'


def chart_bodies(demo: DemoServer) -> list[dict[str, Any]]:
    return [json.loads(r["body"]) for r in demo.requests()
            if r["endpoint"] == "experiments/multi-metric-chart"]


def first_keys(gateway: GatewayServer, n: int) -> list[str]:
    data = gateway.data(f"{{ {PROJECT} {{ experiments(first: {n}) {{ edges {{ node {{ key }} "
                        "} } } }")
    return [e["node"]["key"] for e in data["project"]["experiments"]["edges"]]


def test_the_chart_says_whether_it_is_empty(gateway: GatewayServer, demo: DemoServer) -> None:
    keys = first_keys(gateway, 3)
    demo.clear_log()
    data = gateway.data("""query($k: [ID!]) { project(workspace: "vision-lab",
                                                     name: "image-classifier") {
        some: metricChartResult(metrics: ["loss"], experimentKeys: $k) {
          empty experiments { experimentKey metrics { metricName } } }
        same: metricChart(metrics: ["loss"], experimentKeys: $k) { experimentKey }
        none: metricChartResult(metrics: ["no-such-metric"], experimentKeys: $k) {
          empty experiments { experimentKey metrics { metricName } } } } }""", {"k": keys})
    some, none = data["project"]["some"], data["project"]["none"]
    assert some["empty"] is False
    assert [e["experimentKey"] for e in some["experiments"]] == keys
    assert all(e["metrics"] == [{"metricName": "loss"}] for e in some["experiments"])
    assert [e["experimentKey"] for e in data["project"]["same"]] == keys
    assert none["empty"] is True
    assert [e["metrics"] for e in none["experiments"]] == [[], [], []]
    # metricChart and metricChartResult with the same arguments share their call.
    assert demo.counts() == {"GET project": 1, "POST experiments/multi-metric-chart": 2}


def test_empty_across_batches_is_true_only_when_every_batch_is(gateway: GatewayServer,
                                                                demo: DemoServer) -> None:
    demo.clear_log()
    data = gateway.data(f"""{{ {PROJECT} {{
        metricChartResult(metrics: ["loss"]) {{ empty experiments {{ experimentKey }} }} }} }}""")
    chart = data["project"]["metricChartResult"]
    assert chart["empty"] is False and len(chart["experiments"]) == 113
    assert demo.counts()["POST experiments/multi-metric-chart"] == math.ceil(113 / BATCH)


def test_series_take_params_and_independent(gateway: GatewayServer, demo: DemoServer) -> None:
    key = first_keys(gateway, 1)[0]
    data = gateway.data("""query($k: ID!) {
      rest: project(workspace: "vision-lab", name: "image-classifier") {
        metricChart(metrics: ["loss", "val_loss"], params: ["optimizer"], experimentKeys: [$k],
                    independent: false) {
          metrics { metricName steps values } params { key value } steps } }
      experiment(key: $k) {
        apart: metricSeries(names: ["loss", "val_loss"]) { metricName steps }
        together: metricSeries(names: ["loss", "val_loss"], independent: false,
                               params: ["optimizer"]) { metricName steps values }
        metricChart(metrics: ["loss", "val_loss"], params: ["optimizer", "nope"],
                    independent: false) {
          experimentKey metrics { metricName steps values } params { key value } steps } } }""",
                        {"k": key})
    chart = data["rest"]["metricChart"][0]
    apart = {s["metricName"]: s["steps"] for s in data["experiment"]["apart"]}
    assert apart["loss"] != apart["val_loss"]  # logged at different steps ...
    together = data["experiment"]["together"]
    assert together[0]["steps"] == together[1]["steps"]  # ... correlated: the shared ones
    assert together == chart["metrics"]
    mine = data["experiment"]["metricChart"]
    assert mine["experimentKey"] == key and mine["metrics"] == chart["metrics"]
    assert mine["params"] == chart["params"] and chart["params"][0]["key"] == "optimizer"
    assert chart["params"][0]["value"] in ("sgd", "adam", "adamw", "rmsprop")
    assert mine["steps"] == chart["steps"]


def test_series_requests_are_batched_by_what_they_ask(gateway: GatewayServer,
                                                      demo: DemoServer) -> None:
    demo.clear_log()
    data = gateway.data(f"""{{ {PROJECT} {{ experiments(first: 500) {{ edges {{ node {{
        a: metricSeries(names: ["loss"], params: ["optimizer"]) {{ metricName }}
        b: metricSeries(names: ["accuracy"]) {{ metricName }}
        c: metricChart(metrics: ["loss", "val_loss"], independent: false) {{ steps }}
        d: metricChart(metrics: ["loss", "accuracy"], independent: false) {{ steps }}
        e: metricChart(metrics: ["loss"], params: ["batch_size"]) {{ params {{ key }} }}
      }} }} }} }} }}""")
    edges = data["project"]["experiments"]["edges"]
    assert len(edges) == 113
    node = edges[0]["node"]
    assert node["a"] == [{"metricName": "loss"}] and node["b"] == [{"metricName": "accuracy"}]
    assert node["e"]["params"] == [{"key": "batch_size"}]
    per_group = math.ceil(113 / BATCH)
    # Independent series share their POSTs (names and params merged); correlated ones keep
    # their own set of names, which decides the steps they share.
    assert demo.counts() == {"GET project": 1, "GET experiments": 1,
                             "POST experiments/multi-metric-chart": 3 * per_group}
    asked = {(b["independentMetrics"], tuple(b["metrics"]), tuple(b["params"]))
             for b in chart_bodies(demo)}
    assert asked == {(True, ("accuracy", "loss"), ("batch_size", "optimizer")),
                     (False, ("loss", "val_loss"), ()), (False, ("accuracy", "loss"), ())}


def test_series_params_are_bounded(gateway: GatewayServer, demo: DemoServer) -> None:
    key = first_keys(gateway, 1)[0]
    demo.clear_log()
    result = gateway.post("""query($k: ID!, $p: [String!]) { experiment(key: $k) {
        metricSeries(names: ["loss"], params: $p) { metricName } } }""",
                          {"k": key, "p": [f"p{i}" for i in range(101)]})
    assert result["data"] == {"experiment": {"metricSeries": None}}
    assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "POST experiments/multi-metric-chart" not in demo.counts()
