"""Client mistakes and odd upstream values against `serve` at its defaults: each gets its own
code (BAD_USER_INPUT, UNAUTHENTICATED) or the upstream's, never INTERNAL, never an ERROR line
in the log, and costs no upstream call it should not. Also the GraphQL-over-HTTP status codes
and the bounds of the lists that fan out upstream (metricChart, metricSeries, filters)."""

from __future__ import annotations

import json
import re
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests.demo_server import DemoServer
from tests.demo_server import start as start_demo
from tests.gateway_server import Answer
from tests.serve_process import Served, serve

Q_KEY = "query($k: ID!) { experiment(key: $k) { name } }"
RESPONSE_JSON = "application/graphql-response+json"


# --- helpers -------------------------------------------------------------------------------------
def answered(served: Served, method: str, path: str, body: bytes | None = None,
             headers: dict[str, str] | None = None) -> Answer:
    """One request, waiting out the default rate limit (every test comes from 127.0.0.1)."""
    for _ in range(30):
        answer = served.http(method, path, body, headers)
        if answer.status != 429:
            return answer
        time.sleep(float(answer.headers.get("Retry-After", "1")))
    raise AssertionError("still rate limited")


def opened(served: Served, protocol: str = "graphql-transport-ws",
           headers: dict[str, str] | None = None) -> ClientConnection:
    """A websocket to the gateway, waiting out the default rate limit as `answered` does (a
    handshake takes a token too, and the fuzzing before may have taken them all)."""
    for _ in range(30):
        try:
            return connect(ws_url(served), subprotocols=[protocol],  # type: ignore[list-item]
                           additional_headers=headers, open_timeout=10)
        except InvalidStatus as refused:
            if refused.response.status_code != 429:
                raise
            time.sleep(float(refused.response.headers.get("Retry-After", "1")))
    raise AssertionError("still rate limited")


def post(served: Served, payload: Any, key: str | None = None,
         headers: dict[str, str] | None = None) -> Answer:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    sent = {"Content-Type": "application/json", **(headers or {})}
    if key is not None:
        sent["Authorization"] = key
    return answered(served, "POST", "/graphql", body, sent)


def codes(answer: Answer) -> list[str]:
    result = answer.json()
    items = result if isinstance(result, list) else [result]
    return [e["extensions"]["code"] for r in items for e in r.get("errors") or ()]


class Log:
    """The lines the process logs from now on."""

    def __init__(self, served: Served) -> None:
        self.served, self.start = served, len(served.log())

    def errors(self) -> list[str]:
        return [line for line in self.served.log()[self.start:].splitlines()
                if '"level": "error"' in line or '"level": "critical"' in line]


@pytest.fixture
def log(served: Served) -> Log:
    return Log(served)


def first_key(served: Served, key: str, workspace: str, project: str) -> str:
    answer = post(served, {"query": f'{{ project(workspace: "{workspace}", name: "{project}") '
                                    "{ experiments(first: 1) { edges { node { key } } } } }"},
                  key=key)
    return str(answer.json()["data"]["project"]["experiments"]["edges"][0]["node"]["key"])


def ws_url(served: Served) -> str:
    return served.url.replace("http", "ws") + "/graphql"


def closed_with(ws: ClientConnection) -> int | None:
    try:
        while True:
            ws.recv(timeout=10)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None


