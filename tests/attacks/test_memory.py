"""Memory anyone can fill (issue 9, section 2): the persisted-query store and the response cache
are bounded in bytes, whatever clients send, and expired answers are freed.

RSS is read from /proc with generous bounds; the stores' own gauges (`cgw_cache_bytes`,
`cgw_cache_entries` on /metrics) are held to their budgets exactly."""

from __future__ import annotations

import functools
import hashlib
import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from gateway.persisted import MAX_QUERY_BYTES
from gateway.settings import Settings
from tests.demo_server import DemoServer
from tests.gateway_server import Answer
from tests.serve_process import Served, serve

MIB = 1024 * 1024
TTL = 20  # long enough that, unbounded, the charts below would hold far more than the budget
DEFAULTS = Settings()


def patiently(send: Callable[[], Answer]) -> Answer:
    """The answer, waiting out the default rate limits (429 and Retry-After) when they apply."""
    while True:
        answer = send()
        if answer.status != 429:
            return answer
        time.sleep(float(answer.headers.get("Retry-After", "1")))


def gauges(served: Served) -> dict[str, float]:
    """`cgw_cache_bytes` and `cgw_cache_entries` by store, e.g. {"bytes responses": 12.0}."""
    text = patiently(lambda: served.http("GET", "/metrics")).body.decode()
    return {f"{what} {store}": float(value) for what, store, value in re.findall(
        r'^cgw_cache_(bytes|entries)\{store="(\w+)"\} (\S+)$', text, re.MULTILINE)}


def register(served: Served, query: str, key: str) -> int:
    digest = hashlib.sha256(query.encode()).hexdigest()
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    return patiently(lambda: served.post({"query": query, "extensions": extensions},
                                         key=key)).status


def known(served: Served, query: str) -> bool:
    digest = hashlib.sha256(query.encode()).hexdigest()
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    answer = patiently(lambda: served.post({"extensions": extensions}))
    return "PERSISTED_QUERY_NOT_FOUND" not in answer.body.decode()


def large_query(i: int, size: int) -> str:
    """A valid query of about `size` bytes: one field, and a long comment."""
    return "{ __typename }\n# " + f"{i:06d}" + "x" * size


def test_persisted_queries_from_fake_keys_stay_within_the_byte_budget(served: Served) -> None:
    rss_before = served.rss_kib()
    # 300 large valid queries, each under a key of its own (so that no rate limit applies)
    for i in range(300):
        assert register(served, large_query(i, 60_000), f"fake-key-{i}") == 200
    stored = gauges(served)
    assert 0 < stored["bytes persisted_queries"] <= DEFAULTS.persisted_max_bytes
    assert stored["entries persisted_queries"] < 300  # the oldest went
    assert known(served, large_query(299, 60_000)) and not known(served, large_query(0, 60_000))
    # a query longer than the per-entry cap is not kept (whether it is answered or refused)
    for i in range(40):
        huge = large_query(1000 + i, 900_000)
        assert len(huge) > MAX_QUERY_BYTES
        register(served, huge, f"fake-huge-{i}")
    assert not known(served, large_query(1039, 900_000))  # the last one sent
    assert gauges(served)["bytes persisted_queries"] <= DEFAULTS.persisted_max_bytes
    # Generous: the 8 MiB budget and the parser's passing use. Unbounded, 300 queries of 900 KB
    # took 294 MB, and these 54 MB of texts stayed.
    assert served.rss_kib() - rss_before < 100 * 1024


# What these tests measure is memory: the address's rate limit (which prices a new text and a
# large body, see test_rate_limits) would only make them wait.
NO_ADDRESS_LIMIT = {"COMET_GATEWAY_RATE_LIMIT_PER_SECOND": "0"}


@pytest.fixture(scope="module")
def served(demo_session: DemoServer) -> Iterator[Served]:
    """`serve` at its defaults but for the address's rate limit."""
    with serve(demo_session.url, env=NO_ADDRESS_LIMIT) as process:
        yield process


