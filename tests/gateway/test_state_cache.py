"""The cache at its defaults, over HTTP: what an ended experiment logged is kept for long, a
running one's for seconds, a resumed one is fetched afresh, and the 100-experiment dashboard's
second load costs the listing and what the running experiments need.

The gateway reads a clock the tests move (`create_app(clock=...)`), so that lifetimes pass
without sleeping; the demo upstream resumes and ends experiments through its state knob.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from demo_upstream.world import World
from gateway.settings import Settings
from tests.demo_server import DemoServer
from tests.gateway_server import GatewayServer, start

WORLD = World()
PROJECT = WORLD.project_by_name("vision-lab", "image-classifier")
assert PROJECT is not None
LISTED = [h for h in WORLD.headers(PROJECT) if not h.archived]  # the listing's order
FIRST_100 = [h.key for h in LISTED[:100]]
RUNNING = [FIRST_100[5], FIRST_100[50], FIRST_100[95]]  # set running for the tests
ENDED = FIRST_100[10]
ENDED_END = LISTED[10].end
DEFAULTS = Settings()

# The benchmark's dashboard (bench/queries.py): the listing, then each experiment's summary,
# parameters, tags and two series.
DASHBOARD = """query Dashboard($n: Int!) {
  project(workspace: "vision-lab", name: "image-classifier") {
    name
    experiments(first: $n) { totalCount edges { node {
      key name running
      metricsSummary { name valueCurrent valueMin valueMax }
      parameters { name valueCurrent }
      tags
      metricSeries(names: ["loss", "accuracy"]) { metricName steps values }
    } } }
  }
}"""
SUMMARY = """query One($key: ID!) { experiment(key: $key) {
  running metricsSummary { name valueCurrent } } }"""


class Clock:
    """Monotonic seconds that move only when a test says so."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cached(demo: DemoServer, clock: Clock) -> Iterator[GatewayServer]:
    """A gateway with the cache as it comes (on, in process, the default lifetimes), cold."""
    server = start(Settings(upstream_url=demo.url, rate_limit_per_second=0,
                            upstream_rate_per_key=0),
                   default_key=demo.keys["alice"], clock=clock)
    yield server
    server.stop()


def dashboard(server: GatewayServer, n: int = 100) -> Any:
    return server.data(DASHBOARD, {"n": n})


def loads(demo: DemoServer) -> dict[str, int]:
    """The upstream calls since the last look, which clears the log."""
    counts = demo.counts()
    demo.clear_log()
    return counts


def chart_keys(demo: DemoServer) -> list[list[str]]:
    """The experiments each chart call asked for, since the log was cleared."""
    return [json.loads(r["body"])["targetedExperiments"] for r in demo.requests()
            if r["endpoint"] == "experiments/multi-metric-chart"]


def summary_of(answer: Any, key: str) -> dict[str, float]:
    node = next(e["node"] for e in answer["project"]["experiments"]["edges"]
                if e["node"]["key"] == key)
    return {m["name"]: m["valueCurrent"] for m in node["metricsSummary"]}


def test_the_defaults_keep_ended_experiments_long_and_running_ones_for_seconds() -> None:
    assert DEFAULTS.cache is True and DEFAULTS.redis_url is None
    assert (DEFAULTS.cache_ttl_ended, DEFAULTS.cache_ttl_running,
            DEFAULTS.cache_ttl_state) == (86_400, 5, 10)
    assert DEFAULTS.ttls() == {"workspace": 60, "project": 30, "registry": 30, "panel": 300,
                               "experiment": 30}
    with pytest.raises(ValueError, match="COMET_GATEWAY_CACHE_TTL_ENDED"):
        Settings(cache_ttls="metrics=10")


