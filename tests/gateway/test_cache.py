"""The shared response cache, in process and in a real Redis: hits, lifetimes, what is never
cached, and one key never receiving another key's entries."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from demo_upstream.world import World
from gateway.settings import Settings
from gateway.upstream import ApiKey, CometClient, Transport, UpstreamConfig
from gateway.upstream.memory_cache import MemoryCache
from gateway.upstream.redis_cache import RedisCache
from tests.demo_server import DemoServer, free_port
from tests.gateway_server import GatewayServer, start

WORLD = World()
ALICE_PROJECT = WORLD.project_by_name("vision-lab", "image-classifier")
BOB_PROJECT = WORLD.project_by_name("nlp-research", "sentiment-bert")
assert ALICE_PROJECT is not None and BOB_PROJECT is not None
ALICE_EXPERIMENT = WORLD.headers(ALICE_PROJECT)[0].key
ALICE_RUNNING = WORLD.headers(ALICE_PROJECT)[-1].key  # the demo's newest experiments run
BOB_EXPERIMENT = WORLD.headers(BOB_PROJECT)[0].key

# Queries whose answers differ by key; each key must always get its own answer.
QUERIES = [
    "{ viewer { userName defaultWorkspace { name } } }",
    "{ workspaces { name registryModelCount } }",
    f'{{ experiment(key: "{ALICE_EXPERIMENT}") {{ name tags }} }}',
    f'{{ experiment(key: "{BOB_EXPERIMENT}") {{ name tags }} }}',
    '{ workspace(name: "vision-lab") { name panels { name } } }',
    '{ project(workspace: "nlp-research", name: "sentiment-bert") { name notes } }',
    '{ registryModel(workspace: "vision-lab", name: "resnet-classifier") { name } }',
]


def flush(url: str) -> None:
    """Empty the test Redis, so that each test starts cold."""
    host, port = url.removeprefix("redis://").split("/")[0].split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"FLUSHDB\r\n")
        assert sock.recv(16).startswith(b"+OK")


@pytest.fixture(params=["memory", "redis"])
def cached(request: pytest.FixtureRequest, demo: DemoServer) -> Iterator[GatewayServer]:
    redis = request.getfixturevalue("redis_url") if request.param == "redis" else None
    if redis:
        flush(redis)
    server = start(Settings(upstream_url=demo.url, cache=True, redis_url=redis,
                            rate_limit_per_second=0, cache_ttl_state=30, cache_ttl_running=1,
                            cache_ttls="workspace=30,project=30,registry=30,panel=30,"
                                       "experiment=30"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def truth(demo_session: DemoServer) -> dict[tuple[str, str], Any]:
    """Every (key, query) answer from a gateway without a cache."""
    server = start(Settings(upstream_url=demo_session.url, rate_limit_per_second=0))
    try:
        return {(name, q): server.post(q, key=key) for name, key in demo_session.keys.items()
                for q in QUERIES}
    finally:
        server.stop()


def test_a_repeated_query_is_served_from_the_cache(cached: GatewayServer,
                                                   demo: DemoServer) -> None:
    query = f'{{ experiment(key: "{ALICE_EXPERIMENT}") {{ name tags parameters {{ name }} }} }}'
    first = cached.post(query, key=demo.keys["alice"])
    calls = sum(demo.counts().values())
    assert calls == 3
    assert cached.post(query, key=demo.keys["alice"]) == first
    assert sum(demo.counts().values()) == calls  # nothing more went upstream


def test_entries_expire_by_lifetime(cached: GatewayServer, demo: DemoServer) -> None:
    query = f'{{ experiment(key: "{ALICE_RUNNING}") {{ name metricsSummary {{ name }} }} }}'
    cached.post(query, key=demo.keys["alice"])
    time.sleep(1.2)  # a running experiment's metrics live 1 s here, its metadata 30 s
    cached.post(query, key=demo.keys["alice"])
    assert demo.counts() == {"GET experiment/metadata": 1, "GET experiment/metrics/summary": 2}


def test_downloads_are_never_cached(cached: GatewayServer, demo: DemoServer) -> None:
    path = f"/download/experiment-model?experimentKey={ALICE_EXPERIMENT}&modelName=classifier"
    for _ in range(2):
        answer = cached.http("GET", path, headers={"Authorization": demo.keys["alice"]})
        assert answer.status == 200 and answer.body.startswith(b"PK")
    assert demo.counts() == {"GET experiment/model/download": 2}


def test_a_key_never_gets_another_keys_entries(cached: GatewayServer, demo: DemoServer,
                                               truth: dict[tuple[str, str], Any]) -> None:
    jobs = [(name, q) for q in QUERIES for name in demo.keys] * 3
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda job: cached.post(job[1], key=demo.keys[job[0]]), jobs))
    for job, answer in zip(jobs, answers, strict=True):
        assert answer == truth[job], job
    # and the cache did serve: far fewer upstream calls than answers
    assert sum(demo.counts().values()) < len(jobs)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["alice", "bob", "carol"]),
                          st.sampled_from(range(len(QUERIES)))), min_size=2, max_size=12))
def test_random_interleavings_keep_keys_apart(cached: GatewayServer, demo_session: DemoServer,
                                              truth: dict[tuple[str, str], Any],
                                              jobs: list[tuple[str, int]]) -> None:
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        answers = list(pool.map(
            lambda job: cached.post(QUERIES[job[1]], key=demo_session.keys[job[0]]), jobs))
    for (name, index), answer in zip(jobs, answers, strict=True):
        assert answer == truth[(name, QUERIES[index])]


def test_two_gateways_share_one_redis(demo: DemoServer, redis_url: str) -> None:
    flush(redis_url)
    settings_ = Settings(upstream_url=demo.url, cache=True, redis_url=redis_url,
                         rate_limit_per_second=0)
    one, two = start(settings_), start(settings_)
    try:
        query = f'{{ experiment(key: "{BOB_EXPERIMENT}") {{ name others {{ name }} }} }}'
        first = one.post(query, key=demo.keys["bob"])
        # A process serves a key from the cache once Comet accepted that key there lately.
        two.post("{ viewer { userName } }", key=demo.keys["bob"])
        calls = dict(demo.counts())
        assert two.post(query, key=demo.keys["bob"]) == first
        assert demo.counts() == calls
        assert two.post(query, key=demo.keys["alice"]) == {"data": {"experiment": None}}
    finally:
        one.stop()
        two.stop()


async def test_a_redis_that_is_down_is_a_miss(demo: DemoServer) -> None:
    cache = RedisCache(f"redis://127.0.0.1:{free_port()}/0")
    config = UpstreamConfig(base_url=demo.url)
    async with Transport(config, cache, {"workspace": 60}) as transport:
        client = CometClient(transport, ApiKey(demo.keys["carol"]))
        assert await client.get_workspaces() == ("carol",)
        assert await client.get_workspaces() == ("carol",)
    assert demo.counts() == {"GET workspaces": 2}


async def test_the_memory_cache_is_bounded_and_expires() -> None:
    cache = MemoryCache(max_entries=2)
    await cache.set("a", b"1", 60)
    await cache.set("b", b"2", 60)
    assert await cache.get("a") == b"1"  # a is now the most recent
    await cache.set("c", b"3", 60)
    assert await cache.get("b") is None and await cache.get("a") == b"1" and len(cache) == 2
    await cache.set("d", b"4", 0.01)
    await asyncio.sleep(0.02)
    assert await cache.get("d") is None
