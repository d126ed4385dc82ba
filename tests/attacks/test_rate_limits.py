"""Limits that could be walked around (issue 9, §4), against `serve` at its defaults: the rate
limit cannot be dodged by spelling a key otherwise or by moving to a websocket, and it does
not get in the way of real clients (graphql-http's audit, a dashboard of 60 panels)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator

import aiohttp
import pytest

from gateway.settings import Settings
from tests.demo_server import DemoServer
from tests.gateway.test_graphql_over_http import assert_every_audit_passes
from tests.serve_process import Served, serve

DEFAULTS = Settings()


@pytest.fixture
def fresh(demo_session: DemoServer) -> Iterator[Served]:
    """A `serve` of its own at the defaults: each test starts with full buckets."""
    with serve(demo_session.url) as process:
        yield process


@pytest.fixture
def no_refill(demo_session: DemoServer) -> Iterator[Served]:
    """A `serve` whose address bucket (the default burst) hardly refills during a test, so that
    what a flood gets past it is exactly the burst, however long the flood takes."""
    with serve(demo_session.url, env={"COMET_GATEWAY_RATE_LIMIT_PER_SECOND": "0.001"}) as p:
        yield p


async def flood(url: str, authorizations: list[str | None], query: str,
                forwarded: bool = False) -> list[int]:
    """All the requests at once; their HTTP statuses. With `forwarded`, each claims another
    client address in X-Forwarded-For."""
    async with aiohttp.ClientSession() as session:
        async def one(i: int, authorization: str | None) -> int:
            headers = {"Authorization": authorization} if authorization else {}
            if forwarded:
                headers["X-Forwarded-For"] = f"10.{i // 65536}.{i // 256 % 256}.{i % 256}"
            async with session.post(f"{url}/graphql", json={"query": query},
                                    headers=headers) as answer:
                await answer.read()
                return answer.status

        return list(await asyncio.gather(*(one(i, a) for i, a in enumerate(authorizations))))


def test_spelling_the_key_otherwise_gains_nothing(no_refill: Served, demo: DemoServer) -> None:
    key = demo.keys["alice"]
    count = DEFAULTS.rate_limit_burst + 100
    statuses = asyncio.run(flood(no_refill.url, ["Bearer" + " " * (1 + i) + key
                                                 for i in range(count)], "{ __typename }"))
    assert statuses.count(200) == DEFAULTS.rate_limit_burst  # the burst, then refusals
    assert statuses.count(429) == count - DEFAULTS.rate_limit_burst


def test_inventing_keys_gains_nothing(no_refill: Served) -> None:
    count = DEFAULTS.rate_limit_burst + 100
    statuses = asyncio.run(flood(no_refill.url, [f"invented-{i}" for i in range(count)],
                                 "{ __typename }"))
    assert statuses.count(200) == DEFAULTS.rate_limit_burst


def test_claiming_other_addresses_gains_nothing(no_refill: Served) -> None:
    # No proxy is trusted by default, loopback included (a tunnel or port-forward comes from
    # 127.0.0.1): before, each X-Forwarded-For from 127.0.0.1 was another client.
    count = DEFAULTS.rate_limit_burst + 100
    statuses = asyncio.run(flood(no_refill.url, [None] * count, "{ __typename }",
                                 forwarded=True))
    assert statuses.count(200) == DEFAULTS.rate_limit_burst


def test_a_websocket_is_no_way_around_the_limit(no_refill: Served, demo: DemoServer) -> None:
    from websockets.sync.client import connect

    count = DEFAULTS.rate_limit_burst + 100
    with connect(no_refill.url.replace("http", "ws") + "/graphql",
                 subprotocols=["graphql-transport-ws"], open_timeout=10) as ws:
        ws.send(json.dumps({"type": "connection_init",
                            "payload": {"Authorization": demo.keys["alice"]}}))
        assert json.loads(ws.recv(timeout=10))["type"] == "connection_ack"
        for i in range(count):
            ws.send(json.dumps({"id": str(i), "type": "subscribe",
                                "payload": {"query": "{ __typename }"}}))
        kinds: dict[str, int] = {}
        refused = 0
        done = 0
        while done < count:
            message = json.loads(ws.recv(timeout=20))
            kinds[message["type"]] = kinds.get(message["type"], 0) + 1
            done += message["type"] in ("complete", "error")
            refused += message["type"] == "error" and message["payload"][0].get(
                "extensions", {}).get("code") == "RATE_LIMITED"
    # The handshake took one of the burst; operations the rest (strawberry also turns away
    # those past 100 in flight at once); every operation past the burst was refused.
    assert kinds["next"] <= DEFAULTS.rate_limit_burst - 1
    assert refused == count - (DEFAULTS.rate_limit_burst - 1)


def test_sixty_panels_at_once_are_not_throttled(fresh: Served, demo: DemoServer) -> None:
    statuses = asyncio.run(flood(fresh.url, [demo.keys["alice"]] * 60,
                                 "{ viewer { userName } }"))
    assert statuses == [200] * 60


def test_graphql_http_audit_passes_at_the_defaults(fresh: Served) -> None:
    assert_every_audit_passes(f"{fresh.url}/graphql")


def test_a_client_sending_again_at_once_is_slowed_not_served(fresh: Served) -> None:
    """One connection that sends again as soon as it is answered: past its bucket, each
    refusal is paused, so the server spends little CPU on it (unpaused, answering refusals
    thousands of times a second took most of a core)."""
    async def loop(seconds: float) -> int:
        sent = 0
        connector = aiohttp.TCPConnector(limit=1)
        async with aiohttp.ClientSession(connector=connector) as session:
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                async with session.post(f"{fresh.url}/graphql",
                                        json={"query": "{ __typename }"}) as answer:
                    await answer.read()
                    sent += 1
        return sent

    asyncio.run(loop(1.0))  # the burst is spent
    before = fresh.cpu_seconds()
    sent = asyncio.run(loop(3.0))
    used = fresh.cpu_seconds() - before
    assert used < 0.6, (used, sent)