def test_a_second_load_costs_the_listing_and_what_the_running_experiments_need(
        cached: GatewayServer, demo: DemoServer, clock: Clock) -> None:
    for key in RUNNING:
        demo.set_state(key, running=True)
    first = dashboard(cached)
    # The first load: the project, the listing, three calls an experiment, one chart batch.
    assert sum(loads(demo).values()) == 2 + 3 * 100 + 1
    assert [e["node"]["key"] for e in first["project"]["experiments"]["edges"]
            if e["node"]["running"]] == RUNNING

    assert dashboard(cached) == first  # within every lifetime: nothing goes upstream
    assert loads(demo) == {}

    clock.advance(DEFAULTS.cache_ttl_running + 1)  # the running experiments' data is stale
    assert dashboard(cached) == first
    assert chart_keys(demo) == [RUNNING]  # one chart call, for the running experiments only
    assert loads(demo) == {"GET experiment/metrics/summary": 3, "GET experiment/parameters": 3,
                           "POST experiments/multi-metric-chart": 1}

    clock.advance(DEFAULTS.cache_ttl_state)  # ... and the listing too (tags and project not)
    assert dashboard(cached) == first
    assert loads(demo) == {"GET experiments": 1, "GET experiment/metrics/summary": 3,
                           "GET experiment/parameters": 3,
                           "POST experiments/multi-metric-chart": 1}


def test_a_refresh_batches_the_running_experiments_together(demo: DemoServer,
                                                             clock: Clock) -> None:
    server = start(Settings(upstream_url=demo.url, rate_limit_per_second=0,
                            upstream_rate_per_key=0, chart_batch_size=25),
                   default_key=demo.keys["alice"], clock=clock)
    try:
        for key in RUNNING:  # in three of the four batches of 25
            demo.set_state(key, running=True)
        first = dashboard(server)
        assert len(chart_keys(demo)) == 4  # cold: ⌈100 / 25⌉ chart calls
        loads(demo)
        clock.advance(DEFAULTS.cache_ttl_running + 1)
        assert dashboard(server) == first
        assert chart_keys(demo) == [RUNNING]  # one call, not one per batch they are in
    finally:
        server.stop()


def test_a_resumed_experiment_is_fetched_afresh(cached: GatewayServer, demo: DemoServer,
                                                clock: Clock) -> None:
    first = dashboard(cached)
    loads(demo)
    demo.set_state(ENDED, running=True)  # resumed, and it logs a new loss
    demo.log_metric(ENDED, "loss", [0.0123])

    # The listing cached a moment ago still says it ended: the old data, within the bound.
    clock.advance(DEFAULTS.cache_ttl_state - 1)
    assert dashboard(cached) == first and loads(demo) == {}

    clock.advance(2)  # the listing is read again: it runs, so its data is fetched afresh
    resumed = dashboard(cached)
    assert summary_of(resumed, ENDED)["loss"] == 0.0123
    assert chart_keys(demo) == [[ENDED]]
    assert loads(demo) == {"GET experiments": 1, "GET experiment/metrics/summary": 1,
                           "GET experiment/parameters": 1,
                           "POST experiments/multi-metric-chart": 1}

    # It ends again, at a new time: fetched once more, then kept for long again.
    demo.set_state(ENDED, running=False, end=ENDED_END + 60_000)
    demo.log_metric(ENDED, "loss", [0.0042])
    clock.advance(DEFAULTS.cache_ttl_state + 1)
    again = dashboard(cached)
    assert summary_of(again, ENDED)["loss"] == 0.0042
    assert loads(demo) == {"GET experiments": 1, "GET experiment/metrics/summary": 1,
                           "GET experiment/parameters": 1,
                           "POST experiments/multi-metric-chart": 1}
    clock.advance(DEFAULTS.cache_ttl_running + 1)
    assert dashboard(cached) == again and loads(demo) == {}


