"""Client mistakes and odd upstream values against `serve` at its defaults: each gets its own
code (BAD_USER_INPUT, UNAUTHENTICATED) or the upstream's, never INTERNAL, never an ERROR line
in the log, and costs no upstream call it should not. Also the GraphQL-over-HTTP status codes
and the bounds of the lists that fan out upstream (metricChart, metricSeries, filters)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection

from tests.demo_server import DemoServer
from tests.gateway_server import Answer
from tests.serve_process import Served

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
