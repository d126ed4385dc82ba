"""Live metrics over graphql-transport-ws, with the graphql-ws npm client: only new points,
and one upstream chart call per interval for every subscriber of the same feed."""

from __future__ import annotations

import contextlib
import itertools
import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import ClientConnection

from demo_upstream.world import World
from gateway.settings import Settings
from tests.demo_server import DemoServer
from tests.gateway_server import GatewayServer
from tests.graphql_ws import acked
from tests.graphql_ws import subscribe as subscribe_to

JS = Path(__file__).resolve().parents[1] / "js"
WORLD = World()
PROJECT = WORLD.project_by_name("alice", "sandbox")
assert PROJECT is not None
KEYS = [h.key for h in WORLD.headers(PROJECT)][:2]


def test_two_subscribers_share_one_poll_and_get_only_new_points(
        gateway: GatewayServer, demo: DemoServer) -> None:
    if shutil.which("node") is None:
        pytest.fail("node is needed for the graphql-ws client")
    before = {k: len(WORLD.experiment(k).metrics["loss"].points) for k in KEYS}  # type: ignore
    with subprocess.Popen(
            ["node", str(JS / "subscribe.mjs"), f"{gateway.url}/graphql",
             gateway.default_key or "", json.dumps(KEYS), "loss", "2", "6000", "1"],
            cwd=JS, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as node:
        assert node.stdout is not None
        assert node.stdout.readline().strip() == "connected 2"
        time.sleep(1.5)  # the first poll sets the baseline
        first = demo.log_metric(KEYS[0], "loss", [0.05, 0.04, 0.03])
        time.sleep(1.6)
        second = demo.log_metric(KEYS[1], "loss", [0.5])
        time.sleep(1.6)
        polls = sorted(r["at"] for r in demo.requests()
                       if r["endpoint"] == "experiments/multi-metric-chart")
        out, err = node.communicate(timeout=30)
    clients = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert len(clients) == 2, err
    for client in clients:
        assert client["errors"] == []
        got = {(u["experimentKey"], s) for u in client["updates"] for s in u["steps"]}
        assert got == {(KEYS[0], s) for s in first} | {(KEYS[1], s) for s in second}
        assert all(u["metricName"] == "loss" and u["experiment"]["id"] == u["experimentKey"]
                   for u in client["updates"])
    assert first[0] == before[KEYS[0]] + 1  # new steps follow the logged ones
    # One poll a second for both subscribers together: a poller sleeps its interval after
    # each poll, so its calls are always a second apart; two feeds would poll in pairs.
    gaps = [b - a for a, b in itertools.pairwise(polls)]
    assert len(polls) >= 3 and min(gaps) >= 0.9, polls


def subscribe(gateway: GatewayServer, key: str | None, variables: dict[str, object]
              ) -> list[dict[str, object]]:
    """One graphql-transport-ws subscription; the messages up to its end."""
    query = ("subscription($k: [ID!]!, $m: [String!]!, $i: Int) { metricUpdates("
             "experimentKeys: $k, metrics: $m, intervalSeconds: $i) { metricName } }")
    with acked(gateway.url, key) as ws:
        subscribe_to(ws, query, variables)
        messages = []
        while not messages or messages[-1]["type"] not in ("error", "complete"):
            messages.append(json.loads(ws.recv(timeout=10)))
    return messages


def codes_of(messages: list[dict[str, object]]) -> list[str]:
    out = []
    for m in messages:
        payload = m.get("payload")
        errors = payload if isinstance(payload, list) else (payload or {}).get("errors", [])
        out += [e["extensions"]["code"] for e in errors]  # type: ignore[index,union-attr]
    return out


@pytest.mark.parametrize("variables", [
    {"k": [], "m": ["loss"]}, {"k": KEYS, "m": []}, {"k": KEYS, "m": ["loss"], "i": 0}])
def test_bad_subscription_arguments(gateway: GatewayServer, demo: DemoServer,
                                    variables: dict[str, object]) -> None:
    messages = subscribe(gateway, gateway.default_key, variables)
    assert codes_of(messages) == ["BAD_USER_INPUT"]
    # refused before any poll (the key itself may have been checked: account-details)
    assert set(demo.counts()) <= {"GET account-details"}


def test_a_websocket_without_a_key_is_closed_after_connection_init(
        gateway: GatewayServer, demo: DemoServer) -> None:
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    url = gateway.url.replace("http", "ws") + "/graphql"
    with connect(url, subprotocols=["graphql-transport-ws"], open_timeout=10) as ws:
        ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    assert demo.counts() == {}


def test_subscriptions_are_refused_over_plain_http(gateway: GatewayServer) -> None:
    result = gateway.post("subscription { metricUpdates(experimentKeys: [\"x\"], "
                          "metrics: [\"loss\"]) { metricName } }")
    assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "websocket" in result["errors"][0]["message"]


@contextlib.contextmanager
def loss_updates(server: GatewayServer, demo: DemoServer, fields: str
                 ) -> Iterator[ClientConnection]:
    """A subscription of alice's to one experiment's loss (`fields` of each update), every
    second, over graphql-transport-ws: its connection."""
    query = ("subscription($k: [ID!]!) { metricUpdates(experimentKeys: $k, metrics: [\"loss\"],"
             f" intervalSeconds: 1) {{ {fields} }} }}")
    with acked(server.url, demo.keys["alice"]) as ws:
        subscribe_to(ws, query, {"k": KEYS[:1]})
        yield ws


def first_update_after_a_point(settings: Settings, demo: DemoServer, fields: str,
                               wait: float, value: float) -> tuple[list[int], dict[str, Any]]:
    """A gateway with `settings`; a subscription to one experiment's loss (`fields` of each
    update) over graphql-transport-ws; after `wait` seconds a point logged: its steps, and the
    first message that came after it."""
    from tests.gateway_server import start

    server = start(settings, default_key=demo.keys["alice"])
    try:
        with loss_updates(server, demo, fields) as ws:
            time.sleep(wait)
            steps = demo.log_metric(KEYS[0], "loss", [value])
            return steps, json.loads(ws.recv(timeout=10))
    finally:
        server.stop()


def test_updates_never_come_from_the_response_cache(demo: DemoServer) -> None:
    """With the cache on and charts kept ten minutes, a point logged after the subscription
    started still arrives at the next poll (before, the poll was answered from the cache)."""
    ttls = ",".join(f"{family}=600" for family in Settings().ttls())
    steps, update = first_update_after_a_point(
        Settings(upstream_url=demo.url, cache=True, cache_ttls=ttls, rate_limit_per_second=0),
        demo, "experimentKey steps", 1.5, 0.01)  # the first poll fills the cache
    assert update["type"] == "next", update
    assert update["payload"]["data"]["metricUpdates"] == {"experimentKey": KEYS[0],
                                                          "steps": steps}


def test_an_update_past_the_operation_deadline_still_resolves_its_fields(
        demo: DemoServer) -> None:
    """Each poll's updates are an operation of their own for what their fields fetch: a
    subscription older than the operation deadline still gets its experiment's name."""
    steps, update = first_update_after_a_point(
        Settings(upstream_url=demo.url, rate_limit_per_second=0, operation_deadline=1.0),
        demo, "steps experiment { name }", 2.5, 0.02)  # past the 1 s deadline
    assert update["type"] == "next" and "errors" not in update["payload"], update
    data = update["payload"]["data"]["metricUpdates"]
    assert data["steps"] == steps and data["experiment"]["name"]


def test_each_update_has_its_own_budget_of_series_points(demo: DemoServer) -> None:
    """A view of a series in each update (`points`) reads the whole series each time: the
    bound on points read is each update's, as its calls' budget is, not the subscription's."""
    from tests.gateway_server import start

    # The cache off: with it, a running experiment's series may be 5 s old (as documented),
    # and this test compares them with the update's step.
    server = start(Settings(upstream_url=demo.url, rate_limit_per_second=0, cache=False,
                            max_series_points=1_000), default_key=demo.keys["alice"])
    updates = []
    try:
        with loss_updates(server, demo, 'steps experiment { metricSeries(names: ["loss"], '
                          "points: 5) { steps } }") as ws:
            time.sleep(1.5)  # the first poll sets the baseline
            for value in (0.02, 0.01, 0.005):
                steps = demo.log_metric(KEYS[0], "loss", [value])
                updates.append((steps, json.loads(ws.recv(timeout=10))))
    finally:
        server.stop()
    for steps, update in updates:
        assert update["type"] == "next" and "errors" not in update["payload"], update
        data = update["payload"]["data"]["metricUpdates"]
        assert data["steps"] == steps
        shown = data["experiment"]["metricSeries"][0]["steps"]
        assert len(shown) == 5 and shown[-1] == steps[-1]


CHART = "experiments/multi-metric-chart"


def chart_answers(demo: DemoServer) -> int:
    """Chart calls the demo has answered (a poll's baseline is set once its call is)."""
    return sum(1 for r in demo.requests() if r["endpoint"] == CHART and r.get("status"))


def wait_for_chart_answers(demo: DemoServer, count: int) -> None:
    """Until the demo has answered `count` chart calls (events in order, not a time)."""
    for _ in range(1000):
        if chart_answers(demo) >= count:
            return
        time.sleep(0.02)
    pytest.fail(f"the demo answered {chart_answers(demo)} chart calls, not {count}")


def test_a_metric_first_logged_after_the_baseline_is_pushed() -> None:
    """A running experiment that logs a metric it had no point of when the subscriber joined:
    its first points are new too (the poller took "no last step" for "not new")."""
    from tests.demo_server import start as start_demo
    from tests.gateway_server import start

    demo = start_demo()  # its own: the new metric stays out of the shared demo
    gateway = start(Settings(upstream_url=demo.url, rate_limit_per_second=0),
                    default_key=demo.keys["alice"])
    key = KEYS[0]
    try:
        with acked(gateway.url, gateway.default_key) as ws:
            subscribe_to(ws, "subscription($k: [ID!]!) { metricUpdates(experimentKeys: $k, "
                         "metrics: [\"loss\", \"first_seen\"], intervalSeconds: 1) { "
                         "experimentKey metricName steps values } }", {"k": [key]})
            wait_for_chart_answers(demo, 1)  # the first poll's baseline: no first_seen yet
            steps = demo.log_metric(key, "first_seen", [0.5, 0.25])
            message = json.loads(ws.recv(timeout=10))
    finally:
        gateway.stop()
        demo.stop()
    assert message["type"] == "next", message
    assert message["payload"]["data"]["metricUpdates"] == {
        "experimentKey": key, "metricName": "first_seen", "steps": steps, "values": [0.5, 0.25]}