def test_a_running_experiments_data_expires_within_its_lifetime(
        cached: GatewayServer, demo: DemoServer, clock: Clock) -> None:
    key = RUNNING[0]
    demo.set_state(key, running=True)
    before = cached.data(SUMMARY, {"key": key})
    assert before["experiment"]["running"] is True
    assert loads(demo) == {"GET experiment/metadata": 1, "GET experiment/metrics/summary": 1}
    demo.log_metric(key, "loss", [0.25])

    clock.advance(DEFAULTS.cache_ttl_running - 1)
    assert cached.data(SUMMARY, {"key": key}) == before and loads(demo) == {}
    clock.advance(2)
    after = cached.data(SUMMARY, {"key": key})
    assert {m["name"]: m["valueCurrent"] for m in after["experiment"]["metricsSummary"]}[
        "loss"] == 0.25
    assert loads(demo) == {"GET experiment/metrics/summary": 1}


def test_an_experiment_read_by_key_follows_its_metadata(
        cached: GatewayServer, demo: DemoServer, clock: Clock) -> None:
    before = cached.data(SUMMARY, {"key": ENDED})
    assert before["experiment"]["running"] is False
    assert loads(demo) == {"GET experiment/metadata": 1, "GET experiment/metrics/summary": 1}
    clock.advance(DEFAULTS.cache_ttl_state + 1)  # the metadata again, the summary kept
    assert cached.data(SUMMARY, {"key": ENDED}) == before
    assert loads(demo) == {"GET experiment/metadata": 1}

    demo.set_state(ENDED, running=True)
    demo.log_metric(ENDED, "loss", [0.5])
    clock.advance(DEFAULTS.cache_ttl_state + 1)
    after = cached.data(SUMMARY, {"key": ENDED})
    assert after["experiment"]["running"] is True
    assert {m["name"]: m["valueCurrent"] for m in after["experiment"]["metricsSummary"]}[
        "loss"] == 0.5
    assert loads(demo) == {"GET experiment/metadata": 1, "GET experiment/metrics/summary": 1}


def test_an_experiment_of_unknown_state_counts_as_running(
        cached: GatewayServer, demo: DemoServer, clock: Clock) -> None:
    # An experiment of another project, named in this one's chart: the listing the chart reads
    # first does not hold it, and no metadata of it is read: its state is unknown.
    other = WORLD.project_by_name("vision-lab", "object-detection")
    assert other is not None
    foreign = WORLD.headers(other)[10]
    assert foreign.end is not None and not foreign.archived
    chart = f"""{{ project(workspace: "vision-lab", name: "image-classifier") {{
      metricChart(metrics: ["loss"], experimentKeys: ["{foreign.key}"]) {{ experimentKey }} }} }}"""
    cached.data(chart)
    assert loads(demo) == {"GET project": 1, "GET experiments": 1,
                           "POST experiments/multi-metric-chart": 1}
    clock.advance(DEFAULTS.cache_ttl_running + 1)
    cached.data(chart)
    assert loads(demo) == {"POST experiments/multi-metric-chart": 1}

    cached.data("""{ project(workspace: "vision-lab", name: "object-detection") {
      experiments(first: 20) { edges { node { key } } } } }""")
    loads(demo)  # its own project's listing says it ended: from now on its part is kept long
    cached.data(chart)
    assert loads(demo) == {"POST experiments/multi-metric-chart": 1}  # under its end time
    clock.advance(DEFAULTS.cache_ttl_running + 1)
    cached.data(chart)
    assert loads(demo) == {"GET experiments": 1}  # this project's listing, expired: no chart
    # Unread for longer than the state is trusted: unknown again, so running.
    clock.advance(DEFAULTS.cache_ttl_state)
    cached.data(chart)
    assert loads(demo) == {"GET experiments": 1, "POST experiments/multi-metric-chart": 1}


