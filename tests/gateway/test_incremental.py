"""`@defer` over HTTP: answers in parts as `multipart/mixed`, in both formats clients speak,
with batching, error codes, the answer's bounds and the operation's deadline kept across the
parts, and a client that leaves mid-answer stopping the work and the upstream calls."""

from __future__ import annotations

import asyncio
import http.client
import json
import logging
import math
import urllib.parse
from collections.abc import AsyncIterator, Iterator
from typing import Any
from unittest.mock import ANY

import pytest
from graphql import InitialIncrementalExecutionResult
from graphql.execution import PendingResult

from gateway.incremental import Format, PartsResponse, Payloads
from gateway.negotiation import negotiate
from gateway.settings import Settings
from tests.demo_server import DemoServer
from tests.gateway.test_observability import sample
from tests.gateway_server import Answer, GatewayServer, start
from tests.graphql_ws import acked, subscribe
from tests.multipart import APOLLO, GRAPHIQL, merged, read_parts
from tests.polling import wait_for

BATCH = 25  # the test gateway's chart_batch_size
DASHBOARD = """query Dashboard($first: Int!) {
  project(workspace: "vision-lab", name: "image-classifier") {
    name
    experiments(first: $first) { edges { node {
      key name
      ... @defer(label: "series") {
        metricSeries(names: ["loss", "accuracy"]) { metricName steps values } }
    } } }
  }
}"""


def ask(server: GatewayServer, query: str, variables: dict[str, Any] | None = None,
        accept: str = APOLLO) -> Answer:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    return server.http("POST", "/graphql", body, {
        "Content-Type": "application/json", "Accept": accept,
        "Authorization": server.default_key or ""})


def parts_of(answer: Answer) -> list[dict[str, Any]]:
    assert answer.status == 200, answer.body[:300]
    return read_parts(answer.body, answer.headers["content-type"])


