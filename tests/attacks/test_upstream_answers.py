"""What an upstream answer may cost the gateway's memory: a JSON answer is read only up to
COMET_GATEWAY_MAX_UPSTREAM_ANSWER_BYTES (32 MiB), by its Content-Length or while it streams;
a larger one fails its field with UPSTREAM_BAD_RESPONSE, and is not retried."""

from __future__ import annotations

import pytest

from demo_upstream.world import World
from tests.demo_server import DemoServer
from tests.serve_process import Served

WORLD = World()
PROJECT = WORLD.project_by_name("vision-lab", "image-classifier")
assert PROJECT is not None
KEY = WORLD.headers(PROJECT)[0].key
QUERY = f'{{ experiment(key: "{KEY}") {{ name metricSeries(names: ["loss"]) {{ values }} }} }}'


@pytest.mark.parametrize("chunked", [False, True])
def test_an_answer_too_large_is_refused_not_held(served: Served, demo: DemoServer,
                                                 chunked: bool) -> None:
    demo.fault("experiments/multi-metric-chart", "bytes", size=200 * 1024 * 1024,
               content_type="application/json", chunked=chunked)
    before = served.rss_kib()
    answer = served.post({"query": QUERY}, key=demo.keys["alice"]).json()
    grown = served.rss_kib() - before
    assert answer["data"]["experiment"]["name"] and answer["data"]["experiment"][
        "metricSeries"] is None
    [error] = answer["errors"]
    assert error["extensions"]["code"] == "UPSTREAM_BAD_RESPONSE"
    assert "larger than" in error["message"]
    assert demo.counts()["POST experiments/multi-metric-chart"] == 1  # not retried
    assert grown < 120 * 1024, grown  # 200 MiB were sent; at most 32 MiB were kept
