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


EXPERIMENT = ("key name startTime endTime tags gitPatch html code output graph "
              "systemDetails { command hostname installedPackages ip os osType user } "
              "git { branch origin parent root user } "
              "project { id name description owner numberOfExperiments notes shareLinks "
              "workspace { name } } workspace { name }")


def copies_of_links(copies: int) -> str:
    """One experiment `copies` times over, with its assets' experiment and the optimizer's best
    experiment, links within links: the loaders fetch each once, the answer holds them all."""
    inner = EXPERIMENT
    for _ in range(4):
        inner = f"{EXPERIMENT} optimizer {{ id bestExperiment {{ {inner} }} }}"
    return ("query($k: [ID!]!) { experiments(keys: $k) { assets { experiment { "
            + inner + " } } } }"), copies


def test_copies_of_one_experiments_links_are_cut_at_the_fields_bound(
        served: Served, demo: DemoServer) -> None:
    key = demo.keys["alice"]
    first = served.post({"query": '{ project(workspace: "vision-lab", name: '
                                  '"image-classifier") { experiments(first: 1) '
                                  "{ edges { node { key } } } } }"}, key=key).json()
    experiment = first["data"]["project"]["experiments"]["edges"][0]["node"]["key"]
    query, copies = copies_of_links(60)
    before_rss, before_cpu = served.rss_kib(), served.cpu_seconds()
    answer = served.post({"query": query, "variables": {"k": [experiment] * copies}},
                         key=key, timeout=120).json()
    used_cpu = served.cpu_seconds() - before_cpu
    grown = served.rss_kib() - before_rss
    print(f"links cut: {used_cpu:.2f} s CPU, RSS +{grown / 1024:.0f} MiB")
    [error] = answer["errors"]  # one error, not one per field refused
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX" and "fields" in error["message"]
    # Uncut, this answer took 24 s and 275 MiB for 60 copies, and 500 copies are allowed.
    assert used_cpu < 12 and grown < 300 * 1024, (used_cpu, grown)


def test_a_flood_of_field_errors_reports_a_hundred(served: Served, demo: DemoServer) -> None:
    """Each field error is located in the text (a walk over the lines before it): 500 keys ×
    30 aliases of a failing field were 15,000 located errors. An answer reports 100; the rest
    are null, and the hundredth error says so."""
    key = demo.keys["alice"]
    first = served.post({"query": '{ project(workspace: "vision-lab", name: '
                                  '"image-classifier") { experiments(first: 1) '
                                  "{ edges { node { key } } } } }"}, key=key).json()
    experiment = first["data"]["project"]["experiments"]["edges"][0]["node"]["key"]
    fields = " ".join(f"s{i}: metricSeries(names: []) {{ metricName }}" for i in range(30))
    query = "\n" * 1500 + "query($k: [ID!]!) { experiments(keys: $k) { " + fields + " } }"
    before = served.cpu_seconds()
    answer = served.post({"query": query, "variables": {"k": [experiment] * 500}},
                         key=key).json()
    used = served.cpu_seconds() - before
    errors = answer["errors"]
    assert len(errors) == 100 and "more fields failed" in errors[-1]["message"]
    assert {e["extensions"]["code"] for e in errors} == {"BAD_USER_INPUT"}
    assert answer["data"]["experiments"][499]["s29"] is None
    assert used < 3, used