def nodes(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [edge["node"] for edge in data["project"]["experiments"]["edges"]]


def test_deferred_series_come_after_the_table_for_apollo(gateway: GatewayServer,
                                                         demo: DemoServer) -> None:
    whole = gateway.data(DASHBOARD.replace('... @defer(label: "series")', "..."),
                         {"first": 100})
    demo.clear_log()
    answer = ask(gateway, DASHBOARD, {"first": 100})
    assert answer.headers["content-type"] == \
        'multipart/mixed; boundary="-"; deferSpec=20220824'
    assert answer.headers["x-accel-buffering"] == "no"  # each part as it comes, through nginx
    assert answer.headers["cache-control"] == "private"
    parts = parts_of(answer)
    first, rest = parts[0], parts[1:]
    # The table first: every row, no series.
    assert set(first) == {"data", "hasNext"} and first["hasNext"] is True
    assert [set(node) for node in nodes(first["data"])] == [{"key", "name"}] * 100
    # Then every row's series, at its full path, with the label; the last part says so.
    entries = [entry for part in rest for entry in part["incremental"]]
    assert sorted(entry["path"][3] for entry in entries) == list(range(100))
    assert all(entry["path"] == ["project", "experiments", "edges", entry["path"][3], "node"]
               and entry["label"] == "series" and set(entry) == {"data", "path", "label"}
               for entry in entries)
    assert [part["hasNext"] for part in rest] == [True] * (len(rest) - 1) + [False]
    assert merged(parts) == {"data": whole}
    # Each batch of series is one chart call, as without @defer.
    assert demo.counts() == {"GET project": 1, "GET experiments": 1,
                             "POST experiments/multi-metric-chart": math.ceil(100 / BATCH)}


def test_the_current_format_for_a_bare_multipart_accept(gateway: GatewayServer,
                                                        demo: DemoServer) -> None:
    whole = gateway.data(DASHBOARD.replace('... @defer(label: "series")', "..."), {"first": 12})
    answer = ask(gateway, DASHBOARD, {"first": 12}, accept=GRAPHIQL)
    assert answer.headers["content-type"] == \
        'multipart/mixed; boundary="-"; incrementalSpec=v0.2'
    parts = parts_of(answer)
    first = parts[0]
    assert first["pending"] == [
        {"id": str(i), "path": ["project", "experiments", "edges", i, "node"], "label": "series"}
        for i in range(12)]
    entries = [entry for part in parts[1:] for entry in part.get("incremental", ())]
    completed = [entry["id"] for part in parts[1:] for entry in part.get("completed", ())]
    assert sorted(e["id"] for e in entries) == sorted(completed) == sorted(str(i) for i in
                                                                           range(12))
    assert all(set(e) == {"id", "data"} for e in entries)
    assert parts[-1]["hasNext"] is False and merged(parts) == {"data": whole}


def test_a_fragment_below_the_deferred_object_gets_its_full_path(gateway: GatewayServer
                                                                  ) -> None:
    # `experiments` is in the first part already: the deferred fragment's data lands below
    # it (graphql-core's `subPath`), which the 20220824 format spells as one full path.
    query = """{ project(workspace: "alice", name: "sandbox") { name
      experiments(first: 2) { totalCount }
      ... @defer { experiments(first: 2) { edges { node { key } } } } } }"""
    whole = gateway.data(query.replace("... @defer", "..."))
    apollo = parts_of(ask(gateway, query))
    entries = [e for part in apollo[1:] for e in part.get("incremental", ())]
    assert {tuple(e["path"]) for e in entries} == {("project", "experiments")}
    assert merged(apollo) == {"data": whole}
    current = parts_of(ask(gateway, query, accept="multipart/mixed"))
    assert any(e.get("subPath") == ["experiments"]
               for part in current[1:] for e in part.get("incremental", ()))
    assert merged(current) == {"data": whole}


@pytest.mark.parametrize("accept", ["application/json", "application/graphql-response+json",
                                    "multipart/mixed;q=0, application/json",
                                    "multipart/mixed;q=0.5, application/json",
                                    "multipart/mixed;deferSpec=20220824;q=0.8, */*",
                                    "multipart/mixed;subscriptionSpec=1.0,application/json"])
def test_without_a_multipart_accept_the_answer_is_whole(gateway: GatewayServer,
                                                        accept: str) -> None:
    whole = gateway.data(DASHBOARD.replace('... @defer(label: "series")', "..."), {"first": 5})
    answer = ask(gateway, DASHBOARD, {"first": 5}, accept=accept)
    assert answer.status == 200 and not answer.headers["content-type"].startswith("multipart")
    assert answer.json() == {"data": whole}


@pytest.mark.parametrize("query", [
    '{ project(workspace: "alice", name: "sandbox") { name } }  # no defer here',
    '{ project(workspace: "alice", name: "sandbox") { ... @defer(if: false) { name } } }',
    '{ project(workspace: "alice", name: "sandbox") { ... @defer { name } } } { nope }'])
def test_a_query_that_defers_nothing_is_answered_whole(gateway: GatewayServer,
                                                      query: str) -> None:
    answer = ask(gateway, query, accept=GRAPHIQL)
    assert answer.headers["content-type"] == "application/json"
    if "nope" in query:  # refused before execution
        assert answer.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    else:
        assert answer.json() == {"data": {"project": {"name": "sandbox"}}}


def test_a_batch_is_answered_whole(gateway: GatewayServer) -> None:
    whole = gateway.data(DASHBOARD.replace('... @defer(label: "series")', "..."), {"first": 3})
    operation = {"query": DASHBOARD, "variables": {"first": 3}}
    answer = gateway.http("POST", "/graphql", json.dumps([operation, operation]).encode(), {
        "Content-Type": "application/json", "Accept": APOLLO,
        "Authorization": gateway.default_key or ""})
    assert answer.status == 200 and answer.json() == [{"data": whole}, {"data": whole}]


def test_over_a_websocket_the_answer_is_whole(gateway: GatewayServer) -> None:
    """graphql-transport-ws has no message for a part: a query that defers gets its whole
    answer in one `next` (Strawberry's own handler refuses it)."""
    whole = gateway.data(DASHBOARD.replace('... @defer(label: "series")', "..."), {"first": 3})
    with acked(gateway.url, gateway.default_key) as ws:
        subscribe(ws, DASHBOARD, {"first": 3})
        messages = [json.loads(ws.recv(timeout=10)) for _ in range(2)]
    assert messages == [{"id": "1", "type": "next", "payload": {"data": whole}},
                        {"id": "1", "type": "complete"}]


def test_stream_is_not_offered(gateway: GatewayServer) -> None:
    answer = ask(gateway, """{ project(workspace: "alice", name: "sandbox") {
        experiments(first: 3) { edges @stream(initialCount: 1) { node { key } } } } }""")
    error = answer.json()["errors"][0]
    assert error["message"] == "Unknown directive '@stream'."
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


def test_a_fault_in_a_deferred_part_has_its_code_and_the_rest_arrives(
        gateway: GatewayServer, demo: DemoServer, caplog: pytest.LogCaptureFixture) -> None:
    demo.fault("experiments/multi-metric-chart", "garbage", count=1)
    with caplog.at_level(logging.INFO, logger="gateway.errors"):
        parts = parts_of(ask(gateway, DASHBOARD, {"first": 100}))
    assert "errors" not in parts[0] and parts[-1]["hasNext"] is False
    entries = [entry for part in parts[1:] for entry in part["incremental"]]
    failed = [entry for entry in entries if "errors" in entry]
    assert len(failed) == BATCH  # one chart call failed: its batch's series
    for entry in failed:
        assert entry["data"] == {"metricSeries": None}
        [error] = entry["errors"]
        assert error["extensions"]["code"] == "UPSTREAM_BAD_RESPONSE"
        assert error["extensions"]["upstream"]["endpoint"] == "multi_metric_chart"
        assert error["path"] == [*entry["path"], "metricSeries"]
    answer = merged(parts)["data"]
    assert sum(node["metricSeries"] is not None for node in nodes(answer)) == 100 - BATCH
    logged = [r for r in caplog.records if "UPSTREAM_BAD_RESPONSE" in r.getMessage()]
    assert len(logged) == BATCH  # each deferred error is logged, as any other


def test_the_operation_is_counted_with_every_part(gateway: GatewayServer,
                                                  demo: DemoServer) -> None:
    def count(outcome: str) -> float:
        text = gateway.http("GET", "/metrics").body.decode()
        return sample(text, "cgw_graphql_requests_total", operation="Dashboard",
                      outcome=outcome)

    before = count("partial"), count("ok")
    demo.fault("experiments/multi-metric-chart", "garbage", count=1)
    parts_of(ask(gateway, DASHBOARD, {"first": 30}))
    parts_of(ask(gateway, DASHBOARD, {"first": 30}))
    # The first one's errors came in a later part: it is partial all the same.
    assert (count("partial"), count("ok")) == (before[0] + 1, before[1] + 1)


@pytest.fixture(scope="module")
def bounded(demo_session: DemoServer) -> Iterator[GatewayServer]:
    """A gateway whose answers hold at most 50 objects in lists, and 10 deferred fragments."""
    server = start(Settings(upstream_url=demo_session.url, chart_batch_size=BATCH,
                            rate_limit_per_second=0, upstream_rate_per_key=0,
                            max_answer_objects=50, max_deferred=10),
                   default_key=demo_session.keys["alice"])
    yield server
    server.stop()


def test_the_answers_bound_counts_every_part(bounded: GatewayServer, demo: DemoServer) -> None:
    # 20 rows in the first part, then 2 series each: 60 objects in lists, past the 50.
    query = """{ project(workspace: "vision-lab", name: "image-classifier") {
      experiments(first: 20) { edges { node { key ... @defer {
        metricSeries(names: ["loss", "accuracy"]) { metricName } } } } } } }"""
    parts = parts_of(ask(bounded, query))
    assert "errors" not in parts[0] and len(nodes(parts[0]["data"])) == 20
    errors = merged(parts).get("errors", [])
    assert [e["extensions"]["code"] for e in errors] == ["QUERY_TOO_COMPLEX"]
    assert "more than 50 objects in lists" in errors[0]["message"]


def test_fragments_past_the_bound_come_in_the_first_part(bounded: GatewayServer,
                                                         demo: DemoServer) -> None:
    query = """{ project(workspace: "alice", name: "sandbox") {
      experiments(first: 12) { edges { node { key ... @defer { name } } } } } }"""
    parts = parts_of(ask(bounded, query))
    first = nodes(parts[0]["data"])
    assert sum("name" in node for node in first) == 2
    entries = [entry for part in parts[1:] for entry in part["incremental"]]
    assert len(entries) == 10  # the bound: the two past it came with the table
    assert merged(parts) == {"data": bounded.data(query.replace("... @defer", "..."))}


def test_many_deferred_fragments_cost_no_more_than_the_bound(gateway: GatewayServer,
                                                             demo: DemoServer) -> None:
    # 113 experiments × 10 deferred fragments: 1,130, past the default bound of 1,000.
    fragments = " ".join(f'... @defer(label: "f{i}") {{ k{i}: key }}' for i in range(10))
    query = f"""{{ project(workspace: "vision-lab", name: "image-classifier") {{
      experiments(first: 500) {{ edges {{ node {{ key {fragments} }} }} }} }} }}"""
    parts = parts_of(ask(gateway, query, accept="multipart/mixed"))
    assert len(parts[0]["pending"]) == Settings().max_deferred == 1000
    answer = merged(parts)["data"]
    assert all(node[f"k{i}"] == node["key"] for node in nodes(answer) for i in range(10))
    assert demo.counts() == {"GET project": 1, "GET experiments": 1}


@pytest.fixture(scope="module")
def hurried(demo_session: DemoServer) -> Iterator[GatewayServer]:
    """A gateway whose operations have one second for their upstream calls (each call may
    take five)."""
    server = start(Settings(upstream_url=demo_session.url, chart_batch_size=BATCH,
                            rate_limit_per_second=0, upstream_rate_per_key=0, timeout=5.0,
                            deadline=5.0, operation_deadline=1.0, backoff_base=0.01),
                   default_key=demo_session.keys["alice"])
    yield server
    server.stop()


def test_the_operations_deadline_covers_its_deferred_parts(hurried: GatewayServer,
                                                           demo: DemoServer) -> None:
    demo.fault("experiments/multi-metric-chart", "delay", delay=30)
    parts = parts_of(ask(hurried, DASHBOARD, {"first": 3}))
    assert "errors" not in parts[0] and len(nodes(parts[0]["data"])) == 3
    errors = merged(parts)["errors"]
    assert len(errors) == 3 and {e["extensions"]["code"] for e in errors} == {
        "QUERY_TOO_COMPLEX"}
    assert all("the operation's deadline passed" in e["message"] for e in errors)


def test_a_client_that_leaves_stops_the_work_and_its_upstream_calls(
        gateway: GatewayServer, demo: DemoServer) -> None:
    demo.fault("experiments/multi-metric-chart", "delay", delay=60)
    url = urllib.parse.urlsplit(gateway.url)
    connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=30)
    connection.request("POST", "/graphql", json.dumps({
        "query": DASHBOARD, "variables": {"first": 100}}), {
        "Content-Type": "application/json", "Accept": APOLLO,
        "Authorization": gateway.default_key or ""})
    response = connection.getresponse()
    received = b""
    while b'"hasNext":true}\r\n---' not in received:  # the first part, whole
        more = response.read1(65536)
        assert more, received[:300]
        received += more
    assert wait_for(lambda: len(chart_calls(demo)) == math.ceil(100 / BATCH))  # held
    connection.close()  # the client leaves
    wait_for(lambda: all(r["ended"] is not None for r in demo.requests()))
    demo.clear_faults()  # what the gateway still waits for is answered now
    assert wait_for(lambda: all(r["ended"] is not None for r in demo.requests()))
    # The gateway hung up on every chart call (the demo saw its client go: -1); none more.
    assert [r["status"] for r in chart_calls(demo)] == [-1] * math.ceil(100 / BATCH)
    assert len(demo.requests()) == 2 + math.ceil(100 / BATCH)


