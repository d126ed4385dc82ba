"""Fuzzing: valid queries generated from the schema, against the demo, over HTTP.

No answer may be INTERNAL, none may be a 5xx, none may hang. The default run tries
FUZZ_EXAMPLES queries (environment variable; 1,000 unless set).
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis_graphql import queries

from gateway.schema import sdl
from gateway.settings import Settings
from tests.demo_server import DemoServer
from tests.gateway_server import GatewayServer, start

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "1000"))
SEEN: Counter[str] = Counter()


@pytest.fixture(scope="module")
def target(demo_session: DemoServer) -> Iterator[GatewayServer]:
    demo_session.reset()
    server = start(Settings(upstream_url=demo_session.url, rate_limit_per_second=0,
                            upstream_budget=150, operation_deadline=5.0, timeout=2.0),
                   default_key=demo_session.keys["alice"])
    yield server
    server.stop()


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(query=queries(sdl()))
def test_generated_queries_never_fail_inside(target: GatewayServer, query: str) -> None:
    started = time.monotonic()
    body = __import__("json").dumps({"query": query}).encode()
    answer = target.http("POST", "/graphql", body,
                         {"Content-Type": "application/json",
                          "Authorization": target.default_key or ""})
    elapsed = time.monotonic() - started
    assert answer.status == 200, (answer.status, query)
    assert elapsed < 10, (elapsed, query)
    result = answer.json()
    for error in result.get("errors", []):
        code = error["extensions"]["code"]
        SEEN[code] += 1
        assert code != "INTERNAL", (error, query)
    SEEN["queries"] += 1


def test_the_fuzzer_ran() -> None:
    assert SEEN["queries"] >= min(EXAMPLES, 100), SEEN
