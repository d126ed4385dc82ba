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
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

import pytest

from gateway.dashboard import bundled
from gateway.settings import Settings
from tests.demo_server import DemoServer
from tests.demo_server import start as start_demo
from tests.gateway.test_dashboard_queries import LISTED, PROJECT, WORLD, WS, run
from tests.gateway.test_graphql_over_http import JS
from tests.gateway.test_live_metrics import chart_answers, wait_for_chart_answers
from tests.gateway_server import GatewayServer, start


def open_view(server: GatewayServer, options: dict[str, Any],
              steps: dict[str, Any] | None = None, refused: int = 0) -> dict[str, Any]:
    """What the page did for the view `options` names. `steps`: what to do when the script
    asks ("held?", "live?"), each a callable returning nothing; it is answered with a line.
    `refused`: the requests answered 429 (the browser's console says each)."""
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
    assert seen["console"] == ["Failed to load resource: the server responded with a status of "
                               "429 (Too Many Requests)"] * refused and seen["external"] == []
    return seen


def link(**view: str) -> str:
    return "&".join(f"{k}={v}" for k, v in {"workspace": WS, "project": PROJECT, **view}.items())


def series_requests(seen: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in seen["requests"] if r["name"] == "DashboardProject" and r["charts"]]


def table_requests(seen: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in seen["requests"]
            if r["name"] == "DashboardProject" and r.get("table", True)]


@pytest.mark.parametrize(("experiments", "metrics"), [(3, 2), (5, 2), (2, 5)])
def test_a_link_to_a_view_is_one_request(with_key: GatewayServer, experiments: int,
                                         metrics: int) -> None:
    chosen = [h.key for h in LISTED[1:1 + experiments]]
    names = ["loss", "accuracy", "learning_rate", "val_loss", "val_accuracy"][:metrics]
    seen = open_view(with_key, {"hash": link(metrics=",".join(names),
                                             experiments=",".join(chosen))})
    assert [r["name"] for r in seen["requests"][:3]] == [
        "DashboardWorkspaces", "DashboardProjects", "DashboardProject"]
    # The view's one request: its table's first page and every series; the rest of the
    # table (113 rows, 100 in a first page) is read after it, without series.
    [view] = series_requests(seen)
    assert view is seen["requests"][2] or view == seen["requests"][2]
    assert view["experimentKeys"] == chosen and view["first"] == 100
    assert [r["first"] for r in table_requests(seen)] == [100, 500]
    assert [c["metric"] for c in seen["charts"]] == names
    assert all(c["lines"] == experiments and c["keys"] == chosen for c in seen["charts"])


def test_a_tick_asks_for_series_only(with_key: GatewayServer) -> None:
    chosen = [h.key for h in LISTED[1:3]]
    seen = open_view(with_key, {"hash": link(metrics="loss", experiments=",".join(chosen)),
                                "tick": LISTED[5].key})
    [ticked] = seen["afterTick"]  # the table is read once per project
    assert ticked["table"] is False and ticked["charts"] is True
    assert ticked["experimentKeys"] == [*chosen, LISTED[5].key]
    assert seen["ticked"][0]["lines"] == 3


def test_a_slider_moved_before_the_first_answer_leaves_the_table_whole(demo: DemoServer
                                                                       ) -> None:
    chosen = [h.key for h in LISTED[1:3]]
    server = bounded(demo)
    demo.latency(300)  # the view's answer comes after the slider has moved
    try:
        seen = open_view(server, {"hash": link(metrics="loss", experiments=",".join(chosen)),
                                  "early": 0.5})
    finally:
        demo.latency(0)
        server.stop()
    assert sorted(seen["rows"]) == sorted(h.key for h in LISTED)
    assert seen["charts"][0]["lines"] == 2 and seen["status"] == ""


def test_another_project_picked_before_the_first_answer_charts_its_own(demo: DemoServer
                                                                      ) -> None:
    chosen = [h.key for h in LISTED[1:4]]
    other = WORLD.project_by_name(WS, "object-detection")
    assert other is not None
    theirs = {h.key for h in WORLD.headers(other)}
    server = bounded(demo)
    demo.latency(300)  # the link's view has not answered when the other project is picked
    try:
        seen = open_view(server, {"hash": link(metrics="loss", experiments=",".join(chosen)),
                                  "switchTo": "object-detection"})
    finally:
        demo.latency(0)
        server.stop()
    # Its newest, as a project opens; never the link's experiments of image-classifier.
    [chart] = seen["charts"]
    assert chart["lines"] == 5 and set(chart["keys"]) <= theirs
    asked = [r for r in series_requests(seen) if r["project"] == "object-detection"]
    assert asked and all(set(r["experimentKeys"]) <= theirs for r in asked)
    shared = dict(parse_qsl(seen["hash"].lstrip("#")))
    assert shared["project"] == "object-detection"
    assert set(shared["experiments"].split(",")) <= theirs