# --- section 7: wrong variables ------------------------------------------------------------------
WRONG_VARIABLES = [
    (Q_KEY, {"k": None}), (Q_KEY, {"k": {"a": 1}}), (Q_KEY, {"k": 1.5}), (Q_KEY, {"k": [1]}),
    (Q_KEY, {"k": True}), (Q_KEY, {}),
    ("query($k: [ID!]!) { experiments(keys: $k) { key } }", {"k": [None]}),
    ("query($k: [ID!]!) { experiments(keys: $k) { key } }", {"k": {"x": [1]}}),
    ('query($t: AssetType!) { experiment(key: "x") { assets(type: $t) { id } } }',
     {"t": "NOPE"}),
    ('query($b: Boolean!) { project(workspace: "alice", name: "sandbox") { '
     "experiments(archived: $b) { totalCount } } }", {"b": "yes"}),
    ('query($w: ExperimentFilter) { project(workspace: "alice", name: "sandbox") { '
     "experiments(where: $w) { totalCount } } }",
     {"w": {"rules": [{"source": "METRICS", "field": 5, "operator": "EQUAL"}]}}),
    ('query($w: ExperimentFilter) { project(workspace: "alice", name: "sandbox") { '
     "experiments(where: $w) { totalCount } } }", {"w": {"rules": "all"}}),
    ('query($o: ExperimentOrder) { project(workspace: "alice", name: "sandbox") { '
     "experiments(orderBy: $o) { totalCount } } }", {"o": {"field": "NAME"}}),
    ('query($n: String!) { experiment(key: "x") { metricSummary(name: $n) { name } } }',
     {"n": ["loss"]}),
]
OUT_OF_RANGE = [
    ('query($f: Int) { workspace(name: "alice") { projects(first: $f) { totalCount } } }',
     {"f": 2147483648}),
    ('query($f: Int) { workspace(name: "alice") { projects(first: $f) { totalCount } } }',
     {"f": -2147483649}),
    ('query($f: Int) { project(workspace: "alice", name: "sandbox") { '
     "experiments(first: $f) { totalCount } } }", {"f": 10 ** 30}),
    ('query($f: Int) { workspace(name: "alice") { projects(first: $f) { totalCount } } }',
     {"f": 2.5}),
    ('query($c: Int!) { workspace(name: "alice") { projectPage(count: $c) { totalRowCount } } }',
     {"c": 2 ** 63}),
]


def check_refused_as_input(served: Served, demo: DemoServer, log: Log,
                           cases: list[tuple[str, dict[str, Any]]], key: str | None) -> None:
    wrong = []
    for query, variables in cases:
        answer = post(served, {"query": query, "variables": variables}, key=key)
        if answer.status != 200 or set(codes(answer)) != {"BAD_USER_INPUT"}:
            wrong.append((query, variables, answer.status, answer.body[:300]))
    assert wrong == []
    assert demo.counts() == {}  # refused before execution: not even the project is looked up
    assert log.errors() == []


@pytest.mark.parametrize("with_key", [False, True])
def test_a_variable_of_the_wrong_type_is_bad_user_input(
        served: Served, demo: DemoServer, log: Log, with_key: bool) -> None:
    check_refused_as_input(served, demo, log, WRONG_VARIABLES,
                           demo.keys["alice"] if with_key else None)


def test_an_int_out_of_range_is_bad_user_input(served: Served, demo: DemoServer,
                                               log: Log) -> None:
    check_refused_as_input(served, demo, log, OUT_OF_RANGE, demo.keys["alice"])


def test_a_request_error_says_what_was_wrong(served: Served, demo: DemoServer) -> None:
    answer = post(served, {"query": OUT_OF_RANGE[0][0], "variables": OUT_OF_RANGE[0][1]})
    message = answer.json()["errors"][0]["message"]
    assert "$f" in message and "2147483648" in message and "Internal" not in message


# --- section 7: malformed bodies -----------------------------------------------------------------
DEEP = 10_000
MALFORMED_BODIES: list[bytes] = [
    b"[" * DEEP + b"]" * DEEP,
    b'{"a":' * DEEP + b"1" + b"}" * DEEP,
    b'{"query": "{ __typename }", "variables": {"v": ' + b"[" * DEEP + b"]" * DEEP + b"}}",
    b'{"query": "{ \xff }"}',  # not UTF-8
    b"\xed\xa0\x80",  # a UTF-16 surrogate, as UTF-8 bytes
    b"5", b'"{ __typename }"', b"null", b"true",
    b'{"query": 5}', b'{"query": ["{ __typename }"]}',
    b'{"query": "{ __typename }", "variables": "{}"}',
    b'{"query": "{ __typename }", "variables": [1]}',
    b'{"query": "{ __typename }", "extensions": 5}',
    b'{"query": "{ __typename }", "operationName": 5}',
    b'{"query": "{ __typename }", "operationName": {"a": 1}}',
    b"[]", b"[1]", b"[null]", b'[{"query": 5}]', b'[{"query": "{ __typename }"}, "x"]',
    b'[{"query": "{ __typename }", "variables": [1]}]',
    b'[{"query": "{ __typename }", "operationName": true}]',
    b'{"query": "{ __typename }", "variables": {"a": NaN}}',
    b"",
]
DEEP_URL = 2_000  # deeper than json's recursion limit, short enough for a URL
MALFORMED_PARAMS: list[dict[str, str]] = [
    {"query": "{ __typename }", "variables": "[" * DEEP_URL},
    {"query": "{ __typename }", "variables": "[" * DEEP_URL + "]" * DEEP_URL},
    {"query": "{ __typename }", "variables": '{"a": ' * DEEP_URL + "1" + "}" * DEEP_URL},
    {"query": "{ __typename }", "variables": "5"},
    {"query": "{ __typename }", "variables": "[1]"},
    {"query": "{ __typename }", "variables": "{"},
    {"query": "{ __typename }", "extensions": '"x"'},
    {"query": "{ __typename }", "extensions": "[" * DEEP_URL + "]" * DEEP_URL},
]


