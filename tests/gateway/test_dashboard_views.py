"""The dashboard in headless Chromium, opened at a view by its link (tests/js/dashboard_views.mjs):
what the page asks of the gateway for it, and what it draws.

- A link names its experiments, metrics and smoothing: the view is one GraphQL request.
- The table holds every experiment of the project, so sorting and filtering cover them all.
- The smoothing slider draws the gateway's average over the whole series, not over the
  points drawn (after an instant preview of the latter).
- Live: what a running experiment logs between the view's answer and the subscription's
  first poll is drawn, and so is a metric it logs for the first time once the page is open.
- A view whose series are more than one operation may read is asked in several requests that
  fit (the page knows the gateway's bounds), and a series the gateway still refuses is not a
  blank chart: the chart says why.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from typing import Any

import pytest

from gateway.dashboard import bundled
from gateway.settings import Settings
from tests.demo_server import DemoServer
from tests.demo_server import start as start_demo
from tests.gateway.test_dashboard_queries import LISTED, PROJECT, WORLD, WS, run
from tests.gateway.test_graphql_over_http import JS
from tests.gateway_server import GatewayServer, start


def open_view(server: GatewayServer, options: dict[str, Any],
              steps: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the page did for the view `options` names. `steps`: what to do when the script
    asks ("held?", "live?"), each a callable returning nothing; it is answered with a line."""
    if shutil.which("chromium") is None:
        pytest.fail("Debian's chromium is needed (apt-get install chromium; make test does)")
    assert bundled(), "the dashboard's bundle is missing: run `make dashboard`"
    with subprocess.Popen(["node", str(JS / "dashboard_views.mjs"), server.url,
                           json.dumps(options)], cwd=JS, stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as node:
        assert node.stdout is not None and node.stdin is not None and node.stderr is not None
        for line in node.stdout:
            if line.strip() in (steps or {}):
                (steps or {})[line.strip()]()
                node.stdin.write("go\n")
                node.stdin.flush()
            elif line.startswith("{"):
                seen: dict[str, Any] = json.loads(line)
                break
        else:
            pytest.fail(node.stderr.read())
        node.wait(timeout=60)
    assert node.returncode == 0
    assert seen["console"] == [] and seen["external"] == []
    return seen


def link(**view: str) -> str:
    return "&".join(f"{k}={v}" for k, v in {"workspace": WS, "project": PROJECT, **view}.items())


def test_a_link_to_a_view_is_one_request(with_key: GatewayServer) -> None:
    chosen = [h.key for h in LISTED[1:4]]
    seen = open_view(with_key, {"hash": link(metrics="loss,accuracy",
                                             experiments=",".join(chosen))})
    assert [r["name"] for r in seen["requests"]] == [
        "DashboardWorkspaces", "DashboardProjects", "DashboardProject"]
    view = seen["requests"][2]
    assert view["experimentKeys"] == chosen and view["charts"] is True
    assert [c["metric"] for c in seen["charts"]] == ["loss", "accuracy"]
    assert all(c["lines"] == 3 and c["keys"] == chosen for c in seen["charts"])


def test_the_table_sorts_and_filters_the_whole_project(with_key: GatewayServer) -> None:
    seen = open_view(with_key, {"hash": link(), "sortBy": "metric:loss"})
    assert len(LISTED) == 113 and sorted(seen["rows"]) == sorted(h.key for h in LISTED)
    last_loss = {h.key: e.metrics["loss"].points[-1].value for h in LISTED
                 if (e := WORLD.experiment(h.key)) is not None and "loss" in e.metrics}
    assert seen["sorted"][:5] == sorted(last_loss, key=lambda k: last_loss[k])[:5]


def bounded(demo: DemoServer, **bounds: int) -> GatewayServer:
    return start(Settings(upstream_url=demo.url, graphiql_api_key=demo.keys["alice"],
                          rate_limit_per_second=0, **bounds),  # type: ignore[arg-type]
                 default_key=demo.keys["alice"])


def test_a_view_past_what_one_request_may_read_is_drawn_whole(demo: DemoServer) -> None:
    # 40 experiments × 2 metrics of some 300 points: some 1.5 MB of Comet's full series, past
    # the 100 kB one operation may read here (their chart calls go 4 experiments at a time).
    chosen = [h.key for h in LISTED[1:41]]
    server = bounded(demo, max_full_series_bytes=100_000, chart_batch_size=4)
    try:
        seen = open_view(server, {"hash": link(metrics="loss,accuracy",
                                               experiments=",".join(chosen))})
    finally:
        server.stop()
    for chart in seen["charts"]:
        assert chart["lines"] == 40 and chart["keys"] == chosen and chart["note"] == ""
        assert len(set(chart["colours"])) == 40  # a colour each
    series = [r for r in seen["requests"] if r["name"] == "DashboardProject" and r["charts"]]
    assert len(series) > 1 and seen["status"] == ""
    assert sorted(k for r in series for k in r["experimentKeys"]) == sorted(chosen)


def test_a_series_the_gateway_refuses_is_said_in_its_chart(demo: DemoServer) -> None:
    # Each experiment's two series are more points than an operation may read here.
    chosen = [h.key for h in LISTED[1:4]]
    server = bounded(demo, max_series_points=200)
    try:
        seen = open_view(server, {"hash": link(metrics="loss,accuracy",
                                               experiments=",".join(chosen))})
    finally:
        server.stop()
    for chart in seen["charts"]:
        assert chart["lines"] == 0
        assert chart["note"].startswith("3 of 3 experiments not drawn: ")
        assert "more than 200 points" in chart["note"]


def test_smoothing_draws_the_average_over_the_whole_series() -> None:
    demo = start_demo()  # its own: one of its series made longer than a chart is wide
    key = LISTED[2].key
    demo.log_metric(key, "loss", [round(1 / (1 + i / 50) + 0.2 * (i % 7 == 0), 4)
                                  for i in range(3000)])
    server = bounded(demo)
    try:
        seen = open_view(server, {"hash": link(metrics="loss", experiments=key),
                                  "smoothing": 0.6})
        [chart] = seen["smoothed"]
        asked = chart["requestedPoints"]
        answer, _ = run(server, "query($k: [ID!]!, $p: Int) { project(workspace: \"vision-lab\", "
                        "name: \"image-classifier\") { metricChart(metrics: [\"loss\"], "
                        "experimentKeys: $k, points: $p, smoothing: 0.6) { metrics { steps "
                        "smoothed } } } }", {"k": [key], "p": asked})
    finally:
        server.stop()
        demo.stop()
    [series] = answer["data"]["project"]["metricChart"][0]["metrics"]
    assert len(series["steps"]) == asked < 3000  # drawn at the chart's resolution
    steps, smoothed, raw = chart["drawn"]
    assert steps == series["steps"] and smoothed == series["smoothed"] and len(raw) == asked
    # The preview, at once, was the page's average over the points drawn: another curve.
    preview = seen["preview"][0]["drawn"][1]
    assert len(preview) == asked and preview != series["smoothed"]


def steps_of(chart: dict[str, Any], key: str) -> list[int]:
    """The steps a chart (drawn without smoothing) has of one experiment's line."""
    xs, *ys = chart["drawn"]
    column = ys[chart["keys"].index(key)]
    return [x for x, y in zip(xs, column, strict=True) if y is not None]


def test_live_lines_lose_no_point_and_a_first_point_draws_a_line() -> None:
    demo = start_demo()  # its own: values are logged to its experiments
    running, ended = LISTED[0].key, LISTED[1].key  # the newest runs
    demo.log_metric(ended, "fresh", [0.9, 0.8])  # a metric the running one has not logged
    server = bounded(demo)
    logged: dict[str, list[int]] = {}

    def between() -> None:  # the view has answered, the subscription has not polled yet
        logged["gap"] = demo.log_metric(running, "loss", [0.375])

    def live() -> None:
        time.sleep(1.5)  # the subscription's first poll (every second here) is past
        logged["fresh"] = demo.log_metric(running, "fresh", [0.5])
        logged["loss"] = demo.log_metric(running, "loss", [0.25])

    try:
        seen = open_view(server, {"hash": link(metrics="loss,fresh", interval="1",
                                               experiments=f"{running},{ended}"),
                                  "hold": True, "live": True, "liveMetric": "fresh",
                                  "liveLines": 2}, {"held?": between, "live?": live})
    finally:
        server.stop()
        demo.stop()
    loss, fresh = seen["afterLive"]
    before = WORLD.experiment(running)
    assert before is not None
    seeded = [p.step for p in before.metrics["loss"].points]
    assert steps_of(loss, running) == seeded + logged["gap"] + logged["loss"]
    assert fresh["lines"] == 2 and steps_of(fresh, running) == logged["fresh"]
