"""Series at a chart's resolution (`points`, `method`, `stepMin`/`stepMax`, `smoothing`), over
HTTP against the demo: real logged points, aligned, the ends kept, the extremes kept by
MIN_MAX, values that are not finite numbers survived, and batching as it was."""

from __future__ import annotations

import json
import math
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from gateway.settings import Settings
from tests.demo_server import DemoServer
from tests.gateway_server import GatewayServer
from tests.gateway_server import start as start_gateway

BATCH = 25  # the test gateway's chart_batch_size
PROJECT = 'project(workspace: "vision-lab", name: "image-classifier")'
FIELDS = "metricName steps values valuesText timestamps durations epochs"
CHART = "POST experiments/multi-metric-chart"


def first_keys(gateway: GatewayServer, n: int) -> list[str]:
    data = gateway.data(f"{{ {PROJECT} {{ experiments(first: {n}) {{ edges {{ node {{ key }} "
                        "} } } }")
    return [e["node"]["key"] for e in data["project"]["experiments"]["edges"]]


def rows(series: dict[str, Any]) -> list[tuple[Any, ...]]:
    """A series' points as (step, value, text, timestamp, duration, epoch) rows."""
    return list(zip(series["steps"], series["values"], series["valuesText"],
                    series["timestamps"], series["durations"], series["epochs"], strict=True))


def assert_chosen_from(shown: dict[str, Any], full: dict[str, Any], points: int) -> None:
    """`shown` is at most `points` of `full`'s logged points, in order, the ends included."""
    every, chosen = rows(full), rows(shown)
    assert len(every) > points  # else nothing was chosen
    assert 2 <= len(chosen) <= points
    assert chosen[0] == every[0] and chosen[-1] == every[-1]
    at = [every.index(row) for row in chosen]  # each a logged point, every list aligned
    assert at == sorted(set(at))


def reference_ema(values: list[float | None], weight: float) -> list[float | None]:
    """TensorBoard's smoothing, as its line chart computes it."""
    last, count, out = 0.0, 0, []
    for v in values:
        if v is None or not math.isfinite(v):
            out.append(None)
            continue
        last = last * weight + (1 - weight) * v
        count += 1
        out.append(last / (1 - weight ** count))
    return out


def close(found: list[float | None], expected: list[float | None]) -> bool:
    """Equal lists of floats, to rounding, nulls at the same places."""
    return [v is None for v in found] == [v is None for v in expected] and all(
        a == pytest.approx(b, rel=1e-9) for a, b in zip(found, expected, strict=True)
        if b is not None)


def test_points_are_real_logged_points_the_first_and_last_among_them(
        gateway: GatewayServer, demo: DemoServer) -> None:
    key = first_keys(gateway, 1)[0]
    demo.clear_log()
    data = gateway.data(f"""query($k: ID!) {{ experiment(key: $k) {{
        full: metricSeries(names: ["loss", "accuracy"], full: true) {{ {FIELDS} }}
        lttb: metricSeries(names: ["loss", "accuracy"], points: 50) {{ {FIELDS} smoothed }}
        minMax: metricSeries(names: ["loss", "accuracy"], points: 50, method: MIN_MAX) {{
          {FIELDS} }}
        few: metricSeries(names: ["loss"], points: 2) {{ {FIELDS} }}
        one: metricSeries(names: ["loss"], points: 1) {{ steps values }}
        many: metricSeries(names: ["loss"], points: 10000) {{ {FIELDS} }} }} }}""", {"k": key})
    e = data["experiment"]
    for full, lttb, min_max in zip(e["full"], e["lttb"], e["minMax"], strict=True):
        assert lttb["metricName"] == min_max["metricName"] == full["metricName"]
        assert_chosen_from(lttb, full, 50)
        assert len(lttb["steps"]) == 50  # every value finite: LTTB fills its points
        assert lttb["smoothed"] is None  # not asked
        assert_chosen_from(min_max, full, 50)
    loss = e["full"][0]
    assert rows(e["few"][0]) == [rows(loss)[0], rows(loss)[-1]]
    assert e["one"] == [{"steps": loss["steps"][-1:], "values": loss["values"][-1:]}]
    assert e["many"] == [loss]  # fewer points than asked for: all of them
    # Every field asks the full series, in one call: a view is chosen in the gateway.
    assert demo.counts() == {"GET experiment/metadata": 1, CHART: 1}


