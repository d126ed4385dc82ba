"""Prometheus metrics, structured JSON logs without keys, and OpenTelemetry spans."""

from __future__ import annotations

import collections
import json
import os
import re
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from gateway.settings import Settings
from tests.demo_server import DemoServer, free_port
from tests.gateway_server import start, wait_until_up
from tests.serve_process import serve

ROOT = Path(__file__).resolve().parents[2]
QUERY = """query Sandbox { project(workspace: "alice", name: "sandbox") {
  experiments(first: 4) { edges { node { name tags metricSeries(names: ["loss"]) { values } }
} } } }"""


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one series in Prometheus' text format (0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        match = re.match(r"^(\w+)(?:\{(.*)\})? (\S+)$", line)
        if match and match.group(1) == name:
            got = ",".join(sorted((match.group(2) or "").split(",")))
            if got == wanted or (not labels and not match.group(2)):
                return float(match.group(3))
    return 0.0


def test_prometheus_metrics(demo: DemoServer) -> None:
    server = start(Settings(upstream_url=demo.url, rate_limit_per_second=0.001,
                            rate_limit_burst=3, cache=True, forwarded_allow_ips="127.0.0.1"),
                   default_key=demo.keys["alice"])
    try:
        demo.fault("experiment/tags", "status", status=503, count=1)
        assert "errors" not in server.post(QUERY)
        server.post(QUERY)  # the cache answers this one
        server.post("{ __typename }")
        assert server.post("{ __typename }")["errors"][0]["extensions"]["code"] == \
            "RATE_LIMITED"
        # The scraper comes from another address (through a proxy this gateway trusts):
        # its requests have a bucket of their own.
        text = server.http("GET", "/metrics", headers={"X-Forwarded-For": "10.0.0.9"}
                           ).body.decode()
    finally:
        server.stop()
    assert sample(text, "cgw_graphql_requests_total", operation="Sandbox", outcome="ok") == 2
    assert sample(text, "cgw_upstream_calls_total", endpoint="tags", status="200") == 4
    assert sample(text, "cgw_upstream_calls_total", endpoint="tags", status="503") == 1
    assert sample(text, "cgw_upstream_retries_total", endpoint="tags") == 1
    assert sample(text, "cgw_upstream_calls_total", endpoint="multi_metric_chart",
                  status="200") == 1
    assert sample(text, "cgw_cache_lookups_total", family="experiment", result="hit") >= 5
    # one batch of the 4 experiments' series per request (the second from the cache)
    assert sample(text, "cgw_loader_batch_size_count", loader="series") == 2
    assert sample(text, "cgw_loader_batch_size_sum", loader="series") == 8
    assert sample(text, "cgw_rate_limited_requests_total") == 1
    assert sample(text, "cgw_graphql_request_duration_seconds_count", operation="Sandbox") == 2


def test_json_logs_carry_request_ids_and_never_a_key(demo: DemoServer) -> None:
    port = free_port()
    key = demo.keys["alice"]
    env = {**os.environ, "COMET_GATEWAY_UPSTREAM_URL": demo.url, "COMET_GATEWAY_TIMEOUT": "1",
           "COMET_GATEWAY_LOG_FORMAT": "json", "COMET_GATEWAY_RATE_LIMIT_PER_SECOND": "0"}
    with subprocess.Popen([sys.executable, "-m", "gateway", "serve", "--port", str(port)],
                          cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True) as process:
        try:
            wait_until_up(f"http://127.0.0.1:{port}/healthz")
            demo.fault("experiment/tags", "status", status=503)
            demo.fault("experiment/parameters", "reset")
            for secret in (key, "wrong-key-0123456789"):
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/graphql", method="POST",
                    data=json.dumps({"query": QUERY.replace("tags", "tags parameters "
                                                                    "{ name }")}).encode(),
                    headers={"Content-Type": "application/json", "Authorization": secret,
                             "X-Request-Id": "req-logs-1"})
                urllib.request.urlopen(request, timeout=30).read()
        finally:
            process.terminate()
            _, err = process.communicate(timeout=20)
    lines = [json.loads(line) for line in err.splitlines() if line.strip()]
    assert lines and all({"ts", "level", "logger", "msg"} <= set(line) for line in lines)
    failures = [line for line in lines if line["logger"] == "gateway.errors"]
    assert failures and all(line["request_id"] == "req-logs-1" for line in failures)
    assert any(line["logger"] == "gateway.upstream" for line in lines)  # the retries
    assert key not in err and "wrong-key-0123456789" not in err and "Traceback" not in err


