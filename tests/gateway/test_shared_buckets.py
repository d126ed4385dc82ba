"""Rate limits in Redis (issue 11, §2): two `serve` processes on one Redis hold one bucket, a
Redis that dies leaves each with its own, and Redis never sees an address or a key."""

from __future__ import annotations

import hashlib

from tests.demo_server import DemoServer
from tests.redis_server import redis_server
from tests.serve_process import Served, serve

BURST = 20
# Hardly any refill during a test: what two processes let through is exactly one burst.
NO_REFILL = {"COMET_GATEWAY_RATE_LIMIT_PER_SECOND": "0.001",
             "COMET_GATEWAY_RATE_LIMIT_BURST": str(BURST)}


def statuses(processes: list[Served], n: int, key: str | None = None) -> list[int]:
    """`n` requests, each to the next process in turn."""
    return [processes[i % len(processes)].post({"query": "{ __typename }"}, key=key).status
            for i in range(n)]


def test_two_processes_hold_one_address_bucket(demo: DemoServer) -> None:
    with redis_server() as redis, \
            serve(demo.url, env={**NO_REFILL, "COMET_GATEWAY_REDIS_URL": redis.url}) as one, \
            serve(demo.url, env={**NO_REFILL, "COMET_GATEWAY_REDIS_URL": redis.url}) as two:
        answers = statuses([one, two], 2 * BURST)
        assert answers.count(200) == BURST, answers  # without Redis: one burst each
        assert set(answers[BURST:]) == {429}
        stored = redis.command(b"KEYS *\r\n")
        assert b"cgw:rl:v1:requests:" in stored
        assert b"127.0.0.1" not in stored
        assert hashlib.sha256(b"127.0.0.1").hexdigest()[:40].encode() in stored
        redis.process.kill()  # Redis dies: each process falls back on a bucket of its own
        redis.process.wait(10)
        assert statuses([one, two], 2 * BURST) == [200] * 2 * BURST
        assert statuses([one], 2) == [429, 429]
        assert statuses([two], 1) == [429]
        complaints = [line for line in one.log().splitlines() if "redis" in line.lower()]
        assert len(complaints) == 1, complaints  # one line when it fails, not one per request


def test_two_processes_hold_one_key_bucket(demo: DemoServer) -> None:
    key = demo.keys["alice"]
    # No cache: the same query again would be answered from Redis, sparing the bucket.
    per_key = {"COMET_GATEWAY_RATE_LIMIT_PER_SECOND": "0", "COMET_GATEWAY_CACHE": "false",
               "COMET_GATEWAY_UPSTREAM_RATE_PER_KEY": "0.001",
               "COMET_GATEWAY_UPSTREAM_BURST_PER_KEY": "3",
               "COMET_GATEWAY_UPSTREAM_BUDGET": "1"}
    query = {"query": "{ viewer { userName } }"}
    with redis_server() as redis, \
            serve(demo.url, env={**per_key, "COMET_GATEWAY_REDIS_URL": redis.url}) as one, \
            serve(demo.url, env={**per_key, "COMET_GATEWAY_REDIS_URL": redis.url}) as two:
        demo.clear_log()
        answers = [p.post(query, key=key) for p in (one, two, one, two, one, two)]
        # Three calls empty the burst; then the key is refused at the door by both (without
        # Redis each would allow three).
        assert [a.status for a in answers] == [200, 200, 200, 429, 429, 429]
        assert sum(demo.counts().values()) == 3
        stored = redis.command(b"KEYS *\r\n")
        assert key.encode() not in stored
        assert hashlib.sha256(key.encode()).hexdigest().encode() not in stored