def test_min_max_keeps_the_lowest_and_highest_values(gateway: GatewayServer,
                                                     demo: DemoServer) -> None:
    keys = first_keys(gateway, 3)
    data = gateway.data(f"""query($k: [ID!]) {{ {PROJECT} {{
        full: metricChart(metrics: ["loss", "val_accuracy"], experimentKeys: $k, full: true) {{
          metrics {{ {FIELDS} }} }}
        chart: metricChartResult(metrics: ["loss", "val_accuracy"], experimentKeys: $k,
                                 points: 12, method: MIN_MAX) {{
          experiments {{ experimentKey metrics {{ {FIELDS} }} steps }} }} }} }}""", {"k": keys})
    fulls, chart = data["project"]["full"], data["project"]["chart"]["experiments"]
    assert [c["experimentKey"] for c in chart] == keys
    for full, entry in zip(fulls, chart, strict=True):
        for every, shown in zip(full["metrics"], entry["metrics"], strict=True):
            assert_chosen_from(shown, every, 12)
            assert min(shown["values"]) == min(every["values"])
            assert max(shown["values"]) == max(every["values"])
        # The entry's steps are those of its series as shown.
        assert entry["steps"] == sorted({s for m in entry["metrics"] for s in m["steps"]})


def test_a_step_range_zooms_before_points_choose(gateway: GatewayServer) -> None:
    key = first_keys(gateway, 1)[0]
    data = gateway.data(f"""query($k: ID!) {{ experiment(key: $k) {{
        full: metricSeries(names: ["loss", "val_loss"], full: true) {{ {FIELDS} }}
        range: metricSeries(names: ["loss", "val_loss"], full: true, stepMin: 40,
                            stepMax: 100) {{ {FIELDS} }}
        from: metricSeries(names: ["loss"], full: true, stepMin: 100) {{ steps }}
        zoom: metricSeries(names: ["loss", "val_loss"], stepMin: 40, stepMax: 100,
                           points: 5) {{ {FIELDS} }}
        chart: metricChart(metrics: ["loss", "val_loss"], full: true, stepMin: 40,
                           stepMax: 100) {{ steps }} }} }}""", {"k": key})
    e = data["experiment"]
    for full, cut, zoom in zip(e["full"], e["range"], e["zoom"], strict=True):
        inside = [r for r in rows(full) if 40 <= r[0] <= 100]
        assert rows(cut) == inside
        assert_chosen_from(zoom, cut, 5)
    assert e["from"][0]["steps"] == [s for s in e["full"][0]["steps"] if s >= 100]
    # A zoom without `full` is into the full series too, never into Comet's sample of ~500.
    zoomed = gateway.data("""query($k: ID!) { experiment(key: $k) {
        metricSeries(names: ["loss"], stepMin: 40, stepMax: 100) { steps } } }""",
                          {"k": key})["experiment"]["metricSeries"][0]["steps"]
    assert zoomed == [s for s in e["full"][0]["steps"] if 40 <= s <= 100]
    assert e["chart"]["steps"] == list(range(40, 101))  # loss's steps; val_loss's among them


def test_smoothing_is_tensorboard_s_over_the_whole_series(gateway: GatewayServer) -> None:
    key = first_keys(gateway, 1)[0]
    data = gateway.data("""query($k: ID!) { experiment(key: $k) {
        sampled: metricSeries(names: ["loss"], smoothing: 0.6) { steps values smoothed }
        full: metricSeries(names: ["loss"], full: true, smoothing: 0.95) {
          steps values smoothed }
        shown: metricSeries(names: ["loss"], points: 30, stepMin: 50, smoothing: 0.95) {
          steps values smoothed }
        raw: metricSeries(names: ["loss"], smoothing: 0) { values smoothed } } }""",
                        {"k": key})
    e = data["experiment"]
    sampled, full, shown = e["sampled"][0], e["full"][0], e["shown"][0]
    assert close(sampled["smoothed"], reference_ema(sampled["values"], 0.6))
    assert close(full["smoothed"], reference_ema(full["values"], 0.95))
    # Smoothed over the whole series, then chosen: the zoomed curve is the same curve.
    at = {s: v for s, v in zip(full["steps"], full["smoothed"], strict=True)}
    assert len(shown["steps"]) == 30 and shown["steps"][0] == 50
    assert shown["smoothed"] == pytest.approx([at[s] for s in shown["steps"]], rel=1e-12)
    assert shown["smoothed"] != shown["values"]  # the raw values stay beside it
    assert e["raw"][0]["smoothed"] == e["raw"][0]["values"]  # a weight of 0 smooths nothing


