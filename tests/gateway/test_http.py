"""The server's HTTP surface: GraphQL over POST and GET, GraphiQL, health, downloads."""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path

import pytest

from gateway.schema import sdl
from gateway.settings import Settings
from tests.demo_server import DemoServer, free_port
from tests.gateway_server import GatewayServer, start

ROOT = Path(__file__).resolve().parents[2]


def test_schema_graphql_is_in_sync() -> None:
    assert (ROOT / "schema.graphql").read_text() == sdl(), \
        "schema.graphql is stale: run `make regen`"


def test_post_and_get(gateway: GatewayServer) -> None:
    query = "{ viewer { userName } }"
    posted = gateway.post(query)
    url = "/graphql?" + urllib.parse.urlencode({"query": query})
    got = gateway.http("GET", url, headers={"Authorization": gateway.default_key or "",
                                            "Accept": "application/json"})
    assert got.status == 200 and got.json() == posted == {"data": {"viewer": {"userName":
                                                                                 "alice"}}}


def test_graphiql_on_a_browser_get(gateway: GatewayServer) -> None:
    page = gateway.http("GET", "/graphql", headers={"Accept": "text/html"})
    assert page.status == 200 and page.headers["content-type"].startswith("text/html")
    html = page.body.decode()
    assert "query Overview" in html and "Authorization" in html
    assert "comet-graphql-gateway" in html


def test_graphiql_prefills_the_demo_key(demo_session: DemoServer) -> None:
    key = demo_session.keys["alice"]
    server = start(Settings(upstream_url=demo_session.url, graphiql_api_key=key))
    try:
        html = server.http("GET", "/graphql", headers={"Accept": "text/html"}).body.decode()
        assert key in html
        off = start(Settings(upstream_url=demo_session.url, graphiql=False))
        try:
            page = off.http("GET", "/graphql", headers={"Accept": "text/html"})
            assert page.status == 404 and b"query Overview" not in page.body
        finally:
            off.stop()
    finally:
        server.stop()


def test_a_key_given_to_every_visitor_is_said_at_start_up_never_shown(
        demo_session: DemoServer, caplog: pytest.LogCaptureFixture) -> None:
    key = demo_session.keys["alice"]
    caplog.set_level("WARNING", logger="gateway")
    server = start(Settings.from_env({"COMET_GATEWAY_GRAPHIQL_API_KEY": key},
                                     upstream_url=demo_session.url))
    server.stop()
    assert "COMET_GATEWAY_GRAPHIQL_API_KEY" in caplog.text and key not in caplog.text
    with pytest.raises(ValueError, match="GRAPHIQL_API_KEY: not a key") as refused:
        Settings.from_env({"COMET_GATEWAY_GRAPHIQL_API_KEY": "a key</script>"})
    assert "script" not in str(refused.value)
    with pytest.raises(ValueError, match="^COMET_API_KEY: not a key"):
        Settings(env_api_key="a\r\nkey")


def test_health_and_readiness(gateway: GatewayServer) -> None:
    assert gateway.http("GET", "/healthz").json() == {"status": "ok"}
    ready = gateway.http("GET", "/readyz")
    assert ready.status == 200 and ready.json()["status"] == "ready"
    dead = start(Settings(upstream_url=f"http://127.0.0.1:{free_port()}", timeout=1.0))
    try:
        assert dead.http("GET", "/healthz").status == 200
        assert dead.http("GET", "/readyz").status == 503
    finally:
        dead.stop()


def test_download_errors(gateway: GatewayServer, demo: DemoServer) -> None:
    missing = gateway.http("GET", "/download/asset?experimentKey=x")
    assert missing.status == 400 and missing.json()["error"]["code"] == "BAD_USER_INPUT"
    anonymous = gateway.http("GET", "/download/asset?experimentKey=x&assetId=y")
    assert anonymous.status == 401 and demo.counts() == {}
    unknown = gateway.http("GET", "/download/asset?experimentKey=x&assetId=y",
                           headers={"Authorization": gateway.default_key or ""})
    assert unknown.status == 404 and unknown.json()["error"]["code"] == "NOT_FOUND"
    demo.fault("experiment/model/download", "status", status=429, retry_after="120")
    limited = gateway.http("GET", "/download/experiment-model?experimentKey=x&modelName=m",
                           headers={"Authorization": gateway.default_key or ""})
    assert limited.status == 429 and limited.headers["retry-after"] == "120"
    assert json.loads(limited.body)["error"]["code"] == "RATE_LIMITED"


def test_bearer_prefix_is_accepted(gateway: GatewayServer) -> None:
    result = gateway.post("{ viewer { userName } }", key=f"Bearer {gateway.default_key}")
    assert result == {"data": {"viewer": {"userName": "alice"}}}


def test_env_key_serves_keyless_callers_only_when_enabled(demo_session: DemoServer) -> None:
    key = demo_session.keys["bob"]
    off = start(Settings(upstream_url=demo_session.url, env_api_key=key))
    on = start(Settings(upstream_url=demo_session.url, env_api_key=key, use_env_api_key=True))
    try:
        assert off.post("{ viewer { userName } }", key=None)["data"] == {"viewer": None}
        assert on.post("{ viewer { userName } }", key=None)["data"] == {
            "viewer": {"userName": "bob"}}
        # a caller's own key still wins
        own = on.post("{ viewer { userName } }", key=demo_session.keys["carol"])
        assert own["data"] == {"viewer": {"userName": "carol"}}
    finally:
        off.stop()
        on.stop()
