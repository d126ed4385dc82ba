"""Live metrics across processes (issue 11, §2): two `serve` processes on one Redis poll a feed
once between them, and the subscribers of both receive every new point."""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from demo_upstream.world import World
from tests.demo_server import DemoServer, start
from tests.redis_server import redis_server
from tests.serve_process import serve

JS = Path(__file__).resolve().parents[1] / "js"
WORLD = World()
PROJECT = WORLD.project_by_name("alice", "sandbox")
assert PROJECT is not None
KEYS = [h.key for h in WORLD.headers(PROJECT)][:2]
CHART = "experiments/multi-metric-chart"


@pytest.fixture
def demo() -> Iterator[DemoServer]:
    """A demo upstream of this module's own: the points logged here stay out of the shared one,
    whose live test counts the steps logged before it."""
    server = start()
    try:
        yield server
    finally:
        server.stop()


def test_two_processes_poll_a_feed_once(demo: DemoServer) -> None:
    if shutil.which("node") is None:
        pytest.fail("node is needed for the graphql-ws client")
    key = demo.keys["alice"]
    with redis_server() as redis, \
            serve(demo.url, env={"COMET_GATEWAY_REDIS_URL": redis.url}) as one, \
            serve(demo.url, env={"COMET_GATEWAY_REDIS_URL": redis.url}) as two:
        nodes = [subprocess.Popen(
            ["node", str(JS / "subscribe.mjs"), f"{served.url}/graphql", key,
             json.dumps(KEYS), "loss", "1", "7000", "1"],
            cwd=JS, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for served in (one, two)]
        try:
            for node in nodes:
                assert node.stdout is not None
                assert node.stdout.readline().strip() == "connected 1"
            time.sleep(1.5)  # the first poll sets the baseline
            demo.clear_log()
            first = demo.log_metric(KEYS[0], "loss", [0.05, 0.04, 0.03])
            time.sleep(1.6)
            second = demo.log_metric(KEYS[1], "loss", [0.5])
            time.sleep(1.6)
            polls = sorted(r["at"] for r in demo.requests() if r["endpoint"] == CHART)
            outputs = [node.communicate(timeout=30) for node in nodes]
        finally:
            for node in nodes:
                if node.poll() is None:
                    node.kill()
                    node.wait(10)
        stored = redis.command(b"KEYS *\r\n")
    for out, err in outputs:
        clients = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        assert len(clients) == 1, err
        assert clients[0]["errors"] == []
        got = {(u["experimentKey"], s) for u in clients[0]["updates"] for s in u["steps"]}
        assert got == {(KEYS[0], s) for s in first} | {(KEYS[1], s) for s in second}
    # One poll a second between the two processes: the holder sleeps its interval after each
    # poll; two pollers would poll twice a second, out of step.
    gaps = [b - a for a, b in itertools.pairwise(polls)]
    assert len(polls) >= 2 and min(gaps) >= 0.9, polls
    assert b"cgw:live:v1:" in stored and key.encode() not in stored


def subscriber(url: str, key: str, expected: int) -> subprocess.Popen[str]:
    """A graphql-ws client of `url`, connected; it ends when it has `expected` steps (and 1.5 s
    more, to see any step sent twice), or after a minute."""
    node = subprocess.Popen(
        ["node", str(JS / "subscribe.mjs"), f"{url}/graphql", key, json.dumps(KEYS), "loss",
         "1", "60000", "1", str(expected)],
        cwd=JS, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert node.stdout is not None
    assert node.stdout.readline().strip() == "connected 1"
    return node


def received(node: subprocess.Popen[str]) -> list[tuple[str, int]]:
    out, err = node.communicate(timeout=90)
    clients = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert len(clients) == 1, err
    assert clients[0]["errors"] == []
    return sorted((u["experimentKey"], s) for u in clients[0]["updates"] for s in u["steps"])


def test_a_dead_holders_feed_moves_to_another_process(demo: DemoServer) -> None:
    """The holder is killed (no chance to release its lock): once the lock expires (two
    intervals and 5 s), the other process polls, from the dead holder's last steps, so its
    subscriber misses no point and gets none twice."""
    if shutil.which("node") is None:
        pytest.fail("node is needed for the graphql-ws client")
    key = demo.keys["alice"]
    with redis_server() as redis:
        env = {"COMET_GATEWAY_REDIS_URL": redis.url}
        with serve(demo.url, env=env) as holder, serve(demo.url, env=env) as other:
            first = subscriber(holder.url, key, 1000)  # its process polls: it came first
            try:
                time.sleep(1.5)
                second = subscriber(other.url, key, 4)
                try:
                    time.sleep(1.5)
                    before = demo.log_metric(KEYS[0], "loss", [0.05, 0.04])
                    time.sleep(1.6)  # the holder polls them, and hands them on
                    holder.process.kill()
                    holder.process.wait(10)
                    demo.clear_log()
                    during = demo.log_metric(KEYS[0], "loss", [0.03])  # nobody polls now
                    after = demo.log_metric(KEYS[1], "loss", [0.5])
                    got = received(second)  # within the lock's 7 s and a poll
                finally:
                    if second.poll() is None:
                        second.kill()
                        second.communicate(timeout=10)
            finally:
                first.kill()
                first.communicate(timeout=10)
            polls = [r for r in demo.requests() if r["endpoint"] == CHART]
    assert got == sorted({(KEYS[0], s) for s in before + during} | {(KEYS[1], s) for s in after})
    assert polls, "nobody polled after the holder died"


def test_a_frozen_redis_leaves_every_process_polling_on_its_own(demo: DemoServer) -> None:
    """Redis stops answering mid-subscription: each process then polls for its own subscribers,
    as without Redis, so that no subscriber misses a point logged while Redis is frozen."""
    if shutil.which("node") is None:
        pytest.fail("node is needed for the graphql-ws client")
    key = demo.keys["alice"]
    with redis_server() as redis:
        env = {"COMET_GATEWAY_REDIS_URL": redis.url}
        with serve(demo.url, env=env) as one, serve(demo.url, env=env) as two:
            nodes = [subscriber(served.url, key, 2) for served in (one, two)]
            try:
                time.sleep(1.5)
                redis.freeze()
                try:
                    time.sleep(1.5)
                    frozen = demo.log_metric(KEYS[0], "loss", [0.05, 0.04])
                    # The subscriptions end while Redis is still frozen.
                    got = [received(node) for node in nodes]
                finally:
                    redis.thaw()
            finally:
                for node in nodes:
                    if node.poll() is None:
                        node.kill()
                        node.communicate(timeout=10)
    for steps in got:
        assert steps == sorted((KEYS[0], s) for s in frozen), steps
