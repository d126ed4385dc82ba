"""Invented keys are free to make, so what one costs Comet is bounded: a key Comet has not
accepted makes one call at a time until it is, and one it refused is not asked about again
for a while. A request carrying an invented key thus costs one upstream call, however many
fields it asks for (before: one per field, 20 here)."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

from demo_upstream.world import World
from tests.demo_server import DemoServer
from tests.serve_process import Served, serve

WORLD = World()
PROJECT = WORLD.project_by_name("vision-lab", "image-classifier")
assert PROJECT is not None
EXPERIMENTS = [h.key for h in WORLD.headers(PROJECT)[:20]]
WIDE = "{ " + " ".join(f'e{i}: experiment(key: "{k}") {{ name tags }}'
                       for i, k in enumerate(EXPERIMENTS)) + " }"


def calls(demo: DemoServer) -> int:
    return sum(demo.counts().values())


def test_an_invented_key_costs_one_call_per_request(served: Served, demo: DemoServer) -> None:
    invented = f"invented{uuid.uuid4().hex}"
    answer = served.post({"query": WIDE}, key=invented).json()
    assert {e["extensions"]["code"] for e in answer["errors"]} == {"UNAUTHENTICATED"}
    assert calls(demo) == 1
    again = served.post({"query": WIDE}, key=invented).json()
    assert {e["extensions"]["code"] for e in again["errors"]} == {"UNAUTHENTICATED"}
    assert calls(demo) == 1  # refused without asking Comet again
    served.post({"query": WIDE}, key=f"invented{uuid.uuid4().hex}")
    assert calls(demo) == 2


def test_a_real_key_is_not_slowed_once_accepted(served: Served, demo: DemoServer) -> None:
    answer = served.post({"query": WIDE}, key=demo.keys["alice"]).json()
    assert "errors" not in answer
    assert all(answer["data"][f"e{i}"]["name"] for i in range(len(EXPERIMENTS)))
    assert calls(demo) == 2 * len(EXPERIMENTS)  # metadata and tags of each, none refused


def test_what_invented_keys_leave_behind_is_bounded(demo_session: DemoServer) -> None:
    """Every key the gateway sees gets state that outlives its request: a concurrency window,
    a place among the recently refused keys. Each such store keeps 10,000 keys at most, so
    past that many invented keys, more of them cost no more memory."""
    def invent(n: int) -> None:
        def one(_: int) -> int:
            return served.post({"query": "{ viewer { userName } }"},
                               key=f"invented{uuid.uuid4().hex}").status

        with ThreadPoolExecutor(max_workers=16) as pool:
            assert set(pool.map(one, range(n))) == {200}

    # The address's rate limit would make this take minutes: what is measured is memory.
    with serve(demo_session.url, env={"COMET_GATEWAY_RATE_LIMIT_PER_SECOND": "0"}) as served:
        invent(11_000)  # past every store's 10,000
        filled = served.rss_kib()
        invent(10_000)
        # Measured: +3.1 MiB for 10,000 more keys (the requests' own passing use); with the
        # stores unbounded, +6.6 MiB.
        assert served.rss_kib() - filled < 5 * 1024
