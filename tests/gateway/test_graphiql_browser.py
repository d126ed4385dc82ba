"""GraphiQL without a CDN: the bundled page in headless Chromium loads with no request
leaving the gateway, runs the example query and shows its result (screenshot saved)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from gateway.graphiql import bundled
from gateway.settings import Settings
from tests.demo_server import DemoServer
from tests.gateway.test_graphql_over_http import node_script
from tests.gateway_server import GatewayServer, start

SCREENSHOTS = Path(__file__).resolve().parents[1] / "screenshots"



def test_the_page_is_the_bundled_one(with_key: GatewayServer) -> None:
    assert bundled(), "GraphiQL's bundle is missing: run `make graphiql`"
    html = with_key.http("GET", "/graphql", headers={"Accept": "text/html"}).body.decode()
    assert "/graphiql/static/graphiql.js" in html and "unpkg" not in html
    script = with_key.http("GET", "/graphiql/static/graphiql.js")
    assert script.status == 200 and len(script.body) > 100_000


def test_graphiql_runs_the_example_in_chromium(with_key: GatewayServer) -> None:
    if shutil.which("chromium") is None:
        pytest.fail("Debian's chromium is needed (apt-get install chromium; make test does)")
    SCREENSHOTS.mkdir(exist_ok=True)
    shot = SCREENSHOTS / "graphiql.png"
    out = node_script("graphiql_browser.mjs", f"{with_key.url}/graphql", str(shot))
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout.splitlines()[-1])
    assert seen["external"] == [] and seen["failures"] == []
    assert '"userName": "alice"' in seen["result"]
    assert shot.stat().st_size > 10_000


def test_without_the_bundle_the_cdn_page_is_served_and_said(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, demo: DemoServer,
        caplog: pytest.LogCaptureFixture) -> None:
    import gateway.graphiql

    monkeypatch.setattr(gateway.graphiql, "BUNDLE", tmp_path)
    caplog.set_level("WARNING", logger="gateway")
    server = start(Settings(upstream_url=demo.url, rate_limit_per_second=0))
    try:
        html = server.http("GET", "/graphql", headers={"Accept": "text/html"}).body.decode()
    finally:
        server.stop()
    assert "unpkg.com/graphiql" in html and "query Overview" in html
    assert "bundle is not built" in caplog.text and "`make graphiql`" in caplog.text


def test_graphiql_merges_an_answer_in_parts(with_key: GatewayServer, demo: DemoServer) -> None:
    """GraphiQL's fetcher asks for `multipart/mixed` (no spec named): it gets the current
    format (pending, incremental by id, completed) and shows the parts merged. (The query
    is named as the example it replaces: GraphiQL keeps the operation name it had.)"""
    if shutil.which("chromium") is None:
        pytest.fail("Debian's chromium is needed (apt-get install chromium; make test does)")
    query = """query Overview { project(workspace: "alice", name: "sandbox") { name
      experiments(first: 3) { edges { node { key
        ... @defer { metricSeries(names: ["loss"]) { metricName steps } } } } } } }"""
    out = node_script("graphiql_defer.mjs", f"{with_key.url}/graphql", query)
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout.splitlines()[-1])
    assert 'multipart/mixed; boundary="-"; incrementalSpec=v0.2' in seen["answers"]
    shown = json.loads(seen["result"])
    whole = with_key.post(query.replace("... @defer", "..."), key=demo.keys["alice"])
    assert shown == whole and len(shown["data"]["project"]["experiments"]["edges"]) == 3
