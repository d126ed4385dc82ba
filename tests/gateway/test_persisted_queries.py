"""Automatic persisted queries (Apollo's protocol), over POST and GET, in memory and Redis."""

from __future__ import annotations

import hashlib
import json
import urllib.parse
from collections.abc import Iterator

import pytest

from gateway.settings import Settings
from tests.demo_server import DemoServer
from tests.gateway_server import GatewayServer, start

QUERY = '{ workspace(name: "alice") { name registryModelCount } }'
HASH = hashlib.sha256(QUERY.encode()).hexdigest()
EXTENSIONS = {"persistedQuery": {"version": 1, "sha256Hash": HASH}}


@pytest.fixture(params=["memory", "redis"])
def apq(request: pytest.FixtureRequest, demo: DemoServer) -> Iterator[GatewayServer]:
    redis = request.getfixturevalue("redis_url") if request.param == "redis" else None
    if redis:
        from tests.gateway.test_cache import flush

        flush(redis)
    server = start(Settings(upstream_url=demo.url, redis_url=redis, rate_limit_per_second=0),
                   default_key=demo.keys["alice"])
    yield server
    server.stop()


def post(server: GatewayServer, payload: dict[str, object]) -> tuple[int, dict[str, object]]:
    answer = server.http("POST", "/graphql", json.dumps(payload).encode(),
                         {"Content-Type": "application/json",
                          "Authorization": server.default_key or ""})
    return answer.status, answer.json()


def get(server: GatewayServer, params: dict[str, str]) -> tuple[int, dict[str, object]]:
    answer = server.http("GET", "/graphql?" + urllib.parse.urlencode(params),
                         headers={"Authorization": server.default_key or "",
                                  "Accept": "application/json"})
    return answer.status, answer.json()


EXPECTED = {"data": {"workspace": {"name": "alice", "registryModelCount": 0}}}


def test_the_protocol_over_post_and_get(apq: GatewayServer, demo: DemoServer) -> None:
    status, unknown = post(apq, {"extensions": EXTENSIONS})
    assert status == 200 and unknown["errors"][0]["extensions"]["code"] == \
        "PERSISTED_QUERY_NOT_FOUND"  # type: ignore[index]
    assert unknown["errors"][0]["message"] == "PersistedQueryNotFound"  # type: ignore[index]
    assert demo.counts() == {}
    assert post(apq, {"query": QUERY, "extensions": EXTENSIONS}) == (200, EXPECTED)
    assert post(apq, {"extensions": EXTENSIONS}) == (200, EXPECTED)
    assert get(apq, {"extensions": json.dumps(EXTENSIONS)}) == (200, EXPECTED)


def test_a_wrong_hash_is_refused(apq: GatewayServer, demo: DemoServer) -> None:
    wrong = {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}
    status, answer = post(apq, {"query": QUERY, "extensions": wrong})
    assert status == 400 and answer["errors"][0]["extensions"]["code"] == \
        "BAD_USER_INPUT"  # type: ignore[index]
    assert demo.counts() == {}


def test_two_gateways_share_persisted_queries_through_redis(demo: DemoServer,
                                                            redis_url: str) -> None:
    settings = Settings(upstream_url=demo.url, redis_url=redis_url, rate_limit_per_second=0)
    one = start(settings, default_key=demo.keys["alice"])
    two = start(settings, default_key=demo.keys["alice"])
    try:
        query = '{ viewer { userName } }'
        digest = hashlib.sha256(query.encode()).hexdigest()
        ext = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
        assert post(one, {"query": query, "extensions": ext})[0] == 200
        assert post(two, {"extensions": ext}) == (200, {"data": {"viewer": {"userName":
                                                                             "alice"}}})
    finally:
        one.stop()
        two.stop()