def test_another_workspace_picked_mid_load_stops_the_old_view() -> None:
    # The link's view (a running experiment charted, live every second) has not answered when
    # another workspace is picked: nothing of it may go on after that, neither its table's
    # next pages nor its series nor a subscription, and no live value of it is drawn.
    demo = start_demo()  # its own: values are logged to its running experiment
    chosen = [LISTED[0].key, LISTED[1].key]
    server = bounded(demo)
    demo.latency(300)
    try:
        seen = open_view(server, {"hash": link(metrics="loss", interval="1",
                                               experiments=",".join(chosen)),
                                  "switchWorkspace": "alice", "settle": 6})
    finally:
        demo.latency(0)
        server.stop()
        demo.stop()
    assert [r["name"] for r in seen["afterSwitch"]] == ["DashboardProjects"]
    assert seen["afterSwitch"][0]["workspace"] == "alice"
    assert seen["subscribedAfterSwitch"] == 0 and seen["liveUpdates"] == 0


def test_the_table_sorts_and_filters_the_whole_project(with_key: GatewayServer) -> None:
    seen = open_view(with_key, {"hash": link(), "sortBy": "metric:loss"})
    assert len(LISTED) == 113 and sorted(seen["rows"]) == sorted(h.key for h in LISTED)
    last_loss = {h.key: e.metrics["loss"].points[-1].value for h in LISTED
                 if (e := WORLD.experiment(h.key)) is not None and "loss" in e.metrics}
    assert seen["sorted"][:5] == sorted(last_loss, key=lambda k: last_loss[k])[:5]


@pytest.fixture(scope="module")
def big() -> Iterator[DemoServer]:
    """A demo of 678 experiments in the project: a table of several pages."""
    demo = start_demo(scale=6)
    yield demo
    demo.stop()


@pytest.mark.parametrize(("bounds", "pages", "rows"), [
    ({}, [100, 500, 400], 678),  # 1,000 rows at most,
    # Answers of 5,000 objects at most (as 25,000 are for experiments of 50+ parameters and
    # metrics): pages of fewer rows, each whole.
    ({"max_answer_objects": 5000}, [100, 208, 208, 208], 678),
    ({"dashboard_rows": 300}, [100, 200], 300),  # the newest 300 only, and the page says so
])
def test_the_table_reads_the_project_in_pages_that_fit(big: DemoServer, bounds: dict[str, int],
                                                       pages: list[int], rows: int) -> None:
    server = bounded(big, **bounds)
    try:
        seen = open_view(server, {"hash": link()})
    finally:
        server.stop()
    assert [r["first"] for r in table_requests(seen)] == pages
    assert len(seen["rows"]) == len(set(seen["rows"])) == rows and seen["status"] == ""
    assert seen["count"].startswith(f"{rows} shown of {rows}")
    assert ("sorted and filtered over the newest 300 of 678" in seen["count"]) == (rows < 678)


def test_a_rate_limited_page_is_read_after_the_wait(demo: DemoServer) -> None:
    # The key's upstream bucket (60 calls, 100 a second) is spent by the view's first page
    # (some 200 calls): the next page is refused at the door with RATE_LIMITED and a
    # retryAfter, waited out, and asked again.
    server = bounded(demo, upstream_burst_per_key=60, upstream_rate_per_key=100)
    try:
        seen = open_view(server, {"hash": link()}, refused=1)
    finally:
        server.stop()
    pages = table_requests(seen)
    assert len(pages) >= 3 and all(p.get("after") == pages[1]["after"] for p in pages[1:])
    assert sorted(seen["rows"]) == sorted(h.key for h in LISTED) and seen["status"] == ""


def test_a_rate_limited_view_is_asked_again_after_the_wait(demo: DemoServer) -> None:
    # Comet answers the view's chart call 429 with a Retry-After of 3 s, past the call's
    # deadline (and longer than a key's calls are held): the gateway answers the series
    # RATE_LIMITED (retryAfter 3), and the page waits that out and asks again, for the series
    # only (its table, read in the first answer, is not read again).
    chosen = [h.key for h in LISTED[1:4]]
    server = bounded(demo, deadline=2)
    demo.fault("experiments/multi-metric-chart", "status", status=429, retry_after="3",
               count=1)
    try:
        seen = open_view(server, {"hash": link(metrics="loss", experiments=",".join(chosen))})
    finally:
        demo.clear_faults()
        server.stop()
    first, again = series_requests(seen)
    assert first["table"] is True and again["table"] is False
    assert again["experimentKeys"] == first["experimentKeys"] == chosen
    assert seen["charts"][0]["lines"] == 3 and seen["status"] == ""


