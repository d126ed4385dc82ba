"""Fuzzing: valid queries generated from the schema, against the demo, over HTTP.

No answer may be INTERNAL, none may be a 5xx, none may hang (past the client's timeout). The
default run tries FUZZ_EXAMPLES queries (environment variable; 1,000 unless set).
"""

from __future__ import annotations

import json
import os
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


@pytest.fixture(scope="module")
def target(demo_session: DemoServer) -> Iterator[GatewayServer]:
    demo_session.reset()
    server = start(Settings(upstream_url=demo_session.url, rate_limit_per_second=0,
                            upstream_rate_per_key=0, upstream_budget=150,
                            operation_deadline=5.0, timeout=2.0),
                   default_key=demo_session.keys["alice"])
    yield server
    server.stop()


def test_generated_queries_never_fail_inside(target: GatewayServer) -> None:
    seen: Counter[str] = Counter()

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(query=queries(sdl()))
    def one(query: str) -> None:
        body = json.dumps({"query": query}).encode()
        answer = target.http("POST", "/graphql", body,
                             {"Content-Type": "application/json",
                              "Authorization": target.default_key or ""})
        assert answer.status == 200, (answer.status, query)
        for error in answer.json().get("errors", []):
            code = error["extensions"]["code"]
            seen[code] += 1
            assert code != "INTERNAL", (error, query)
        seen["queries"] += 1

    one()
    # The fuzzer ran (hypothesis may stop early only when it has seen every distinct query).
    assert seen["queries"] >= min(EXAMPLES, 100), seen