@pytest.fixture
def diverged(gateway: GatewayServer, demo: DemoServer) -> Iterator[tuple[str, str, str]]:
    """(bob's key, experiment, metric): a metric of its own (other tests' stay as seeded)
    whose run diverged now and then, and at the start and end: 240 values at steps 1 to
    240."""
    data = gateway.data('{ project(workspace: "bob", name: "scratch") { experiments(first: 3) '
                        "{ edges { node { key } } } } }", key=demo.keys["bob"])
    experiment = data["project"]["experiments"]["edges"][2]["node"]["key"]
    metric = f"loss_{uuid.uuid4().hex[:8]}"
    values: list[Any] = [round(math.sin(i / 9) + i / 100, 4) for i in range(240)]
    for i, word in ((0, "NaN"), (17, "Infinity"), (18, "NaN"), (60, "-Infinity"),
                    (61, "diverged"), (130, "NaN"), (239, "NaN")):
        values[i] = word
    values[100] = -50.0  # a spike MIN_MAX must keep
    demo.log_metric(experiment, metric, values)
    demo.clear_log()
    yield demo.keys["bob"], experiment, metric


def test_values_that_are_not_finite_never_break_a_series(
        gateway: GatewayServer, demo: DemoServer, diverged: tuple[str, str, str]) -> None:
    key, experiment, metric = diverged
    result = gateway.post(f"""query($k: ID!, $m: String!) {{ experiment(key: $k) {{
        full: metricSeries(names: [$m], full: true) {{ {FIELDS} }}
        lttb: metricSeries(names: [$m], points: 20) {{ {FIELDS} }}
        minMax: metricSeries(names: [$m], points: 20, method: MIN_MAX) {{ {FIELDS} }}
        two: metricSeries(names: [$m], points: 2) {{ {FIELDS} }}
        three: metricSeries(names: [$m], points: 3) {{ {FIELDS} }}
        smooth: metricSeries(names: [$m], full: true, smoothing: 0.8) {{ values smoothed }}
        zoom: metricSeries(names: [$m], points: 5, stepMin: 15, stepMax: 64,
                           smoothing: 0.8) {{ {FIELDS} smoothed }} }} }}""",
                          {"k": experiment, "m": metric}, key=key)
    assert "errors" not in result, result["errors"]
    e = result["data"]["experiment"]
    full = e["full"][0]
    assert len(full["steps"]) == 240
    assert full["valuesText"][0] == "NaN" and full["values"][0] is None
    for shown in (e["lttb"][0], e["minMax"][0], e["two"][0], e["three"][0]):
        assert_chosen_from(shown, full, 20)  # the ends (NaN both) kept, every row aligned
        inner = shown["values"][1:-1]
        assert None not in inner  # between the ends, only finite values are chosen
    assert len(e["lttb"][0]["steps"]) == 20
    assert -50.0 in e["minMax"][0]["values"]
    finite = [v for v in full["values"] if v is not None]
    assert max(finite) in e["minMax"][0]["values"]
    assert len(e["two"][0]["steps"]) == 2 and len(e["three"][0]["steps"]) == 3
    smooth = e["smooth"][0]
    assert close(smooth["smoothed"], reference_ema(smooth["values"], 0.8))
    zoom = e["zoom"][0]
    cut = [r for r in rows(full) if 15 <= r[0] <= 64]
    assert rows(zoom)[0] == cut[0] and rows(zoom)[-1] == cut[-1] and len(zoom["steps"]) == 5
    at = dict(zip(full["steps"], smooth["smoothed"], strict=True))
    assert zoom["smoothed"] == [at[s] for s in zoom["steps"]]


