"""An answer's size is bounded while it is built (issue 9's standard: no request may cost more
than a bounded slice of memory): links make the graph cyclic and the loaders fetch each
resource once, so a few upstream calls could fill an answer of 113³ objects."""

from __future__ import annotations

from tests.demo_server import DemoServer
from tests.serve_process import Served

LEVEL = 'project {{ experiments(first: 500) {{ edges {{ node {{ {inner} }} }} }} }}'


def nested(levels: int) -> str:
    inner = "name"
    for _ in range(levels):
        inner = LEVEL.format(inner=inner)
    return '{ project(workspace: "vision-lab", name: "image-classifier") ' \
           '{ experiments(first: 500) { totalCount edges { node { ' + inner + ' } } } } }'


def test_a_cyclic_bomb_is_cut_at_the_answers_bound(served: Served, demo: DemoServer) -> None:
    key = demo.keys["alice"]
    before_rss, before_cpu = served.rss_kib(), served.cpu_seconds()
    answer = served.post({"query": nested(2)}, key=key).json()
    used_cpu = served.cpu_seconds() - before_cpu
    grown = served.rss_kib() - before_rss
    codes = {e["extensions"]["code"] for e in answer["errors"]}
    assert codes == {"QUERY_TOO_COMPLEX"} and "objects" in answer["errors"][0]["message"]
    # The lists under the bound were built, the one that would pass it is null.
    assert answer["data"]["project"]["experiments"]["totalCount"] == 113
    # 113 × 113 × 113 objects would take gigabytes and minutes; the bound keeps it small.
    print(f"bomb cut: {used_cpu:.2f} s CPU, RSS +{grown / 1024:.0f} MiB")
    assert used_cpu < 10 and grown < 300 * 1024, (used_cpu, grown)
    assert sum(demo.counts().values()) < 20  # the loaders fetched each list once


def test_a_large_real_answer_is_whole(served: Served, demo: DemoServer) -> None:
    answer = served.post({"query": nested(1)}, key=demo.keys["alice"]).json()
    assert "errors" not in answer
    edges = answer["data"]["project"]["experiments"]["edges"]
    assert len(edges) == 113
    assert all(len(e["node"]["project"]["experiments"]["edges"]) == 113 for e in edges)
