"""Prometheus metrics, structured JSON logs without keys, and OpenTelemetry spans."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from gateway.settings import Settings
from tests.demo_server import DemoServer, free_port
from tests.gateway_server import start, wait_until_up

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
def spans() -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return exporter


def test_opentelemetry_spans(spans: InMemorySpanExporter, demo: DemoServer) -> None:
    server = start(Settings(upstream_url=demo.url, rate_limit_per_second=0),
                   default_key=demo.keys["alice"])
    try:
        spans.clear()
        assert "errors" not in server.post(QUERY)
    finally:
        server.stop()
    names = [s.name for s in spans.get_finished_spans()]
    assert names.count("graphql.operation") == 1
    assert names.count("upstream GET tags") == 4
    assert names.count("upstream POST multi_metric_chart") == 1
    operation = next(s for s in spans.get_finished_spans() if s.name == "graphql.operation")
    assert operation.attributes["graphql.operation.name"] == "Sandbox"


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
