"""Series views (`points`, `stepMin`/`stepMax`, `smoothing`) at the defaults: a field asking a
few points of a long series reads it whole in the gateway, so aliases over many copies of one
experiment could read one series thousands of times while the answer stays small. What an
operation's views read is bounded (`COMET_GATEWAY_MAX_SERIES_POINTS`, 10 million points)."""

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
