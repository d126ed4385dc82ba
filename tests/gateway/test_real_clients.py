"""Real clients, unchanged: Python gql (aiohttp transport), JS graphql-request, and Apollo
Client with its persisted-query link and a normalized cache."""

from __future__ import annotations

import json

from gql import Client, gql
from gql.transport.aiohttp import AIOHTTPTransport
from gql.transport.exceptions import TransportQueryError

from tests.demo_server import DemoServer
from tests.gateway.test_graphql_over_http import node_script
from tests.gateway_server import GatewayServer


async def test_python_gql(gateway: GatewayServer) -> None:
    transport = AIOHTTPTransport(url=f"{gateway.url}/graphql",
                                 headers={"Authorization": gateway.default_key or ""},
                                 ssl=False)
    async with Client(transport=transport, fetch_schema_from_transport=True) as session:
        query = gql("""query($key: ID!) { experiment(key: $key) { id key name } }""")
        listing = await session.execute(gql(
            '{ project(workspace: "alice", name: "sandbox") { experiments(first: 2) '
            "{ edges { node { key } } } } }"))
        key = listing["project"]["experiments"]["edges"][1]["node"]["key"]
        query.variable_values = {"key": key}
        found = await session.execute(query)
        assert found["experiment"]["id"] == key and found["experiment"]["name"]
        try:
            await session.execute(gql("{ project { name } }"))
        except TransportQueryError as error:
            assert error.errors and error.errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
        else:
            raise AssertionError("expected a BAD_USER_INPUT error")


def test_graphql_request(gateway: GatewayServer) -> None:
    out = node_script("graphql_request.mjs", f"{gateway.url}/graphql", gateway.default_key or "")
    result = json.loads(out.stdout.splitlines()[-1])
    project = result["data"]["project"]
    assert project["name"] == "sandbox" and project["numberOfExperiments"] == 12
    assert project["workspace"] == {"id": "alice", "name": "alice"}
    assert result["code"] == "BAD_USER_INPUT"


def test_apollo_client_persisted_queries_and_normalized_cache(gateway: GatewayServer) -> None:
    out = node_script("apollo.mjs", f"{gateway.url}/graphql", gateway.default_key or "")
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    requests, summary = lines[:-1], lines[-1]
    assert requests[0] == {"method": "GET", "sentQuery": False, "status": 200,
                           "code": "PERSISTED_QUERY_NOT_FOUND"}
    assert requests[1]["sentQuery"] is True and requests[1]["code"] is None
    # the second client: the hash alone, over GET, is enough now
    assert requests[2] == {"method": "GET", "sentQuery": False, "status": 200, "code": None}
    assert summary["same"] is True and summary["experiments"] == 3
    kinds = {name.split(":")[0] for name in summary["normalized"]}
    assert kinds == {"Project", "Experiment"} and len(summary["normalized"]) == 4


def test_apollo_client_reads_deferred_series_as_they_come(gateway: GatewayServer,
                                                          demo: DemoServer) -> None:
    """Apollo Client 3 asks for `multipart/mixed;deferSpec=20220824` when a query defers: its
    watched query gives the table first, then the same rows with every series, the second time
    through a persisted query's hash alone (a GET); each series batch is one chart call."""
    out = node_script("apollo_defer.mjs", f"{gateway.url}/graphql", gateway.default_key or "",
                      "100")
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    requests, results, summary = lines[:3], lines[3:-1], lines[-1]
    multipart = 'multipart/mixed; boundary="-"; deferSpec=20220824'
    assert [(r["method"], r["contentType"]) for r in requests] == [
        ("GET", "application/json"),  # the hash alone: PERSISTED_QUERY_NOT_FOUND
        ("POST", multipart), ("GET", multipart)]
    assert all(r["accept"].startswith("multipart/mixed;deferSpec=20220824") for r in requests)
    table = {"loading": False, "experiments": 100, "withSeries": 0, "series": 0, "values": 0,
             "errors": []}
    charts = {**table, "withSeries": 100, "series": 2, "values": 443}
    assert results == [table, charts, table, charts]
    assert summary == {"firstClientResults": 2, "normalized": 100, "cachedSeries": 100}
    assert demo.counts()["POST experiments/multi-metric-chart"] == 2 * 4  # ⌈100 / 25⌉ each
