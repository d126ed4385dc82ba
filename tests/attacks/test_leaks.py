"""Keys never reach the log, at any level; answers are never for a shared cache.

Against a real `serve` at DEBUG: keys in the Authorization header (as is, and after `Bearer`),
in a websocket's upgrade and its `connection_init`, with CR/LF, under both websocket protocols,
in faulty requests and in requests the parser refuses; the log then holds no 8 characters in a
row of any of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import urllib.parse
from collections.abc import Iterator

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.demo_server import DemoServer
from tests.serve_process import Served, serve

QUERY = "{ viewer { userName } }"


@pytest.fixture(scope="module")
def chatty(demo_session: DemoServer) -> Iterator[Served]:
    """`serve` logging everything, as JSON."""
    with serve(demo_session.url, env={"COMET_GATEWAY_LOG_LEVEL": "debug"}) as process:
        yield process


def pieces(key: str) -> set[str]:
    """Every 8 characters in a row of `key` (CR and LF are where a log line may break it)."""
    parts = key.replace("\r", "\n").split("\n")
    return {p[i:i + 8] for p in parts for i in range(len(p) - 7)}


async def websocket(url: str, payload: dict[str, object], protocol: str = "graphql-transport-ws",
                    headers: dict[str, str] | None = None) -> None:
    with contextlib.suppress(ConnectionClosed, InvalidStatus, TimeoutError):
        async with connect(url, subprotocols=[protocol],  # type: ignore[list-item]
                           additional_headers=headers, open_timeout=30) as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
            await asyncio.wait_for(ws.recv(), 30)
            start = "subscribe" if protocol == "graphql-transport-ws" else "start"
            await ws.send(json.dumps({"id": "1", "type": start, "payload": {"query": QUERY}}))
            await asyncio.wait_for(ws.recv(), 30)


def raw(process: Served, request: bytes) -> None:
    with socket.create_connection(("127.0.0.1", process.port), timeout=30) as sock:
        sock.sendall(request)
        with contextlib.suppress(OSError):
            sock.recv(65536)


def test_no_key_reaches_the_log_at_debug(chatty: Served, demo: DemoServer) -> None:
    key, fake = demo.keys["alice"], "fakeKeyNotKnownUpstream0123"
    cut = key[:12] + "\r\n" + key[12:]
    for secret in (key, "Bearer " + key, fake):
        chatty.post({"query": QUERY}, key=secret)
        chatty.post(b'{"query": "{ viewer { ', key=secret)  # not JSON
        chatty.post({"query": "{ viewer { nope } }"}, key=secret)  # not valid
        chatty.post({"query": "query($k: ID!) { experiment(key: $k) { name } }",
                     "variables": {"k": None}}, key=secret)
        chatty.http("GET", "/graphql?" + urllib.parse.urlencode({"query": QUERY}),
                    headers={"Authorization": secret})
    for secret in (key, fake):  # refused by the HTTP parser, or with the key folded
        raw(chatty, f"GET /healthz HTTP/1.1\r\nHost: x\r\nAuthorization: {secret}\x00\r\n\r\n"
                    .encode())
        raw(chatty, f"GET /healthz HTTP/1.1\r\nHost: x\r\nAuthorization: {secret[:9]}\r\n "
                    f"{secret[9:]}\r\n\r\n".encode())

    async def websockets() -> None:
        url = chatty.url.replace("http://", "ws://") + "/graphql"
        for secret in (key, fake, cut, key + "\r\n"):
            await websocket(url, {"Authorization": secret})
            await websocket(url, {"authorization": "Bearer " + secret})
            await websocket(url, {"Authorization": secret}, protocol="graphql-ws")
        for secret in (key, fake):
            await websocket(url, {}, headers={"Authorization": secret})

    asyncio.run(websockets())
    log = chatty.log()
    assert '"level": "debug"' in log  # the level the test is about
    leaked = {p for secret in (key, fake, cut) for p in pieces(secret) if p in log}
    assert not leaked, [line for line in log.splitlines() if any(p in line for p in leaked)]


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_graphql_answers_are_private_and_vary_on_the_key(served: Served, demo: DemoServer,
                                                         method: str) -> None:
    key = demo.keys["alice"]
    sent = {"Authorization": key, "Content-Type": "application/json"}
    if method == "GET":
        answers = [served.http("GET", "/graphql?" + urllib.parse.urlencode({"query": q}),
                               headers=sent) for q in (QUERY, "{ nope }")]
    else:
        answers = [served.post({"query": QUERY}, key=key),
                   served.post(b"{not json", key=key)]
    assert answers[0].status == 200 and "errors" in answers[1].json()
    for answer in answers:
        headers = {k.lower(): v for k, v in answer.headers.items()}
        assert headers["cache-control"] == "private"
        varies = {v.strip().lower() for v in headers["vary"].split(",")}
        assert {"authorization", "accept"} <= varies


def test_a_persisted_query_get_is_private(served: Served, demo: DemoServer) -> None:
    import hashlib

    digest = hashlib.sha256(QUERY.encode()).hexdigest()
    extensions = json.dumps({"persistedQuery": {"version": 1, "sha256Hash": digest}})
    served.post({"query": QUERY, "extensions": json.loads(extensions)}, key=demo.keys["bob"])
    answer = served.http("GET", "/graphql?" + urllib.parse.urlencode(
        {"extensions": extensions}), headers={"Authorization": demo.keys["bob"]})
    assert answer.status == 200 and answer.json() == {"data": {"viewer": {"userName": "bob"}}}
    assert answer.headers["cache-control"] == "private"
    assert "Authorization" in answer.headers["vary"]