def test_views_share_the_batches_they_would_make_without_points(gateway: GatewayServer,
                                                                demo: DemoServer) -> None:
    """100 experiments' series at several resolutions cost what their full series cost alone:
    one chart call a batch."""
    def calls(fields: str) -> dict[str, int]:
        demo.clear_log()
        data = gateway.data(f"{{ {PROJECT} {{ experiments(first: 100) {{ edges {{ node {{ "
                            f"{fields} }} }} }} }} }}")
        assert len(data["project"]["experiments"]["edges"]) == 100
        return demo.counts()

    full = calls('metricSeries(names: ["loss"], full: true) { steps }')
    views = calls("""a: metricSeries(names: ["loss"], points: 50) { steps }
        b: metricSeries(names: ["loss", "accuracy"], points: 20, method: MIN_MAX) { steps }
        c: metricSeries(names: ["accuracy"], points: 5, stepMin: 10, stepMax: 90,
                        smoothing: 0.5) { smoothed }
        d: metricChart(metrics: ["loss"], points: 7) { steps }
        e: metricSeries(names: ["loss"], smoothing: 0.6) { smoothed }
        f: metricSeries(names: ["loss"], stepMin: 10) { steps }""")
    assert full == views == {"GET project": 1, "GET experiments": 1,
                             CHART: math.ceil(100 / BATCH)}
    # And a chart over the whole project: the same one call a batch, whatever the view.
    demo.clear_log()
    gateway.data(f"""{{ {PROJECT} {{
        a: metricChart(metrics: ["loss"], points: 50) {{ steps }}
        b: metricChartResult(metrics: ["loss"], points: 9, method: MIN_MAX, smoothing: 0.9) {{
          empty }}
        c: metricChart(metrics: ["loss"], full: true, stepMax: 30) {{ steps }} }} }}""")
    assert demo.counts() == {"GET project": 1, "GET experiments": 1, CHART: math.ceil(113 / BATCH)}


@pytest.mark.parametrize("arguments", [
    "points: 0", "points: -5", "points: 10001", "stepMin: 10, stepMax: 9",
    "smoothing: 1", "smoothing: 1.5", "smoothing: -0.1",
])
def test_arguments_out_of_bounds_are_refused_before_any_call(
        gateway: GatewayServer, demo: DemoServer, arguments: str) -> None:
    key = first_keys(gateway, 1)[0]
    demo.clear_log()
    result = gateway.post(f"""query($k: ID!) {{
        experiment(key: $k) {{
          metricSeries(names: ["loss"], {arguments}) {{ steps }}
          metricChart(metrics: ["loss"], {arguments}) {{ steps }} }}
        {PROJECT} {{
          metricChart(metrics: ["loss"], experimentKeys: [$k], {arguments}) {{ steps }}
          metricChartResult(metrics: ["loss"], {arguments}) {{ empty }} }} }}""", {"k": key})
    assert result["data"] == {
        "experiment": {"metricSeries": None, "metricChart": None},
        "project": {"metricChart": None, "metricChartResult": None}}
    assert [e["extensions"]["code"] for e in result["errors"]] == ["BAD_USER_INPUT"] * 4
    assert CHART not in demo.counts() and "GET experiments" not in demo.counts()


@pytest.fixture(scope="module")
def thrifty(demo_session: DemoServer) -> Iterator[GatewayServer]:
    """A gateway whose operations may read 1,000 points of series into views."""
    settings = Settings(upstream_url=demo_session.url, rate_limit_per_second=0,
                        upstream_rate_per_key=0, max_series_points=1_000, cache=False)
    server = start_gateway(settings, default_key=demo_session.keys["alice"])
    yield server
    server.stop()


def test_what_views_read_is_bounded(thrifty: GatewayServer, demo: DemoServer) -> None:
    key = first_keys(thrifty, 1)[0]
    n = len(thrifty.data('query($k: ID!) { experiment(key: $k) { metricSeries(names: '
                         '["loss"], full: true) { steps } } }', {"k": key})
            ["experiment"]["metricSeries"][0]["steps"])
    fits = 1_000 // n
    aliases = " ".join(f'a{i}: metricSeries(names: ["loss"], points: {i + 1}) {{ steps }}'
                       for i in range(fits + 2))
    demo.clear_log()
    result = thrifty.post(f"query($k: ID!) {{ experiment(key: $k) {{ {aliases} }} }}",
                          {"k": key})
    e = result["data"]["experiment"]
    assert [len(e[f"a{i}"][0]["steps"]) for i in range(fits)] == list(range(1, fits + 1))
    assert e[f"a{fits}"] is None and e[f"a{fits + 1}"] is None
    assert [x["extensions"]["code"] for x in result["errors"]] == ["QUERY_TOO_COMPLEX"] * 2
    assert "read more than 1000 points" in result["errors"][0]["message"]
    assert demo.counts() == {"GET experiment/metadata": 1, CHART: 1}
    # The series as fetched cost nothing of it.
    plain = " ".join(f'b{i}: metricSeries(names: ["loss"], full: true) {{ steps }}'
                     for i in range(fits + 2))
    thrifty.data(f"query($k: ID!) {{ experiment(key: $k) {{ {plain} }} }}", {"k": key})


