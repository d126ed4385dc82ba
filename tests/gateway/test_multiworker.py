"""Two uvicorn processes sharing one real Redis: the same answers, one cache, one store of
persisted queries."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.demo_server import DemoServer, free_port
from tests.gateway.test_cache import flush
from tests.gateway_server import wait_until_up

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def two_processes(demo: DemoServer, redis_url: str) -> Iterator[list[str]]:
    flush(redis_url)
    env = {**os.environ, "COMET_GATEWAY_UPSTREAM_URL": demo.url, "COMET_GATEWAY_CACHE": "true",
           "COMET_GATEWAY_REDIS_URL": redis_url, "COMET_GATEWAY_RATE_LIMIT_PER_SECOND": "0",
           "COMET_GATEWAY_LOG_LEVEL": "warning"}
    ports = [free_port(), free_port()]
    processes = [subprocess.Popen([sys.executable, "-m", "gateway", "serve", "--port", str(p)],
                                  cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL) for p in ports]
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    try:
        for url in urls:
            wait_until_up(f"{url}/healthz")
        yield urls
    finally:
        for process in processes:
            process.terminate()
            process.wait(20)


def post(url: str, payload: dict[str, Any], key: str) -> Any:
    request = urllib.request.Request(f"{url}/graphql", data=json.dumps(payload).encode(),
                                     method="POST", headers={"Content-Type": "application/json",
                                                             "Authorization": key})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def test_two_processes_share_cache_and_persisted_queries(two_processes: list[str],
                                                         demo: DemoServer) -> None:
    one, two = two_processes
    key = demo.keys["bob"]
    query = ('{ project(workspace: "nlp-research", name: "translation") { name '
             'experiments(first: 5) { edges { node { key tags } } } } }')
    first = post(one, {"query": query}, key)
    assert sum(demo.counts().values()) == 7  # project, list, five tags
    # A process serves a key from the cache once Comet accepted that key there lately.
    post(two, {"query": "{ viewer { userName } }"}, key)
    calls = sum(demo.counts().values())
    assert post(two, {"query": query}, key) == first
    assert sum(demo.counts().values()) == calls  # the other process answered from Redis
    digest = hashlib.sha256(query.encode()).hexdigest()
    ext = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    assert post(one, {"query": query, "extensions": ext}, key) == first
    assert post(two, {"extensions": ext}, key) == first  # the hash, known through Redis
    other = post(two, {"query": query}, demo.keys["alice"])
    assert other["data"] == {"project": None}  # alice cannot see it, cache or not