def chart_calls(demo: DemoServer) -> list[dict[str, Any]]:
    return [r for r in demo.requests() if r["endpoint"] == "experiments/multi-metric-chart"]


@pytest.mark.parametrize(("accept", "expected"), [
    (APOLLO, Format.DEFER_20220824),
    ("multipart/mixed; deferSpec=20220824, application/graphql-response+json, "
     "application/json;q=0.9", Format.DEFER_20220824),  # Apollo Client 3.9+, Apollo Kotlin
    ("multipart/mixed;incrementalSpec=v0.2,application/json", Format.INCREMENTAL_V02),
    (GRAPHIQL, Format.INCREMENTAL_V02),
    ('Multipart/Mixed; boundary="-"', Format.INCREMENTAL_V02),
    ("multipart/mixed;deferSpec=20990101", None),  # a spec not spoken
    ("multipart/mixed;boundary=graphql;subscriptionSpec=1.0,application/json", None),
    ("multipart/mixed;q=0", None), ("multipart/mixed;q=0.000", None),
    ("multipart/mixed;q=nope", None), ("multipart/mixed;q=0.5", Format.INCREMENTAL_V02),
    ("*/*", None), ("application/json", None), (None, None),
    # Ranked by quality: a whole answer the client prefers is what it gets
    ("multipart/mixed;q=0.5, application/json", None),
    ("multipart/mixed;q=0.5, application/*", None),
    ("multipart/mixed;q=0.5, application/graphql-response+json", None),
    ("multipart/mixed;q=0.5, application/json;q=0.4", Format.INCREMENTAL_V02),
    ("multipart/mixed;q=0.5, application/json;q=0, */*", Format.INCREMENTAL_V02),
    ("multipart/mixed, application/json", Format.INCREMENTAL_V02),  # a tie: parts
    ("multipart/mixed;q=0.3, multipart/mixed;deferSpec=20220824;q=0.6, application/json;q=0.5",
     Format.DEFER_20220824),
    ("multipart/mixed;deferSpec=20220824;q=0.6, multipart/mixed;q=0.6", Format.DEFER_20220824),
    ("multipart/mixed;q=1.5", None), ("multipart/mixed;q=nan", None),
])
def test_the_accept_header_picks_the_format(accept: str | None,
                                            expected: Format | None) -> None:
    assert negotiate(accept).parts is expected