def chart_bytes(demo: DemoServer, keys: list[str], metrics: list[str]) -> int:
    """The length of the demo's full chart of `keys`, as the gateway would read it."""
    body = json.dumps({"targetedExperiments": keys, "metrics": metrics, "params": [],
                       "independentMetrics": True, "fetchFull": True}).encode()
    request = urllib.request.Request(f"{demo.url}/api/rest/v2/experiments/multi-metric-chart",
                                     data=body, method="POST",
                                     headers={"Authorization": demo.keys["alice"],
                                              "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return len(answer.read())


def test_a_batch_too_long_for_one_answer_is_asked_again_in_halves(
        gateway: GatewayServer, demo: DemoServer) -> None:
    """Full series of long runs can outgrow the bytes read of one answer: the batch is asked
    again in halves, down to what fits, and the answer is whole and the same."""
    query = (f'{{ {PROJECT} {{ experiments(first: 100) {{ edges {{ node {{ key '
             'metricSeries(names: ["loss", "accuracy"], points: 20) { metricName steps values '
             "} } } } } }")
    whole = gateway.data(query)
    keys = [e["node"]["key"] for e in whole["project"]["experiments"]["edges"]]
    metrics = ["accuracy", "loss"]
    # Room for a few experiments' full charts, not for a batch's.
    limit = 4 * max(chart_bytes(demo, [k], metrics) for k in keys[:BATCH])
    assert chart_bytes(demo, keys[:BATCH], metrics) > limit
    settings = Settings(upstream_url=demo.url, rate_limit_per_second=0, upstream_rate_per_key=0,
                        cache=False, chart_batch_size=BATCH, max_upstream_answer_bytes=limit)
    small = start_gateway(settings, default_key=demo.keys["alice"])
    try:
        demo.clear_log()
        halves = small.post(query)
    finally:
        small.stop()
    assert "errors" not in halves, halves["errors"][:2]
    assert halves["data"] == whole
    calls = demo.counts()[CHART]
    # Each batch of 25 asked whole, in halves, in quarters...: more than one call a batch,
    # and no more than a tree of halvings down to one experiment would make.
    assert math.ceil(100 / BATCH) < calls <= math.ceil(100 / BATCH) * (2 * BATCH - 1)


def test_an_operation_reads_a_bounded_amount_of_full_series(demo: DemoServer) -> None:
    """Full series go one chart call at a time, and none begins once the operation has read
    `max_full_series_bytes` of them: the rest fail with QUERY_TOO_COMPLEX, saying why."""
    keys = first_keys_of(demo, 100)
    one_batch = chart_bytes(demo, keys[:BATCH], ["loss"])
    settings = Settings(upstream_url=demo.url, rate_limit_per_second=0, upstream_rate_per_key=0,
                        cache=False, chart_batch_size=BATCH,
                        max_full_series_bytes=one_batch // 2)
    small = start_gateway(settings, default_key=demo.keys["alice"])
    try:
        demo.clear_log()
        answer = small.post(f'{{ {PROJECT} {{ metricChart(metrics: ["loss"], points: 10) '
                            "{ experimentKey } } }")
        fits = small.post(f'query($k: [ID!]) {{ {PROJECT} {{ metricChart(metrics: ["loss"], '
                          "experimentKeys: $k, points: 10) { experimentKey } } }",
                          {"k": keys[:BATCH]})
    finally:
        small.stop()
    assert answer["data"]["project"]["metricChart"] is None
    [error] = answer["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert "bytes of full metric series" in error["message"]
    assert len(fits["data"]["project"]["metricChart"]) == BATCH and "errors" not in fits
    # The first answer: one batch read, the next refused before it was sent, the rest never
    # begun; then the second answer's one batch.
    assert demo.counts()[CHART] == 1 + 1


def first_keys_of(demo: DemoServer, n: int) -> list[str]:
    from demo_upstream.world import World
    project = World().project_by_name("vision-lab", "image-classifier")
    assert project is not None
    return [h.key for h in World().headers(project)][:n]