def test_a_chart_by_keys_learns_its_experiments_states_from_the_listing(
        cached: GatewayServer, demo: DemoServer, clock: Clock) -> None:
    # The dashboard's series-only request (a tick, a slider's release): ended experiments'
    # parts come from the cache once the view's listing is older than a state is trusted;
    # what it costs then is the project's listing, once per `cache_ttl_state`.
    chart = f"""{{ project(workspace: "vision-lab", name: "image-classifier") {{
      metricChart(metrics: ["loss"], experimentKeys: {json.dumps(FIRST_100[10:14])}) {{
        experimentKey metrics {{ steps }} }} }} }}"""
    first = cached.data(chart)
    assert loads(demo) == {"GET project": 1, "GET experiments": 1,
                           "POST experiments/multi-metric-chart": 1}
    clock.advance(DEFAULTS.cache_ttl_state + 1)
    assert cached.data(chart) == first
    assert loads(demo) == {"GET experiments": 1}
    clock.advance(DEFAULTS.cache_ttl_running + 1)  # the listing still cached: no call at all
    assert cached.data(chart) == first
    assert loads(demo) == {}


def test_a_key_never_gets_another_keys_chart_parts(cached: GatewayServer,
                                                   demo: DemoServer) -> None:
    def chart(workspace: str, project: str) -> str:
        return f"""{{ project(workspace: "{workspace}", name: "{project}") {{
          metricChart(metrics: ["loss"], experimentKeys: {json.dumps(FIRST_100[:3])}) {{
            experimentKey }} }} }}"""

    # Alice's parts (neither key has read their states: kept as running, for both).
    mine = cached.data(chart("vision-lab", "image-classifier"))
    assert len(mine["project"]["metricChart"]) == 3
    loads(demo)
    # Bob names alice's experiments in a chart of his own project: Comet gives him nothing.
    theirs = cached.data(chart("nlp-research", "sentiment-bert"), key=demo.keys["bob"])
    assert theirs == {"project": {"metricChart": []}}
    assert loads(demo) == {"GET project": 1, "GET experiments": 1,
                           "POST experiments/multi-metric-chart": 1}


def test_a_chart_part_read_back_follows_the_rules_of_a_whole_answer(
        cached: GatewayServer, demo: DemoServer) -> None:
    # Comet's answer as the tolerant path reads it (a number for a metric's name), and an
    # experiment it has no entry for: both kept, and read back as they were first.
    odd = {"experimentKey": ENDED, "metrics": [{"metricName": 7, "steps": [1, 2],
                                               "values": ["0.5", "NaN"]}]}
    demo.fault("experiments/multi-metric-chart", "status", status=200, count=1,
               body=json.dumps({"empty": False, "experiments": {ENDED: odd}}))
    chart = f"""{{ project(workspace: "vision-lab", name: "image-classifier") {{
      metricChart(metrics: ["loss"], experimentKeys: ["{ENDED}", "{FIRST_100[11]}"]) {{
        experimentKey metrics {{ metricName steps values valuesText }} }} }} }}"""
    first = cached.data(chart)
    assert first["project"]["metricChart"] == [{"experimentKey": ENDED, "metrics": [
        {"metricName": "7", "steps": [1, 2], "values": [0.5, None],
         "valuesText": ["0.5", "NaN"]}]}]
    assert loads(demo) == {"GET project": 1, "GET experiments": 1,
                           "POST experiments/multi-metric-chart": 1}
    assert cached.data(chart) == first
    assert loads(demo) == {}


def redis(url: str, command: bytes) -> bytes:
    host, port = url.removeprefix("redis://").split("/")[0].split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(command + b"\r\n")
        return sock.recv(64)


def written(redis_url: str, keys: int) -> None:
    """Waits (10 s at most) until Redis holds `keys` keys: the writes behind the answers."""
    deadline = time.monotonic() + 10
    while redis(redis_url, b"DBSIZE") != f":{keys}\r\n".encode():
        assert time.monotonic() < deadline, redis(redis_url, b"DBSIZE")
        time.sleep(0.02)