def bounded(demo: DemoServer, **bounds: float) -> GatewayServer:
    return start(Settings(upstream_url=demo.url, graphiql_api_key=demo.keys["alice"],
                          rate_limit_per_second=0, **bounds),  # type: ignore[arg-type]
                 default_key=demo.keys["alice"])


def charted(demo: DemoServer, chosen: list[str], **bounds: float) -> dict[str, Any]:
    """What the page shows of a link charting loss and accuracy of `chosen`, on a gateway
    with these bounds."""
    server = bounded(demo, **bounds)
    try:
        return open_view(server, {"hash": link(metrics="loss,accuracy",
                                               experiments=",".join(chosen))})
    finally:
        server.stop()


def test_a_view_past_what_one_request_may_read_is_drawn_whole(demo: DemoServer) -> None:
    # 40 experiments × 2 metrics of some 300 points: some 1.5 MB of Comet's full series, past
    # the 100 kB one operation may read here (their chart calls go 4 experiments at a time).
    chosen = [h.key for h in LISTED[1:41]]
    seen = charted(demo, chosen, max_full_series_bytes=100_000, chart_batch_size=4)
    for chart in seen["charts"]:
        assert chart["lines"] == 40 and chart["keys"] == chosen and chart["note"] == ""
        assert len(set(chart["colours"])) == 40  # a colour each
    series = [r for r in seen["requests"] if r["name"] == "DashboardProject" and r["charts"]]
    assert len(series) > 1 and seen["status"] == ""
    assert sorted(k for r in series for k in r["experimentKeys"]) == sorted(chosen)
    # The table's first page comes with the view's request only: not again with each group.
    assert series[0]["table"] is True
    assert all(r["table"] is False for r in series[1:])


def test_a_series_the_gateway_refuses_is_said_in_its_chart(demo: DemoServer) -> None:
    # Each experiment's two series are more points than an operation may read here.
    chosen = [h.key for h in LISTED[1:4]]
    seen = charted(demo, chosen, max_series_points=200)
    for chart in seen["charts"]:
        assert chart["lines"] == 0
        assert chart["note"].startswith("3 of 3 experiments not drawn: ")
        assert "more than 200 points" in chart["note"]
    # Planned one experiment a request (two series pass half the 200 points), each refused
    # alone and not asked again.
    assert [r["experimentKeys"] for r in series_requests(seen)] == [[k] for k in chosen]


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
        # A drag of ten positions, then its release: the series asked again once.
        [again] = seen["afterSlide"]
        assert again["smoothing"] == 0.6 and again["table"] is False
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


def test_the_slider_released_asks_the_smoothed_series_only() -> None:
    # A running experiment followed live, its lines anchored, and an ended one: the release
    # asks the gateway's average once, keeps the subscription (no new one, so no new anchor
    # re-reading the running experiment's full series) and asks values only for the group
    # holding the running experiment (its series may have grown).
    demo = start_demo()
    running, ended = LISTED[0].key, LISTED[2].key
    server = bounded(demo)
    try:
        seen = open_view(server, {"hash": link(metrics="loss", interval="1",
                                               experiments=f"{ended},{running}"),
                                  "smoothing": 0.6, "liveFirst": True})
        alone = open_view(server, {"hash": link(metrics="loss", experiments=ended),
                                   "smoothing": 0.6})
    finally:
        server.stop()
        demo.stop()
    assert seen["subscribedBefore"] == 1 and seen["subscribedAfterSlide"] == 0
    [again] = seen["afterSlide"]
    assert again["smoothing"] == 0.6 and again["table"] is False and again["values"] is True
    assert sorted(again["experimentKeys"]) == sorted([ended, running])
    [chart] = seen["smoothed"]
    assert chart["lines"] == 2
    [only] = alone["afterSlide"]
    assert only["values"] is False and only["experimentKeys"] == [ended]
    steps, smoothed, raw = alone["smoothed"][0]["drawn"]
    assert len(steps) == len(smoothed) == len(raw) and None not in smoothed


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
        # A metric's first points, in the gap: its lines have no anchor step (loss has one).
        logged["gapFresh"] = demo.log_metric(running, "fresh", [0.7])
        logged["charts"] = [chart_answers(demo)]

    def live() -> None:
        wait_for_chart_answers(demo, logged["charts"][0] + 1)  # the first poll's baseline
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
    assert fresh["lines"] == 2
    assert steps_of(fresh, running) == logged["gapFresh"] + logged["fresh"]