def check_bad_request(answer: Answer) -> str | None:
    """What is wrong with the answer to a malformed request, if anything."""
    if answer.status != 400:
        return f"status {answer.status}"
    if not answer.headers.get("content-type", "").startswith("application/json"):
        return f"content-type {answer.headers.get('content-type')}"
    if not answer.headers.get("x-request-id"):
        return "no request id"
    if codes(answer) != ["BAD_USER_INPUT"]:
        return f"codes {codes(answer)}"
    return None


def test_a_malformed_body_is_bad_user_input_with_a_request_id(
        served: Served, demo: DemoServer, log: Log) -> None:
    wrong = []
    for body in MALFORMED_BODIES:
        problem = check_bad_request(post(served, body, key=demo.keys["alice"]))
        if problem:
            wrong.append((body[:60], problem))
    assert wrong == []
    assert demo.counts() == {}
    assert log.errors() == []


def test_malformed_get_parameters_are_bad_user_input(served: Served, demo: DemoServer,
                                                     log: Log) -> None:
    wrong = []
    for params in MALFORMED_PARAMS:
        answer = answered(served, "GET", "/graphql?" + urllib.parse.urlencode(params),
                          headers={"Accept": "application/json"})
        problem = check_bad_request(answer)
        if problem:
            wrong.append((str(params)[:80], problem))
    assert wrong == []
    assert log.errors() == []


# --- section 7: malformed websocket messages -----------------------------------------------------
MALFORMED_MESSAGES: list[object] = [
    [], 5, "subscribe", {"type": "subscribe", "payload": {"query": "{ __typename }"}},
    {"type": "subscribe", "id": 1, "payload": {"query": "{ __typename }"}},
    {"type": "subscribe", "id": "1"}, {"type": "subscribe", "id": "1", "payload": 5},
    {"type": "subscribe", "id": "1", "payload": {}},
    {"type": "subscribe", "id": "1", "payload": {"query": None}},
    {"type": "subscribe", "id": "1", "payload": {"query": 5}},
    {"type": "subscribe", "id": "1", "payload": {"query": "{ __typename }", "variables": [1]}},
    {"type": "subscribe", "id": "1", "payload": {"query": "{ __typename }", "operationName": 5}},
    {"type": "subscribe", "id": "1", "payload": {"query": "{ __typename }", "extensions": 5}},
    {"type": "complete", "id": {"a": 1}},
]


def test_a_malformed_websocket_message_closes_the_connection_with_4400(
        served: Served, demo: DemoServer, log: Log) -> None:
    wrong = []
    for message in [*MALFORMED_MESSAGES, "[" * DEEP + "]" * DEEP]:
        with opened(served) as ws:
            ws.send(json.dumps({"type": "connection_init",
                                "payload": {"Authorization": demo.keys["alice"]}}))
            assert json.loads(ws.recv(timeout=10))["type"] == "connection_ack"
            ws.send(message if isinstance(message, str) and message.startswith("[")
                    else json.dumps(message))
            code = closed_with(ws)
            if code != 4400:
                wrong.append((str(message)[:60], code))
    assert wrong == []
    # Nothing upstream but the websocket's one check of the key (its verdict is kept a minute).
    assert demo.counts() in ({}, {"GET account-details": 1})
    assert log.errors() == []


