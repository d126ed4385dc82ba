"""Bombs and limits: refused fast, with the right code, before any upstream call where possible."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest

from gateway.settings import Settings
from tests.demo_server import DemoServer
from tests.gateway_server import GatewayServer, start


@pytest.fixture
def strict(demo: DemoServer) -> Iterator[GatewayServer]:
    """A gateway with tight limits."""
    server = start(Settings(upstream_url=demo.url, upstream_budget=40, max_depth=8,
                            max_aliases=10, max_tokens=2000, max_body_bytes=100_000,
                            max_operations=3, operation_deadline=10.0, timeout=5.0,
                            rate_limit_per_second=0), default_key=demo.keys["alice"])
    yield server
    server.stop()


def codes(result: dict[str, object]) -> list[str]:
    return [e["extensions"]["code"] for e in result.get("errors", [])]  # type: ignore


def test_a_depth_bomb(strict: GatewayServer, demo: DemoServer) -> None:
    inner = "name"
    for _ in range(12):
        inner = f"project {{ workspace {{ project(name: \"sandbox\") {{ experiments {{ edges " \
                f"{{ node {{ {inner} }} }} }} }} }} }}"
    result = strict.post(f'{{ experiment(key: "x") {{ {inner} }} }}')
    assert codes(result) == ["QUERY_TOO_COMPLEX"] and "depth" in result["errors"][0]["message"]
    assert demo.counts() == {}


def test_an_alias_bomb(strict: GatewayServer, demo: DemoServer) -> None:
    query = "{ " + " ".join(f"a{i}: viewer {{ userName }}" for i in range(500)) + " }"
    result = strict.post(query)
    assert "QUERY_TOO_COMPLEX" in codes(result) and demo.counts() == {}


def test_a_token_bomb(strict: GatewayServer, demo: DemoServer) -> None:
    query = "{ viewer { " + "userName " * 5000 + "} }"
    result = strict.post(query)
    assert codes(result) == ["QUERY_TOO_COMPLEX"] and demo.counts() == {}


def test_a_fan_out_bomb_stops_at_the_budget(strict: GatewayServer, demo: DemoServer) -> None:
    query = """{ project(workspace: "vision-lab", name: "image-classifier") {
        experiments(first: 100) { edges { node { name tags
          assets { fileName } models { name assets { fileName } } } } } } }"""
    result = strict.post(query)
    assert set(codes(result)) == {"QUERY_TOO_COMPLEX"}
    nodes = [e["node"] for e in result["data"]["project"]["experiments"]["edges"]]
    assert len(nodes) == 100 and all(n["name"] for n in nodes)  # the list was fetched
    assert any(n["tags"] is not None for n in nodes)  # data fetched before the budget ran out
    assert sum(demo.counts().values()) == 40
    assert "upstream calls" in result["errors"][0]["message"]


def raw_post(server: GatewayServer, head: bytes, body: Iterator[bytes]) -> tuple[int, bytes]:
    """POST over a raw socket, reading the answer even if the server stops reading first."""
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head)
        try:
            for part in body:
                sock.sendall(part)
        except OSError:
            pass  # the server answered and closed before taking it all: that is the point
        answer = b""
        while b"\r\n\r\n" not in answer or len(answer) < answer.index(b"\r\n\r\n") + 10:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    status = int(answer.split(b" ", 2)[1])
    return status, answer.split(b"\r\n\r\n", 1)[1]


def test_a_10_mb_body_is_refused_before_it_is_read(strict: GatewayServer,
                                                   demo: DemoServer) -> None:
    head = (b"POST /graphql HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            b"Content-Length: 10000000\r\n\r\n")
    # No byte of the body is sent: an answer at all means it was refused without waiting for it
    # (else the socket's 10 s timeout fails the test).
    status, body = raw_post(strict, head, iter([]))
    assert status == 413 and b"BAD_USER_INPUT" in body and demo.counts() == {}


def test_a_large_chunked_body_is_cut_off(strict: GatewayServer, demo: DemoServer) -> None:
    head = (b"POST /graphql HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")
    piece = b"x" * 10_000
    chunks = (b"%x\r\n%s\r\n" % (len(piece), piece) for _ in range(1000))
    status, body = raw_post(strict, head, chunks)
    assert status == 413 and b"BAD_USER_INPUT" in body and demo.counts() == {}


def test_batched_operations(strict: GatewayServer, demo: DemoServer) -> None:
    def batch(n: int) -> object:
        body = json.dumps([{"query": "{ viewer { userName } }"}] * n).encode()
        return strict.http("POST", "/graphql", body, {"Content-Type": "application/json",
                                                       "Authorization": strict.default_key or ""})

    ok = batch(3)
    assert ok.status == 200  # type: ignore[attr-defined]
    assert ok.json() == [{"data": {"viewer": {"userName": "alice"}}}] * 3  # type: ignore
    refused = batch(4)
    assert refused.status == 400  # type: ignore[attr-defined]
    assert refused.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"  # type: ignore


def test_list_arguments_are_bounded(strict: GatewayServer, demo: DemoServer) -> None:
    result = strict.post("query($k: [ID!]!) { experiments(keys: $k) { key } }",
                         {"k": [str(i) for i in range(501)]})
    assert codes(result) == ["BAD_USER_INPUT"] and demo.counts() == {}


def test_the_operation_deadline(demo: DemoServer) -> None:
    # The upstream would answer after 10 minutes, far past the test client's timeout: an
    # answer at all means the operation deadline cut the wait. (5 s, so that the calls that do
    # answer are in time even on a loaded machine.)
    server = start(Settings(upstream_url=demo.url, operation_deadline=5.0, timeout=30,
                            deadline=60, rate_limit_per_second=0),
                   default_key=demo.keys["alice"])
    demo.fault("experiment/tags", "delay", delay=600)
    query = """{ project(workspace: "alice", name: "sandbox") { name experiments(first: 2) {
        edges { node { name tags } } } } }"""
    try:
        result = server.post(query)
    finally:
        server.stop()
    nodes = [e["node"] for e in result["data"]["project"]["experiments"]["edges"]]
    assert [n["tags"] for n in nodes] == [None, None] and all(n["name"] for n in nodes)
    assert codes(result) == ["QUERY_TOO_COMPLEX"] * 2
    assert "deadline" in result["errors"][0]["message"]


def test_cors(demo: DemoServer) -> None:
    server = start(Settings(upstream_url=demo.url, cors_origins="https://dash.example.com"))
    try:
        headers = {"Origin": "https://dash.example.com", "Access-Control-Request-Method": "POST",
                   "Access-Control-Request-Headers": "authorization,content-type"}
        allowed = server.http("OPTIONS", "/graphql", headers=headers)
        assert allowed.status == 200
        assert allowed.headers["access-control-allow-origin"] == "https://dash.example.com"
        denied = server.http("OPTIONS", "/graphql", headers={**headers,
                                                             "Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in {k.lower() for k in denied.headers}
    finally:
        server.stop()


def test_introspection_can_be_switched_off(demo: DemoServer) -> None:
    server = start(Settings(upstream_url=demo.url, introspection=False))
    try:
        result = server.post("{ __schema { types { name } } }", key=None)
        assert result.get("data") is None and set(codes(result)) == {"BAD_USER_INPUT"}
        assert server.post("{ __typename }", key=None) == {"data": {"__typename": "Query"}}
    finally:
        server.stop()
