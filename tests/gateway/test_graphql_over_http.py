"""GraphQL over HTTP: graphql-http's own server audit suite, run by node, passes every audit."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.gateway_server import GatewayServer

JS = Path(__file__).resolve().parents[1] / "js"


def node_script(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    if shutil.which("node") is None or not (JS / "node_modules").is_dir():
        pytest.fail("node and tests/js/node_modules are needed: run `make test` (npm ci)")
    return subprocess.run(["node", str(JS / name), *args], capture_output=True, text=True,
                          timeout=120, cwd=JS)


def assert_every_audit_passes(url: str) -> None:
    """graphql-http's server audits against the GraphQL endpoint at `url`: all 61 ok."""
    out = node_script("audit.mjs", url)
    lines = out.stdout.splitlines()
    failed = [line for line in lines[:-1] if not line.startswith("ok ")]
    assert failed == [] and lines[-1] == "61 ok, 0 failed", out.stdout + out.stderr


def test_every_graphql_http_audit_passes(gateway: GatewayServer) -> None:
    assert_every_audit_passes(f"{gateway.url}/graphql")


def test_graphql_response_json_negotiation(gateway: GatewayServer) -> None:
    accept = {"Content-Type": "application/json",
              "Accept": "application/graphql-response+json, application/json;q=0.9"}
    good = gateway.http("POST", "/graphql", b'{"query": "{ __typename }"}', accept)
    assert good.status == 200
    assert good.headers["content-type"].startswith("application/graphql-response+json")
    bad = gateway.http("POST", "/graphql", b'{"query": "{ nope }"}', accept)
    assert bad.status == 400 and "data" not in bad.json()
    assert bad.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    plain = gateway.http("POST", "/graphql", b'{"query": "{ nope }"}',
                         {"Content-Type": "application/json", "Accept": "application/json"})
    assert plain.status == 200 and plain.headers["content-type"] == "application/json"
    assert plain.json()["data"] is None
    preferred = gateway.http("POST", "/graphql", b'{"query": "{ nope }"}', {
        "Content-Type": "application/json",
        "Accept": "application/graphql-response+json;q=0.5, application/json"})
    assert preferred.status == 200
    assert preferred.headers["content-type"] == "application/json"