# --- section 7: more of the same class, found by fuzzing the HTTP surface ------------------------
QUERIES = [
    Q_KEY, "query($k: [ID!]!) { experiments(keys: $k) { key } }", *[q for q, _ in OUT_OF_RANGE],
    *sorted({q for q, _ in WRONG_VARIABLES}),
    'query($m: [String!]!, $p: [String!], $k: [ID!], $f: Boolean!, $i: Boolean!) { '
    'project(workspace: "alice", name: "sandbox") { metricChart(metrics: $m, params: $p, '
    "experimentKeys: $k, full: $f, independent: $i) { experimentKey } } }",
    'query($id: ID, $w: String, $n: String) { project(id: $id, workspace: $w, name: $n) { id } }',
    'query($n: String, $x: Boolean) { experiment(key: "x") { optimizer(metricName: $n, '
    "maximize: $x) { id } } }",
    "{ __typename }",
]
LEAVES = (st.none() | st.booleans() | st.integers(-5, 600) | st.floats(allow_nan=False)
          | st.sampled_from([2 ** 31, -2 ** 31 - 1, 2 ** 53, 10 ** 30, "", "loss", "ALL",
                             "METRIC", "EQUAL", "BETWEEN", "ASC", "START_TIME", "x" * 64])
          | st.text(max_size=12))
VALUES = st.recursive(LEAVES, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
    st.sampled_from(["rules", "source", "field", "operator", "value", "values", "type",
                     "condition", "direction", "x"]), inner, max_size=5), max_leaves=15)


def variables_for(query: str) -> st.SearchStrategy[dict[str, Any]]:
    names = re.findall(r"\$(\w+):", query)
    return st.fixed_dictionaries({}, optional={n: VALUES for n in names})


TYPED = st.sampled_from(QUERIES).flatmap(lambda q: st.fixed_dictionaries(
    {"query": st.just(q), "variables": variables_for(q)}))
ANY_SHAPE = st.fixed_dictionaries({}, optional={
    "query": st.sampled_from(QUERIES) | VALUES, "variables": VALUES,
    "operationName": VALUES, "extensions": VALUES})
BODIES = (TYPED.map(json.dumps) | ANY_SHAPE.map(json.dumps)
          | st.lists(TYPED | ANY_SHAPE, max_size=3).map(json.dumps) | VALUES.map(json.dumps)
          | st.binary(max_size=40))
PARAMS = st.fixed_dictionaries({"query": st.sampled_from(QUERIES)}, optional={
    "variables": st.text(max_size=30) | VALUES.map(json.dumps),
    "extensions": st.text(max_size=30) | VALUES.map(json.dumps),
    "operationName": st.text(max_size=10)})


def never_internal(answer: Answer) -> None:
    assert answer.status < 500, answer.body[:300]
    result = answer.json()
    for item in result if isinstance(result, list) else [result]:
        for error in item.get("errors") or ():
            assert error["extensions"]["code"] != "INTERNAL", error


@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(body=BODIES, keyed=st.booleans(), accept=st.sampled_from(["application/json",
                                                                  RESPONSE_JSON]))
def test_fuzzed_posts_are_never_internal(served: Served, demo: DemoServer, log: Log,
                                         body: str | bytes, keyed: bool, accept: str) -> None:
    data = body.encode() if isinstance(body, str) else body
    never_internal(post(served, data, key=demo.keys["alice"] if keyed else None,
                        headers={"Accept": accept}))
    assert log.errors() == []


@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(params=PARAMS)
def test_fuzzed_gets_are_never_internal(served: Served, log: Log,
                                        params: dict[str, str]) -> None:
    never_internal(answered(served, "GET", "/graphql?" + urllib.parse.urlencode(params),
                            headers={"Accept": "application/json"}))
    assert log.errors() == []


# --- section 7: keys that could not be sent ------------------------------------------------------
MALFORMED_KEYS = ["a b", "key\twith\ttabs", "é" * 25, "x" * 2000]