def test_the_cache_in_redis_is_shared_by_processes(demo: DemoServer, redis_url: str) -> None:
    assert redis(redis_url, b"FLUSHDB").startswith(b"+OK")
    settings = Settings(upstream_url=demo.url, redis_url=redis_url, rate_limit_per_second=0,
                        upstream_rate_per_key=0)
    one, two = start(settings, demo.keys["alice"]), start(settings, demo.keys["alice"])
    try:
        first = dashboard(one)
        assert sum(loads(demo).values()) == 2 + 3 * 100 + 1
        # Written behind the answers, in pipelines: wait for all 402 (the chart in 100 parts;
        # one write at a time, most of them would be dropped).
        written(redis_url, 402)
        # A process serves a key from the cache once Comet accepted that key there lately.
        two.data("{ viewer { userName } }")
        loads(demo)
        # Then a dashboard of the first three comes from Redis: the project, what the
        # experiments logged, under the end times the listing says (that process reads the
        # listing of three itself: another call than the listing of 100), the chart's parts.
        mine = dashboard(two, 3)["project"]["experiments"]["edges"]
        assert mine == first["project"]["experiments"]["edges"][:3]
        assert loads(demo) == {"GET experiments": 1}
    finally:
        one.stop()
        two.stop()


def test_a_chart_part_is_kept_under_a_short_key_whatever_the_id_asked(
        demo: DemoServer, redis_url: str) -> None:
    """Experiment ids are the caller's to choose (an unknown one is kept too, as an empty
    part): a part's key holds a hash of the id, so that no key grows with it in Redis."""
    assert redis(redis_url, b"FLUSHDB").startswith(b"+OK")
    settings = Settings(upstream_url=demo.url, redis_url=redis_url, rate_limit_per_second=0,
                        upstream_rate_per_key=0)
    server = start(settings, demo.keys["alice"])
    try:
        invented = ["x" * 100_000, "y" * 100_000]
        server.data('query($k: [ID!]) { project(workspace: "vision-lab", name: '
                    '"image-classifier") { metricChart(metrics: ["loss"], experimentKeys: $k) '
                    "{ experimentKey } } }", {"k": [LISTED[1].key, *invented]})
        deadline = time.monotonic() + 10
        while redis(redis_url, b"DBSIZE") in (b":0\r\n", b":1\r\n", b":2\r\n"):
            assert time.monotonic() < deadline, redis(redis_url, b"DBSIZE")
            time.sleep(0.02)
        longest = redis(redis_url, b'EVAL "local m = 0 for _, k in ipairs(redis.call('
                        b"'KEYS', '*')) do m = math.max(m, #k) end return m\" 0")
        parts = redis(redis_url, b"EVAL \"return #redis.call('KEYS', '*:chart:*')\" 0")
    finally:
        server.stop()
    assert parts == b":3\r\n"  # the real experiment's part and the two invented ones
    assert int(longest[1:]) < 200, longest


def test_a_warm_dashboard_costs_no_call_with_redis_either(demo: DemoServer,
                                                          redis_url: str) -> None:
    """The second load's ~300 lookups and the chart's 100 parts come at once: they wait for
    Redis's connections (the lookups of a moment go together, in a few MGETs), rather than
    miss past its pool, so Redis costs a warm dashboard what the in-process cache does."""
    assert redis(redis_url, b"FLUSHDB").startswith(b"+OK")
    # The listing's lifetime long enough that a slow machine's first load cannot outlast it.
    settings = Settings(upstream_url=demo.url, redis_url=redis_url, rate_limit_per_second=0,
                        upstream_rate_per_key=0, cache_ttl_state=600)
    server = start(settings, demo.keys["alice"])
    try:
        first = dashboard(server)
        assert sum(loads(demo).values()) == 2 + 3 * 100 + 1
        written(redis_url, 402)
        assert dashboard(server) == first
        assert loads(demo) == {}
    finally:
        server.stop()