@pytest.mark.parametrize(("accept", "expected"), [
    ("application/graphql-response+json, application/json;q=0.9", True),
    ("application/graphql-response+json, application/json", True),  # a tie: the richer one
    ("application/json, application/graphql-response+json", True),
    ("application/graphql-response+json;q=0.5, application/json", False),
    ("application/graphql-response+json;q=0.5, */*", False),
    ("application/graphql-response+json;q=0.5, application/json;q=0, */*", True),
    ("application/graphql-response+json;q=0", False), ("*/*", False), (None, False),
    ("application/graphql-response+json;q=0.5, text/html", True),
])
def test_the_accept_header_picks_the_whole_answers_type(accept: str | None,
                                                        expected: bool) -> None:
    assert negotiate(accept).graphql_response is expected


class FailingParts:
    """Parts whose second never comes: what graphql-core failing mid-answer looks like."""

    def __init__(self) -> None:
        self.first = InitialIncrementalExecutionResult(
            {"project": {"name": "sandbox"}}, pending=[PendingResult("0", ["project"])],
            has_next=True)
        self.closed = False

    async def rest(self) -> AsyncIterator[Any]:
        raise RuntimeError("the publisher broke")
        yield  # an async generator

    async def close(self) -> None:
        self.closed = True


@pytest.mark.parametrize(("answer_format", "last"), [
    (Format.INCREMENTAL_V02, {"completed": [{"id": "0", "errors": [ANY]}], "hasNext": False}),
    (Format.DEFER_20220824, {"incremental": [{"data": None, "path": ["project"],
                                              "errors": [ANY]}], "hasNext": False})])