@pytest.fixture(scope="module")
def spans() -> Iterator[InMemorySpanExporter]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans_of_test))
    trace.set_tracer_provider(provider)
    yield spans_of_test
    # The API sets a provider once per process; the gateways the later modules build must run
    # untraced, as they would in production without an SDK (OpenTelemetry's own tests reset
    # the same two globals).
    trace._TRACER_PROVIDER = None
    trace._TRACER_PROVIDER_SET_ONCE._done = False


def traced(demo: DemoServer, query: str) -> tuple[dict[str, Any], list[ReadableSpan]]:
    """Run `query` on an in-process gateway built while the SDK's provider is set: the answer,
    and the spans it made."""
    server = start(Settings(upstream_url=demo.url, rate_limit_per_second=0),
                   default_key=demo.keys["alice"])
    try:
        demo.clear_log()
        spans_of_test.clear()
        answer = server.post(query)
    finally:
        server.stop()
    return answer, list(spans_of_test.get_finished_spans())


spans_of_test = InMemorySpanExporter()


def test_one_trace_from_the_request_through_every_upstream_call(
        spans: InMemorySpanExporter, demo: DemoServer) -> None:
    answer, finished = traced(demo, QUERY)
    assert "errors" not in answer
    server = [s for s in finished if s.kind is SpanKind.SERVER and s.name == "POST /graphql"]
    assert len(server) == 1  # the ASGI instrumentation's, with the standard attributes
    root = server[0]
    assert root.parent is None and root.attributes is not None
    assert root.attributes["http.method"] == "POST"
    assert root.attributes["http.status_code"] == 200
    assert root.status.status_code is not StatusCode.ERROR
    trace_id = root.context.trace_id
    assert all(s.context.trace_id == trace_id for s in finished)
    operation = [s for s in finished if s.name == "GraphQL Query: Sandbox"]
    assert len(operation) == 1 and operation[0].parent is not None
    assert operation[0].parent.span_id == root.context.span_id
    assert operation[0].attributes is not None
    assert operation[0].attributes["graphql.operation.name"] == "Sandbox"
    assert operation[0].attributes["graphql.operation.type"] == "query"
    calls = [s for s in finished if s.kind is SpanKind.CLIENT]
    endpoints = collections.Counter(str((s.attributes or {})["comet.endpoint"]) for s in calls)
    assert endpoints == {"project": 1, "experiments": 1, "tags": 4, "multi_metric_chart": 1}
    tags = next(s for s in calls if (s.attributes or {})["comet.endpoint"] == "tags")
    assert tags.name == "GET /api/rest/v2/experiment/tags"
    assert tags.attributes is not None and tags.attributes["http.status_code"] == 200
    assert str(tags.attributes["http.url"]).startswith(f"{demo.url}/api/rest/v2/experiment/tags")
    # Comet got W3C trace context: this trace, each request with its own client span as parent.
    logged = demo.requests()
    assert len(logged) == len(calls) == 7
    parents = {format(s.context.span_id, "016x") for s in calls}
    for request in logged:
        version, sent_trace, parent, _flags = request["traceparent"].split("-")
        assert (version, sent_trace) == ("00", format(trace_id, "032x"))
        assert parent in parents