@pytest.fixture(scope="module")
def caching(demo_session: DemoServer) -> Iterator[Served]:
    """`serve` with the in-process cache on, and every answer cached for TTL seconds."""
    ttls = ",".join(f"{family}={TTL}" for family in DEFAULTS.ttls())
    with serve(demo_session.url, env={"COMET_GATEWAY_CACHE": "true",
                                      "COMET_GATEWAY_CACHE_TTLS": ttls,
                                      "COMET_GATEWAY_CACHE_TTL_ENDED": str(TTL),
                                      "COMET_GATEWAY_CACHE_TTL_RUNNING": str(TTL),
                                      "COMET_GATEWAY_CACHE_TTL_STATE": str(TTL),
                                      **NO_ADDRESS_LIMIT}) as process:
        yield process


def test_charts_with_junk_metric_names_stay_within_the_cache_budget(
        caching: Served, demo: DemoServer) -> None:
    rss_before = caching.rss_kib()
    for i in range(150):  # each answer (2 upstream charts of about 1.6 MB) is new entries
        query = ('{ project(workspace: "vision-lab", name: "image-classifier") { metricChart('
                 f'metrics: ["loss", "accuracy", "junk-{i}"], full: true) {{ experimentKey }} '
                 '} }')
        answer = patiently(functools.partial(caching.post, {"query": query},
                                             key=demo.keys["alice"]))
        assert answer.status == 200 and b'"errors"' not in answer.body
        if i % 25 == 24:
            assert gauges(caching)["bytes responses"] <= DEFAULTS.cache_max_bytes
    assert demo.counts()["POST experiments/multi-metric-chart"] == 300
    cached = gauges(caching)
    # One key's entries fill its share of the budget (COMET_GATEWAY_CACHE_KEY_SHARE), no more.
    share = DEFAULTS.cache_max_bytes * DEFAULTS.cache_key_share
    assert share / 2 < cached["bytes responses"] <= share
    # Generous: the 32 MiB budget and the requests' own passing use (about 150 MiB here with no
    # cache at all). Bounded by entries only, the cache took RSS up 650 MiB.
    assert caching.rss_kib() - rss_before < 300 * 1024
    time.sleep(TTL + 0.5)  # the entries go, though nobody looks them up
    assert gauges(caching) == {"bytes responses": 0, "entries responses": 0,
                               "bytes persisted_queries": 0, "entries persisted_queries": 0}


LARGE = """query Large($n: Int!) {
  project(workspace: "vision-lab", name: "image-classifier") {
    experiments(first: $n) { edges { node {
      key name startTime git { branch }
      metricsSummary { name valueCurrent valueMin valueMax }
      parameters { name valueCurrent } others { name valueCurrent }
      systemDetails { hostname gpus { name } }
  } } } } }"""


def test_many_upstream_calls_at_once_cost_a_bounded_peak(demo_session: DemoServer) -> None:
    """Four large answers of one key at once: 5 upstream calls per experiment, about 2,260 in
    all. Every call used to be begun as soon as it was asked for (its coroutines, tasks,
    futures, timer and URL: about 13 KB) while the key's window let a few hundred through;
    now a key's calls are begun as its window could send them (`upstream.admission`)."""
    key = demo_session.keys["alice"]
    unlimited = {**NO_ADDRESS_LIMIT, "COMET_GATEWAY_UPSTREAM_RATE_PER_KEY": "0"}
    with serve(demo_session.url, env=unlimited) as process:
        def large(n: int) -> int:
            answer = process.post({"query": LARGE, "variables": {"n": n}}, key=key, timeout=120)
            assert answer.status == 200 and b'"errors"' not in answer.body, answer.body[:300]
            return answer.body.count(b'"key"')

        for _ in range(3):  # warm, with the same query made small
            large(2)
        before = process.peak_rss_kib()
        with ThreadPoolExecutor(4) as pool:
            experiments = list(pool.map(large, [500] * 4))
        assert sum(experiments) > 400
        # Measured: +15 to +18 MiB; with every call begun at once, +24 MiB.
        assert process.peak_rss_kib() - before < 21 * 1024
