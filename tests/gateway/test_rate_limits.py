"""Rate limits: requests per client address, upstream calls per key, and each operation over a
websocket admitted, budgeted and batched as an HTTP request is."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import pytest

from gateway.rate_limits import TokenBuckets
from gateway.settings import Settings
from tests.demo_server import DemoServer
from tests.gateway_server import GatewayServer, start


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_token_buckets_refill_and_charge_below_zero() -> None:
    clock = Clock()
    buckets = TokenBuckets(2.0, 3, floor=-10, clock=clock)
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == pytest.approx(0.5)  # 1 token at 2 a second
    assert buckets.take("b") == 0.0  # names are apart
    clock.now += 0.5
    assert buckets.wait("a") == 0.0 and buckets.take("a") == 0.0
    assert not buckets.charge("a", 50)  # past the floor: nothing taken
    assert buckets.charge("a", 50, partly=True)  # a cost paid as far as the floor allows
    assert buckets.wait("a") == pytest.approx(11 / 2)
    assert not buckets.charge("a")  # at the floor: a call is refused
    clock.now += 100
    assert buckets.wait("a") == 0.0 and buckets.take("a") == 0.0


def test_token_buckets_forget_the_idlest_past_their_size() -> None:
    clock = Clock()
    buckets = TokenBuckets(1.0, 1, clock=clock, max_names=10)
    for i in range(11):
        clock.now += 1
        buckets.take(f"k{i}")
    assert len(buckets) == 6 and buckets.wait("k10") > 0


def post(server: GatewayServer, query: str, authorization: str | None) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if authorization is not None:
        headers["Authorization"] = authorization
    answer = server.http("POST", "/graphql", json.dumps({"query": query}).encode(), headers)
    return answer.status, answer.json()


@pytest.fixture
def strict(demo: DemoServer) -> Iterator[GatewayServer]:
    server = start(Settings(upstream_url=demo.url, rate_limit_per_second=0.001,
                            rate_limit_burst=3, upstream_rate_per_key=0))
    yield server
    server.stop()


def test_requests_are_limited_per_address_however_the_key_is_written(
        strict: GatewayServer, demo: DemoServer) -> None:
    alice = demo.keys["alice"]
    assert [post(strict, "{ __typename }", alice)[0] for _ in range(3)] == [200] * 3
    # Another key, the same key spelled otherwise, an invented key, none: the same address.
    for authorization in (demo.keys["bob"], f"Bearer   {alice}", f"bearer {alice}  ",
                          "invented", None):
        status, body = post(strict, "{ __typename }", authorization)
        assert status == 429, authorization
        assert body["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    answer = strict.http("GET", "/healthz")
    assert answer.status == 200  # health checks are never limited


@pytest.fixture
def metered(demo: DemoServer) -> Iterator[GatewayServer]:
    # No cache: every call below goes upstream, and the bucket counts them.
    server = start(Settings(upstream_url=demo.url, rate_limit_per_second=0,
                            upstream_rate_per_key=0.01, upstream_burst_per_key=4, cache=False))
    yield server
    server.stop()


def test_upstream_calls_are_limited_per_key(metered: GatewayServer, demo: DemoServer) -> None:
    alice, bob = demo.keys["alice"], demo.keys["bob"]
    two_calls = "{ viewer { userName } workspaces { name } }"
    assert post(metered, two_calls, alice)[0] == 200
    # 2 tokens left; this one makes 3 calls, which it may: the bucket goes below zero.
    three_calls = ('{ viewer { userName } workspaces { name } '
                   'workspace(name: "vision-lab") { registryModelCount } }')
    status, body = post(metered, three_calls, alice)
    assert status == 200 and "errors" not in body
    assert demo.counts() == {"GET account-details": 2, "GET workspaces": 2,
                             "GET registry-model/count": 1}
    for authorization in (alice, f"Bearer {alice}"):
        status, body = post(metered, "{ __typename }", authorization)
        assert status == 429 and "upstream" in body["errors"][0]["message"]
    assert post(metered, two_calls, bob)[0] == 200  # another key has its own bucket
    # A request without a key costs no upstream call, so no key's bucket limits it.
    assert post(metered, "{ __typename }", None) == (200, {"data": {"__typename": "Query"}})


class Websocket:
    """One graphql-transport-ws connection; `run` sends one operation and waits for its end."""

    def __init__(self, server: GatewayServer, key: str) -> None:
        from websockets.sync.client import connect

        self._stack = contextlib.ExitStack()
        self.ws = self._stack.enter_context(connect(
            server.url.replace("http", "ws") + "/graphql",
            subprotocols=["graphql-transport-ws"], open_timeout=10))
        self.ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": key}}))
        assert json.loads(self.ws.recv(timeout=10))["type"] == "connection_ack"
        self.sent = 0

    def run(self, query: str) -> list[dict[str, Any]]:
        self.sent += 1
        self.ws.send(json.dumps({"id": str(self.sent), "type": "subscribe",
                                 "payload": {"query": query}}))
        messages = [json.loads(self.ws.recv(timeout=20))]
        while messages[-1]["type"] not in ("error", "complete"):
            messages.append(json.loads(self.ws.recv(timeout=20)))
        return messages

    def close(self) -> None:
        self._stack.close()


def ws_operations(server: GatewayServer, key: str, queries: list[str]) -> list[list[dict]]:
    """Each query as one operation over one connection, in turn: the messages each got."""
    ws = Websocket(server, key)
    try:
        return [ws.run(query) for query in queries]
    finally:
        ws.close()


def test_operations_over_a_websocket_are_rate_limited(strict: GatewayServer,
                                                       demo: DemoServer) -> None:
    # The handshake takes the first of the 3 tokens.
    answers = ws_operations(strict, demo.keys["alice"], ["{ __typename }"] * 4)
    assert [m[0]["type"] for m in answers] == ["next", "next", "error", "error"]
    assert answers[2][0]["payload"][0]["extensions"]["code"] == "RATE_LIMITED"


def test_each_websocket_operation_has_its_own_budget_and_loaders(demo: DemoServer) -> None:
    key = demo.keys["alice"]
    # No cache, which keeps an ended experiment's summary: what an operation reads is its own
    # loaders' (and the upstream's), never an earlier operation's.
    server = start(Settings(upstream_url=demo.url, rate_limit_per_second=0,
                            upstream_rate_per_key=0, upstream_budget=3, cache=False))
    ws = Websocket(server, key)
    try:
        from demo_upstream.world import World

        project = World().project_by_name("alice", "sandbox")
        assert project is not None
        target = World().headers(project)[0].key
        query = (f'{{ experiment(key: "{target}") {{ metricSummary(name: "loss") '
                 "{ valueCurrent } tags } }")
        first = ws.run(query)[0]["payload"]
        demo.log_metric(target, "loss", [0.125])
        second = ws.run(query)[0]["payload"]
        # Three calls an operation, each within its own budget of three: no QUERY_TOO_COMPLEX,
        # and the second sees what was logged since the first.
        assert "errors" not in first and "errors" not in second, second
        before = first["data"]["experiment"]["metricSummary"]["valueCurrent"]
        after = second["data"]["experiment"]["metricSummary"]["valueCurrent"]
        assert before != after and after == 0.125
    finally:
        ws.close()
        server.stop()


def test_a_websocket_operation_has_a_deadline(demo: DemoServer) -> None:
    # No cache: the handshake's check of the key would fill it with what the operation asks.
    server = start(Settings(upstream_url=demo.url, rate_limit_per_second=0,
                            upstream_rate_per_key=0, operation_deadline=0.5, timeout=10,
                            deadline=20, cache=False))
    try:
        demo.latency(3000)
        answers = ws_operations(server, demo.keys["alice"], ["{ viewer { userName } }"])
        errors = answers[0][0]["payload"]["errors"]
        assert errors[0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
        assert "deadline" in errors[0]["message"]
    finally:
        demo.latency(0)
        server.stop()


def test_introspection_answers_are_kept_and_a_new_one_costs_more(demo: DemoServer) -> None:
    from graphql import get_introspection_query

    server = start(Settings(upstream_url=demo.url, rate_limit_per_second=0.001,
                            rate_limit_burst=25))
    try:
        answers = server.server.config.app.state.introspection  # type: ignore[attr-defined]
        query = get_introspection_query(descriptions=True)
        first = post(server, query, None)
        again = post(server, query, None)
        assert first == again and first[0] == 200 and "errors" not in first[1]
        assert (answers.computed, answers.served) == (1, 1)
        # 25 tokens: 2 requests and one new answer (10) spent 12; another new one (1 + 10)
        # leaves 2, a `{ __typename }` (not an introspection to keep) 1, a third new one 0.
        assert post(server, "# another text\n" + query, None)[0] == 200
        assert post(server, "{ __typename }", None)[0] == 200
        status, body = post(server, "{ __type(name: \"Project\") { name } }", None)
        assert status == 200 and body["data"]["__type"] == {"name": "Project"}
        assert answers.computed == 3
        assert post(server, "{ __typename }", None)[0] == 429
    finally:
        server.stop()


def test_an_ipv6_client_counts_by_its_64() -> None:
    from gateway.rate_limits import client_address

    one = client_address({"client": ("2001:db8:1:2::1", 1)})
    assert one == client_address({"client": ("2001:db8:1:2:ffff::9", 2)}) == "2001:db8:1:2::/64"
    assert client_address({"client": ("2001:db8:1:3::1", 1)}) != one
    assert client_address({"client": ("10.0.0.1", 1)}) == "10.0.0.1"
    assert client_address({}) == "?"


def test_work_already_running_stops_at_the_keys_floor(demo: DemoServer) -> None:
    """Parallel requests are each admitted while the key's bucket is above zero; what they
    then make may take it below zero by one budget, not more: the calls past that fail with
    RATE_LIMITED instead of being sent (before, 8 such requests made 14,863 calls)."""
    import asyncio

    import aiohttp

    server = start(Settings(upstream_url=demo.url, rate_limit_per_second=0,
                            upstream_rate_per_key=0.01, upstream_burst_per_key=10,
                            upstream_budget=30))
    from gateway.schema.pagination import encode_cursor

    key = demo.keys["alice"]
    query = ('query($after: String) { project(workspace: "vision-lab", name: "image-classifier")'
             " { experiments(first: 14, after: $after) { edges { node { tags } } } } }")

    async def together() -> list[dict[str, Any]]:
        # Each asks for other experiments: no call is shared with another request's.
        async with aiohttp.ClientSession() as session:
            async def one(page: int) -> dict[str, Any]:
                body = {"query": query, "variables": {"after": encode_cursor(page * 14)}}
                async with session.post(f"{server.url}/graphql", json=body,
                                        headers={"Authorization": key}) as answer:
                    return dict(await answer.json())

            return list(await asyncio.gather(*(one(page) for page in range(8))))

    try:
        answers = asyncio.run(together())
    finally:
        server.stop()
    codes = {e["extensions"]["code"] for a in answers for e in a.get("errors", [])}
    assert "RATE_LIMITED" in codes
    # The burst (10), one budget below zero (30), and the few admitted at once may race.
    assert sum(demo.counts().values()) <= 10 + 30 + 8, demo.counts()