def test_a_malformed_key_is_unauthenticated_without_an_upstream_call(
        served: Served, demo: DemoServer, log: Log) -> None:
    wrong = []
    for key in MALFORMED_KEYS:
        answer = post(served, {"query": "{ viewer { userName } }"}, key=key)
        download = answered(served, "GET", "/download/asset?experimentKey=x&assetId=y",
                            headers={"Authorization": key})
        for got in (answer, download):
            body = got.json()  # GraphQL's errors at /graphql, the download routes' own shape
            code = body["errors"][0]["extensions"]["code"] if "errors" in body else body[
                "error"]["code"]
            if got.status != 401 or code != "UNAUTHENTICATED" or not got.headers.get(
                    "x-request-id") or key in got.body.decode("latin-1"):
                wrong.append((key[:10], got.status, got.body[:200]))
    assert wrong == []
    assert demo.counts() == {}
    assert log.errors() == []


@pytest.mark.parametrize("given", ["{alice}\r\nX-Injected: 1", "ab\ncd", "a\x00b",
                                   "é" * 25, 5, {"key": "x"}])
def test_a_websocket_key_that_is_no_header_is_refused_at_connection_init(
        served: Served, demo: DemoServer, log: Log, given: object) -> None:
    key = given.format(alice=demo.keys["alice"]) if isinstance(given, str) else given
    with opened(served) as ws:
        ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": key}}))
        assert closed_with(ws) == 4401  # Unauthorized: no usable key, as with none at all
    assert demo.counts() == {}
    assert log.errors() == []


def test_a_websocket_handshake_with_a_malformed_key_is_refused(
        served: Served, demo: DemoServer, log: Log) -> None:
    with pytest.raises(InvalidStatus) as refused:
        opened(served, headers={"Authorization": "a b"})
    assert refused.value.response.status_code == 403
    assert demo.counts() == {} and log.errors() == []


# --- section 7: the legacy graphql-ws protocol ---------------------------------------------------
def test_the_legacy_graphql_ws_protocol_is_refused_cleanly(
        served: Served, demo: DemoServer, log: Log) -> None:
    with opened(served, "graphql-ws", {"Authorization": demo.keys["alice"]}) as ws:
        assert ws.subprotocol is None  # no protocol agreed: closed before any message
        assert closed_with(ws) == 4406  # Subprotocol not acceptable
    assert demo.counts() == {}
    assert log.errors() == []


# --- section 8: the status code under application/graphql-response+json --------------------------
def test_an_error_during_execution_is_a_2xx_with_data(served: Served, demo: DemoServer,
                                                      log: Log) -> None:
    accept = {"Accept": RESPONSE_JSON}
    keys = [f"key{i:04d}" for i in range(501)]
    executed = post(served, {"query": "query($k: [ID!]!) { experiments(keys: $k) { key } }",
                             "variables": {"k": keys}}, key=demo.keys["alice"], headers=accept)
    assert executed.status == 200
    assert executed.headers["content-type"].startswith(RESPONSE_JSON)
    assert executed.json()["data"] is None and codes(executed) == ["BAD_USER_INPUT"]
    partial = post(served, {"query": "{ __typename viewer { userName } }"}, headers=accept)
    assert partial.status == 200 and codes(partial) == ["UNAUTHENTICATED"]
    assert partial.json()["data"] == {"__typename": "Query", "viewer": None}
    # A request error (refused before execution) stays a 400 without `data`.
    refused = post(served, {"query": Q_KEY, "variables": {"k": None}}, headers=accept)
    assert refused.status == 400 and "data" not in refused.json()
    assert codes(refused) == ["BAD_USER_INPUT"]
    invalid = post(served, {"query": "{ nope }"}, headers=accept)
    assert invalid.status == 400 and "data" not in invalid.json()
    assert demo.counts() == {} and log.errors() == []


# --- section 7: metric values that are not finite numbers ----------------------------------------
DIVERGED = ["NaN", "Infinity", "-Infinity", "diverged", 0.25, "NaN"]