async def test_a_failure_mid_answer_ends_it_with_an_internal_error(
        answer_format: Format, last: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    """Not reachable from a client (graphql-core would have to fail), so driven directly: the
    parts still pending complete with INTERNAL and the request's id, the body is closed, the
    log says so without a traceback, and the operation ends."""
    parts, sent, ended = FailingParts(), [], []

    async def receive() -> dict[str, Any]:
        await asyncio.Event().wait()  # the client stays
        return {}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def on_close(delivered: bool) -> None:
        ended.append(delivered)

    response = PartsResponse(Payloads(parts, answer_format), [], on_close)  # type: ignore[arg-type]
    with caplog.at_level(logging.ERROR, logger="gateway.errors"):
        await response({"type": "http", "state": {"request_id": "req-7"}}, receive, send)
    body = b"".join(m.get("body", b"") for m in sent)
    payloads = read_parts(body, answer_format.content_type)
    assert payloads[-1] == last
    error = (payloads[-1].get("completed") or payloads[-1]["incremental"])[0]["errors"][0]
    assert error["extensions"] == {"code": "INTERNAL", "requestId": "req-7"}
    assert parts.closed and ended == [False]
    assert "request req-7: its answer in parts stopped: RuntimeError" in caplog.text
    assert "Traceback" not in caplog.text
