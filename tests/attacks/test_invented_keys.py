"""Invented keys are free to make, so what one costs Comet is bounded: a key Comet has not
accepted makes one call at a time until it is, and one it refused is not asked about again
for a while. A request carrying an invented key thus costs one upstream call, however many
fields it asks for (before: one per field, 20 here)."""

from __future__ import annotations

import uuid

from demo_upstream.world import World
from tests.demo_server import DemoServer
from tests.serve_process import Served

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