@pytest.mark.parametrize("share", [DEFAULTS.cache_key_share, 1.0])
def test_one_keys_requests_cannot_evict_another_keys_dashboard(
        demo: DemoServer, clock: Clock, share: float) -> None:
    """Bob's dashboards take more than the budget left beside alice's: past his share, his
    own oldest entries go, and hers stay."""
    server = start(Settings(upstream_url=demo.url, rate_limit_per_second=0,
                            upstream_rate_per_key=0, cache_max_bytes=2 * 2**20,
                            cache_key_share=share),
                   default_key=demo.keys["alice"], clock=clock)
    try:
        first = dashboard(server, 20)
        loads(demo)
        for project in ("sentiment-bert", "translation"):
            bobs = DASHBOARD.replace('"vision-lab"', '"nlp-research"').replace(
                '"image-classifier"', f'"{project}"')
            server.data(bobs, {"n": 100}, key=demo.keys["bob"])
        loads(demo)
        assert dashboard(server, 20) == first
        if share < 1:
            assert loads(demo) == {}
        else:  # (what the share is for: without it, bob's entries pushed hers out)
            assert sum(loads(demo).values()) > 20
    finally:
        server.stop()


def test_an_experiment_that_just_ended_counts_as_running_until_it_settles(
        cached: GatewayServer, demo: DemoServer, clock: Clock) -> None:
    """Ended half a minute ago (by the demo's clock, which its Date headers show): Comet may
    still be landing its last points, so its data lives seconds, not a day, until it has been
    ended for COMET_GATEWAY_CACHE_SETTLE."""
    assert DEFAULTS.cache_settle == 60
    demo.set_state(ENDED, running=False, end=int(time.time() * 1000) - 30_000)
    first = cached.data(SUMMARY, {"key": ENDED})
    assert first["experiment"]["running"] is False
    assert loads(demo) == {"GET experiment/metadata": 1, "GET experiment/metrics/summary": 1}
    demo.log_metric(ENDED, "loss", [0.0321])  # its last point lands after the end
    demo.set_state(ENDED, running=False, end=int(time.time() * 1000) - 30_000)
    clock.advance(DEFAULTS.cache_ttl_running + 1)
    landed = cached.data(SUMMARY, {"key": ENDED})
    assert {m["name"]: m["valueCurrent"] for m in landed["experiment"]["metricsSummary"]}[
        "loss"] == 0.0321
    assert loads(demo) == {"GET experiment/metrics/summary": 1}

    # Settled (ended two minutes ago): fetched once more under its end time, then kept long.
    demo.set_state(ENDED, running=False, end=int(time.time() * 1000) - 120_000)
    clock.advance(DEFAULTS.cache_ttl_state + 1)
    assert cached.data(SUMMARY, {"key": ENDED}) == landed
    assert loads(demo) == {"GET experiment/metadata": 1, "GET experiment/metrics/summary": 1}
    clock.advance(DEFAULTS.cache_ttl_running + 1)
    assert cached.data(SUMMARY, {"key": ENDED}) == landed
    assert loads(demo) == {}


def test_the_settling_follows_comets_clock_as_its_date_header_shows_it(
        cached: GatewayServer, demo: DemoServer, clock: Clock) -> None:
    """Comet's clock five minutes behind the gateway's: an experiment that ended 30 s ago by
    Comet's clock (5.5 min ago by the gateway's) still settles, so its data lives seconds."""
    demo.fault("*", "date", skew=-300)
    comet_now = time.time() - 300
    demo.set_state(ENDED, running=False, end=int((comet_now - 30) * 1000))
    cached.data(SUMMARY, {"key": ENDED})
    assert loads(demo) == {"GET experiment/metadata": 1, "GET experiment/metrics/summary": 1}
    clock.advance(DEFAULTS.cache_ttl_running + 1)
    cached.data(SUMMARY, {"key": ENDED})
    assert loads(demo) == {"GET experiment/metrics/summary": 1}  # kept as running: 5 s
