"""The dashboard page at /dashboard: served from the package's bundle under a CSP that keeps
every request on the gateway's origin; the demo's key filled in only on the demo; off with
its setting; without the bundle, a page and a log line that say how to build it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from gateway.dashboard import bundled
from gateway.settings import Settings
from tests.demo_server import DemoServer
from tests.gateway_server import start


def config_of(html: str) -> dict[str, object]:
    """The page's config, but for the gateway's bounds (checked by `test_the_pages_bounds`)."""
    found = re.search(r'<script id="dashboard-config" type="application/json">(.*?)</script>',
                      html, re.S)
    assert found, html
    config = dict(json.loads(found.group(1)))
    assert set(config.pop("bounds")) == {
        "points", "fullSeriesBytes", "answerBytes", "seriesPoints", "answerValues",
        "answerObjects", "answerFields", "chartExperiments", "chartMetrics", "tableRows",
        "runningCacheSeconds"}
    return config


def test_the_pages_bounds_are_the_gateways(demo: DemoServer) -> None:
    server = start(Settings(upstream_url=demo.url, rate_limit_per_second=0,
                            max_full_series_bytes=1234, max_answer_fields=500,
                            max_answer_objects=700, dashboard_rows=300))
    try:
        page = server.http("GET", "/dashboard")
    finally:
        server.stop()
    found = re.search(r'"bounds": (\{.*?\})', page.body.decode())
    assert found and json.loads(found.group(1)) == {
        "points": 10_000, "fullSeriesBytes": 1234, "answerBytes": 32 * 1024 * 1024,
        "seriesPoints": 10_000_000, "answerValues": 5000, "answerObjects": 700,
        "answerFields": 500, "chartExperiments": 500, "chartMetrics": 50, "tableRows": 300,
        "runningCacheSeconds": 5.0}


def test_the_page_and_its_bundle(demo: DemoServer) -> None:
    assert bundled(), "the dashboard's bundle is missing: run `make dashboard`"
    server = start(Settings(upstream_url=demo.url, rate_limit_per_second=0))
    try:
        page = server.http("GET", "/dashboard")
        script = server.http("GET", "/dashboard/static/dashboard.js")
        style = server.http("GET", "/dashboard/static/dashboard.css")
    finally:
        server.stop()
    assert page.status == 200 and page.headers["content-type"].startswith("text/html")
    csp = dict(d.strip().split(" ", 1) for d in page.headers["content-security-policy"].split(";"))
    assert csp["default-src"] == "'none'"
    assert csp["script-src"] == csp["style-src"] == csp["connect-src"] == "'self'"
    assert csp["frame-ancestors"] == "'none'" and csp["base-uri"] == "'none'"
    html = page.body.decode()
    assert config_of(html) == {"url": "/graphql"}  # no key but the demo's is ever given
    assert "<style" not in html and "http" not in html  # nothing inline, nothing elsewhere
    assert "private" in page.headers["cache-control"]
    assert script.status == 200 and len(script.body) > 20_000
    assert "javascript" in script.headers["content-type"]
    assert "private" not in script.headers.get("cache-control", "")
    assert style.status == 200 and style.headers["content-type"].startswith("text/css")


def test_on_the_demo_the_demo_key_is_filled_in(demo: DemoServer) -> None:
    server = start(Settings(upstream_url=demo.url, graphiql_api_key=demo.keys["alice"],
                            rate_limit_per_second=0))
    try:
        page = server.http("GET", "/dashboard")
    finally:
        server.stop()
    assert config_of(page.body.decode()) == {"url": "/graphql", "apiKey": demo.keys["alice"]}


def test_the_setting_turns_it_off(demo: DemoServer) -> None:
    server = start(Settings(upstream_url=demo.url, dashboard=False, rate_limit_per_second=0))
    try:
        assert server.http("GET", "/dashboard").status == 404
        assert server.http("GET", "/dashboard/static/dashboard.js").status == 404
    finally:
        server.stop()


def test_without_the_bundle_it_says_how_to_build_it(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, demo: DemoServer,
        caplog: pytest.LogCaptureFixture) -> None:
    import gateway.dashboard

    monkeypatch.setattr(gateway.dashboard, "BUNDLE", tmp_path)
    caplog.set_level("WARNING", logger="gateway")
    server = start(Settings(upstream_url=demo.url, rate_limit_per_second=0))
    try:
        page = server.http("GET", "/dashboard")
    finally:
        server.stop()
    assert page.status == 503 and "make dashboard" in page.body.decode()
    assert "dashboard's bundle is not built" in caplog.text and "`make dashboard`" in caplog.text
