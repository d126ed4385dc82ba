"""/metrics label poisoning: 205 operation names sent with fake keys filled the 200 label slots
for good. A name gets a label only once an operation by that name ran with a key the upstream
accepted, and one key introduces at most a quarter of the slots."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from gateway.observability import MAX_NAMES_PER_KEY
from tests.demo_server import DemoServer
from tests.serve_process import Served, serve


@pytest.fixture(scope="module")
def counted(demo_session: DemoServer) -> Iterator[Served]:
    """`serve` without the rate limit (the attack uses many fake keys anyway)."""
    with serve(demo_session.url, env={"COMET_GATEWAY_RATE_LIMIT_PER_SECOND": "0"}) as process:
        yield process


def operation_labels(process: Served) -> dict[str, float]:
    """Operations counted per label (all outcomes together)."""
    text = process.http("GET", "/metrics").body.decode()
    counts: dict[str, float] = {}
    for name, value in re.findall(
            r'^cgw_graphql_requests_total\{operation="([^"]*)",outcome="[^"]*"\} (\S+)$', text,
            re.M):
        counts[name] = counts.get(name, 0) + float(value)
    return counts


def test_names_sent_with_fake_keys_get_no_label(counted: Served, demo: DemoServer) -> None:
    for i in range(205):
        answer = counted.post({"query": f"query Fake{i} {{ viewer {{ userName }} }}"},
                              key=f"fake-key-{i:04d}-0123456789")
        assert answer.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        counted.post({"query": f"query Free{i} {{ __typename }}"},  # no upstream call at all
                     key=f"fake-key-{i:04d}-0123456789")
    labels = operation_labels(counted)
    assert not [name for name in labels if name.startswith(("Fake", "Free"))]
    assert labels["other"] == 410
    assert counted.post({"query": "query Real { viewer { userName } }"},
                        key=demo.keys["alice"]).json() == {
        "data": {"viewer": {"userName": "alice"}}}
    assert operation_labels(counted)["Real"] == 1  # a slot was left for it


def test_one_accepted_key_introduces_at_most_a_quarter_of_the_names(
        counted: Served, demo: DemoServer) -> None:
    for i in range(MAX_NAMES_PER_KEY + 10):
        counted.post({"query": f"query Carol{i} {{ viewer {{ userName }} }}"},
                     key=demo.keys["carol"])
    labels = operation_labels(counted)
    assert sum(name.startswith("Carol") for name in labels) == MAX_NAMES_PER_KEY
    counted.post({"query": "query Bobs { viewer { userName } }"}, key=demo.keys["bob"])
    counted.post({"query": "query Carol0 { viewer { userName } }"}, key=demo.keys["bob"])
    labels = operation_labels(counted)
    assert labels["Bobs"] == 1 and labels["Carol0"] == 2  # known names count for anyone