def test_failures_have_an_error_status_and_keys_are_never_recorded(
        spans: InMemorySpanExporter, demo: DemoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    # An operator who captures every header still gets no key in a span.
    monkeypatch.setenv("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST", ".*")
    monkeypatch.setenv("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST", ".*")
    demo.fault("experiment/tags", "status", status=403)
    try:
        answer, finished = traced(demo, QUERY)
    finally:
        demo.clear_faults()
    assert answer["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    failed = [s for s in finished if s.kind is SpanKind.CLIENT
              and (s.attributes or {}).get("comet.endpoint") == "tags"]
    assert failed and all(s.status.status_code is StatusCode.ERROR for s in failed)
    operation = next(s for s in finished if s.name == "GraphQL Query: Sandbox")
    assert operation.status.status_code is StatusCode.ERROR
    assert operation.status.description == "FORBIDDEN"
    recorded = "".join(s.to_json() for s in finished)
    assert "http.request.header.authorization" in recorded  # captured, and redacted:
    assert demo.keys["alice"] not in recorded


def test_an_answer_in_parts_is_one_operation_span_to_its_last_part(
        spans: InMemorySpanExporter, demo: DemoServer) -> None:
    """The operation's span lasts until the last part (the deferred series' chart call is in
    it), and says the error that came in a later part."""
    query = """query Deferred { project(workspace: "alice", name: "sandbox") {
      experiments(first: 4) { edges { node { name
        ... @defer { metricSeries(names: ["loss"]) { values } } } } } } }"""
    server = start(Settings(upstream_url=demo.url, rate_limit_per_second=0),
                   default_key=demo.keys["alice"])
    demo.fault("experiments/multi-metric-chart", "status", status=403)
    try:
        spans_of_test.clear()
        answer = server.http("POST", "/graphql", json.dumps({"query": query}).encode(), {
            "Content-Type": "application/json", "Authorization": demo.keys["alice"],
            "Accept": "multipart/mixed;deferSpec=20220824"})
    finally:
        server.stop()
        demo.clear_faults()
    assert answer.headers["content-type"].startswith("multipart/mixed")
    assert b'"code":"FORBIDDEN"' in answer.body
    finished = list(spans.get_finished_spans())
    [operation] = [s for s in finished if s.name == "GraphQL Query: Deferred"]
    [chart] = [s for s in finished if s.kind is SpanKind.CLIENT
               and (s.attributes or {}).get("comet.endpoint") == "multi_metric_chart"]
    assert chart.context.trace_id == operation.context.trace_id
    assert operation.end_time is not None and chart.end_time is not None
    assert operation.end_time >= chart.end_time
    assert operation.status.status_code is StatusCode.ERROR
    assert operation.status.description == "FORBIDDEN"


def test_without_a_tracer_provider_nothing_is_traced(demo: DemoServer) -> None:
    """A gateway without an SDK's provider adds no tracing: a client's trace context goes no
    further than the gateway (nothing extracts it, nothing injects it)."""
    demo.clear_log()
    with serve(demo.url, {"COMET_GATEWAY_RATE_LIMIT_PER_SECOND": "0"}) as served:
        traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        answer = served.post({"query": QUERY}, key=demo.keys["alice"],
                             headers={"traceparent": traceparent})
    assert answer.status == 200 and "errors" not in answer.json()
    logged = demo.requests()
    assert len(logged) == 7 and all(r["traceparent"] is None for r in logged)


def test_metrics_are_read_from_private_networks_only(demo: DemoServer) -> None:
    """Operation names are the clients' own words: an anonymous client on the internet must
    not read another's from /metrics (a proxy this gateway trusts says where clients are)."""
    server = start(Settings(upstream_url=demo.url, rate_limit_per_second=0,
                            forwarded_allow_ips="127.0.0.1"), default_key=demo.keys["alice"])
    try:
        server.post("query AcmeAcquisitionDashboard { viewer { userName } }")
        public = server.http("GET", "/metrics", headers={"X-Forwarded-For": "203.0.113.5"})
        private = server.http("GET", "/metrics", headers={"X-Forwarded-For": "10.1.2.3"})
    finally:
        server.stop()
    assert public.status == 404 and b"Acme" not in public.body
    assert private.status == 200 and b"AcmeAcquisitionDashboard" in private.body