@pytest.fixture
def diverged(served: Served, demo: DemoServer) -> Iterator[tuple[str, str, str]]:
    """(key, experiment, metric): bob's experiment with a new metric whose run diverged."""
    key = demo.keys["bob"]
    experiment = first_key(served, key, "bob", "scratch")
    metric = f"loss_{uuid.uuid4().hex[:8]}"  # a metric of its own: other tests' stay as seeded
    demo.log_metric(experiment, metric, [0.5, *DIVERGED])
    demo.clear_log()
    yield key, experiment, metric


def test_metric_values_that_are_not_finite_numbers_chart_as_nulls(
        served: Served, demo: DemoServer, log: Log, diverged: tuple[str, str, str]) -> None:
    key, experiment, metric = diverged
    query = """query($k: ID!, $m: String!) {
      experiment(key: $k) {
        metricSummary(name: $m) { valueCurrent valueCurrentText valueMin valueMinText
                                  valueMax valueMaxText }
        metricsSummary { name valueCurrent }
        metricHistory(name: $m) { metricValue metricValueText }
        allMetrics { metricName metricValue metricValueText }
        metricSeries(names: [$m], full: true) { values valuesText }
        project { metricChart(metrics: [$m], experimentKeys: [$k]) {
          metrics { values valuesText } } }
      } }"""
    answer = post(served, {"query": query, "variables": {"k": experiment, "m": metric}}, key=key)
    result = answer.json()
    assert answer.status == 200 and "errors" not in result, result.get("errors")
    e = result["data"]["experiment"]
    texts = ["0.5", "NaN", "Infinity", "-Infinity", "diverged", "0.25", "NaN"]
    numbers = [0.5, None, None, None, None, 0.25, None]
    assert e["metricSummary"] == {"valueCurrent": None, "valueCurrentText": "NaN",
                                  "valueMin": 0.25, "valueMinText": "0.25",
                                  "valueMax": 0.5, "valueMaxText": "0.5"}
    assert {"name": metric, "valueCurrent": None} in e["metricsSummary"]
    assert [p["metricValue"] for p in e["metricHistory"]] == numbers
    assert [p["metricValueText"] for p in e["metricHistory"]] == texts
    mine = [p for p in e["allMetrics"] if p["metricName"] == metric]
    assert [p["metricValueText"] for p in mine] == texts
    assert e["metricSeries"] == [{"values": numbers, "valuesText": texts}]
    assert e["project"]["metricChart"] == [{"metrics": [{"values": numbers,
                                                         "valuesText": texts}]}]
    assert demo.counts() == {
        "GET experiment/metadata": 1, "GET project": 1, "GET experiments": 1,  # the chart's
        "GET experiment/metrics/summary": 1, "GET experiment/metrics/get-metric": 1,
        "GET experiment/metrics/get-all": 1, "POST experiments/multi-metric-chart": 2}
    assert log.errors() == []


def test_live_updates_carry_values_that_are_not_finite_numbers(
        served: Served, demo: DemoServer, log: Log, diverged: tuple[str, str, str]) -> None:
    key, experiment, metric = diverged
    query = ("subscription($k: [ID!]!, $m: [String!]!) { metricUpdates(experimentKeys: $k, "
             "metrics: $m, intervalSeconds: 1) { values valuesText } }")
    with opened(served) as ws:
        ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": key}}))
        assert json.loads(ws.recv(timeout=10))["type"] == "connection_ack"
        ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {
            "query": query, "variables": {"k": [experiment], "m": [metric]}}}))
        for _ in range(100):  # the first poll sets the baseline: log after it
            if demo.counts().get("POST experiments/multi-metric-chart"):
                break
            time.sleep(0.1)
        demo.log_metric(experiment, metric, ["NaN", 1.5, "-Infinity"])
        message = json.loads(ws.recv(timeout=20))
    assert message["type"] == "next" and "errors" not in message["payload"], message
    assert message["payload"]["data"]["metricUpdates"] == {
        "values": [None, 1.5, None], "valuesText": ["NaN", "1.5", "-Infinity"]}
    assert log.errors() == []


# --- section 4: the lists that fan out upstream are bounded --------------------------------------
SANDBOX = 'project(workspace: "alice", name: "sandbox")'


