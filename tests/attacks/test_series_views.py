"""Series views (`points`, `stepMin`/`stepMax`, `smoothing`) at the defaults: a field asking a
few points of a long series reads it whole in the gateway, so aliases over many copies of one
experiment could read one series thousands of times while the answer stays small. What an
operation's views read is bounded (`COMET_GATEWAY_MAX_SERIES_POINTS`, 10 million points), and so
are the full series its chart calls read (`COMET_GATEWAY_MAX_FULL_SERIES_BYTES`)."""

from __future__ import annotations

import math
import uuid

from tests.demo_server import DemoServer
from tests.serve_process import Served

LENGTH = 15_000  # Comet's full series
BOUND = 10_000_000


def test_aliases_over_copies_of_a_long_series_read_a_bounded_amount(served: Served,
                                                                     demo: DemoServer) -> None:
    key = demo.keys["bob"]
    listing = served.post({"query": '{ project(workspace: "bob", name: "scratch") { '
                                    "experiments(first: 4) { edges { node { key } } } } }"},
                          key=key).json()
    experiment = listing["data"]["project"]["experiments"]["edges"][3]["node"]["key"]
    metric = f"long_{uuid.uuid4().hex[:8]}"  # a metric of its own: other tests' stay as seeded
    demo.log_metric(experiment, metric, [round(math.sin(i / 50), 4) for i in range(LENGTH)])
    aliases = " ".join(f"a{i}: metricSeries(names: [$m], points: {i + 1}) {{ values }}"
                       for i in range(30))
    query = f"query($k: [ID!]!, $m: String!) {{ experiments(keys: $k) {{ {aliases} }} }}"
    demo.clear_log()
    before = served.cpu_seconds()
    # 500 copies × 30 aliases: 15,000 fields, each reading 15,000 points (225 million).
    answer = served.post({"query": query, "variables": {"k": [experiment] * 500, "m": metric}},
                         key=key, timeout=300).json()
    used = served.cpu_seconds() - before
    fields = [e[f"a{i}"] for e in answer["data"]["experiments"] for i in range(30)]
    answered = [f for f in fields if f is not None]
    print(f"series views: {used:.2f} s CPU for {len(answered)} fields answered")
    assert len(answered) == BOUND // LENGTH
    assert {e["extensions"]["code"] for e in answer["errors"]} == {"QUERY_TOO_COMPLEX"}
    assert demo.counts() == {"GET experiment/metadata": 1,
                             "POST experiments/multi-metric-chart": 1}
    assert used < 4, used


def test_full_series_of_many_long_runs_cost_a_bounded_slice_of_memory() -> None:
    """100 experiments × 2 metrics × 15,000 points asked at chart resolution: every view reads
    full series, some 120 MB of Comet's JSON and ten times that decoded (1.5 GB of RSS before
    the bound). An operation's full-series calls go one at a time, none past 16 MiB read
    (`COMET_GATEWAY_MAX_FULL_SERIES_BYTES`): the chart is refused, saying why, and the
    process's memory grows by a bounded slice."""
    from tests.demo_server import start
    from tests.serve_process import serve

    demo = start()  # its own: the shared demo's experiments keep their seeded metrics
    key = demo.keys["alice"]
    project = '{ project(workspace: "vision-lab", name: "image-classifier") { '
    try:
        with serve(demo.url) as gateway:
            listing = gateway.post({"query": project + "experiments(first: 100) { edges { "
                                    "node { key } } } } }"}, key=key).json()
            experiments = [e["node"]["key"]
                           for e in listing["data"]["project"]["experiments"]["edges"]]
            metrics = ["long_a", "long_b"]
            for experiment in experiments:
                for metric in metrics:
                    demo.log_metric(experiment, metric,
                                    [round(math.sin(i / 50), 4) for i in range(LENGTH)])
            demo.clear_log()
            before, cpu = gateway.rss_kib(), gateway.cpu_seconds()
            answer = gateway.post({"query": "query($m: [String!]!) " + project +
                                   "metricChart(metrics: $m, points: 100) { experimentKey } "
                                   "} }", "variables": {"m": metrics}}, key=key,
                                  timeout=300).json()
            grown, used = gateway.peak_rss_kib() - before, gateway.cpu_seconds() - cpu
            charts = demo.counts()["POST experiments/multi-metric-chart"]
    finally:
        demo.stop()
    print(f"full series: peak RSS +{grown / 1024:.0f} MiB, {used:.2f} s CPU, {charts} calls")
    assert answer["data"]["project"]["metricChart"] is None
    [error] = answer["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert "bytes of full metric series" in error["message"]
    # 167 MiB seen; 568 without the bound (1.5 GB with values less regular than these)
    assert grown < 350 * 1024, f"peak RSS grew by {grown / 1024:.0f} MiB"