def test_the_issue_s_metric_chart_is_refused_before_any_chart_call(
        served: Served, demo: DemoServer, log: Log) -> None:
    keys = [f"{i:05d}{uuid.uuid4().hex[:16]}" for i in range(20_000)]  # 21 characters, as
    names = [f"m_{i:05d}" for i in range(20_000)]  # the issue's: a body of about 0.7 MB
    query = (f"query($k: [ID!], $m: [String!]!) {{ {SANDBOX} {{ "
             "metricChart(metrics: $m, experimentKeys: $k) { experimentKey } } }")
    answer = post(served, {"query": query, "variables": {"k": keys, "m": names}},
                  key=demo.keys["alice"])
    assert answer.status == 200 and codes(answer) == ["BAD_USER_INPUT"]
    # The project itself (or from the cache, when an earlier test read it); no chart POST.
    assert set(demo.counts()) <= {"GET project"}
    assert log.errors() == []


CHART = (f"query($k: [ID!], $m: [String!]!, $p: [String!]) {{ {SANDBOX} {{ "
         "metricChart(metrics: $m, params: $p, experimentKeys: $k) { experimentKey } } }")
SERIES = (f"query($m: [String!]!) {{ {SANDBOX} {{ experiments(first: 2) {{ edges {{ node {{ "
          "metricSeries(names: $m) { metricName } } } } } }")
FILTER = (f"query($w: ExperimentFilter) {{ {SANDBOX} {{ experiments(where: $w) "
          "{ totalCount } } }")


def rules(n: int) -> dict[str, Any]:
    return {"rules": [{"source": "METRIC", "field": f"m{i}", "operator": "GREATER",
                       "value": "0"} for i in range(n)]}


@pytest.mark.parametrize(("query", "variables", "allowed"), [
    (CHART, {"k": [f"k{i}" for i in range(501)], "m": ["loss"]}, {"GET project"}),
    (CHART, {"k": ["k"], "m": [f"m{i}" for i in range(51)]}, {"GET project"}),
    (CHART, {"k": ["k"], "m": ["loss"], "p": [f"p{i}" for i in range(101)]}, {"GET project"}),
    (CHART, {"k": ["k"], "m": []}, {"GET project"}),
    (SERIES, {"m": [f"m{i}" for i in range(51)]}, {"GET project", "GET experiments"}),
    (SERIES, {"m": []}, {"GET project", "GET experiments"}),
    (FILTER, {"w": rules(51)}, {"GET project", "GET experiments"}),
])
def test_lists_that_fan_out_upstream_are_bounded(
        served: Served, demo: DemoServer, log: Log, query: str, variables: dict[str, Any],
        allowed: set[str]) -> None:
    answer = post(served, {"query": query, "variables": variables}, key=demo.keys["alice"])
    found = codes(answer)
    assert found and set(found) == {"BAD_USER_INPUT"}, answer.body[:300]
    assert set(demo.counts()) <= allowed  # no chart POST, no project query
    assert log.errors() == []


def test_lists_at_their_bounds_are_served(served: Served, demo: DemoServer) -> None:
    keys = [f"k{i}" for i in range(500)]
    answer = post(served, {"query": CHART, "variables": {
        "k": keys, "m": [f"m{i}" for i in range(50)], "p": [f"p{i}" for i in range(100)]}},
        key=demo.keys["alice"])
    assert "errors" not in answer.json() and answer.json()["data"]["project"]["metricChart"] == []
    assert demo.counts()["POST experiments/multi-metric-chart"] == 5  # 500 keys, 100 a POST
    filtered = post(served, {"query": FILTER, "variables": {"w": rules(50)}},
                    key=demo.keys["alice"])
    assert "errors" not in filtered.json()


def test_a_chart_of_a_project_with_too_many_experiments_is_refused() -> None:
    big = start_demo(scale=5)  # image-classifier: 600 experiments
    try:
        with serve(big.url) as served:
            query = ('{ project(workspace: "vision-lab", name: "image-classifier") { '
                     'metricChart(metrics: ["loss"]) { experimentKey } } }')
            answer = post(served, {"query": query}, key=big.keys["alice"])
            assert codes(answer) == ["BAD_USER_INPUT"]
            assert "experimentKeys" in answer.json()["errors"][0]["message"]
            assert "POST experiments/multi-metric-chart" not in big.counts()
    finally:
        big.stop()
