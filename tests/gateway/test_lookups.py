"""Direct lookups: a dashboard by templateId, an optimization by id; missing is null."""

from __future__ import annotations

from demo_upstream.world import World
from tests.demo_server import DemoServer
from tests.gateway_server import GatewayServer

WORLD = World()


def _overview() -> tuple[str, str]:
    """The image-classifier's "Training overview" dashboard: its id and its project's id."""
    project = WORLD.project_by_name("vision-lab", "image-classifier")
    assert project is not None
    found = next(d for d in WORLD.dashboards.values()
                 if d.project_id == project.project_id and d.name == "Training overview")
    return found.template_id, project.project_id


def _optimization() -> tuple[str, list[str]]:
    """An optimization of alice's, with its experiments' keys."""
    key = next(h.key for p in WORLD.projects.values() if p.workspace == "vision-lab"
               for h in WORLD.headers(p) if h.optimization_id)
    head = next(h for p in WORLD.projects.values() for h in WORLD.headers(p) if h.key == key)
    assert head.optimization_id is not None
    return head.optimization_id, [h.key for h in WORLD.optimization_members(
        head.optimization_id)]


def test_a_dashboard_by_its_template_id(gateway: GatewayServer, demo: DemoServer) -> None:
    tid, project_id = _overview()
    demo.clear_log()
    data = gateway.data("""query($t: ID!) {
      dashboard(templateId: $t) { templateId id name createdBy isAutoRefreshEnabled
                                  projectDefault project { id name } }
      missing: dashboard(templateId: "nope") { name } }""", {"t": tid})
    assert data["dashboard"] == {
        "templateId": tid, "id": tid, "name": "Training overview", "createdBy": "alice",
        "isAutoRefreshEnabled": True, "projectDefault": False,
        "project": {"id": project_id, "name": "image-classifier"}}
    assert data["missing"] is None
    # The lookup and its fields read one download each; the project is a link.
    assert demo.counts() == {"GET dashboard-templates/download": 2, "GET project": 1}


def test_an_optimization_by_its_id(gateway: GatewayServer, demo: DemoServer) -> None:
    oid, members = _optimization()
    demo.clear_log()
    data = gateway.data("""query($o: ID!) {
      optimization(id: $o) { id experimentCount bestMetricValue bestExperiment { key } }
      high: optimization(id: $o, metricName: "accuracy", maximize: true) {
        bestMetricValue bestExperiment { key } }
      missing: optimization(id: "nope") { id } }""", {"o": oid})
    found = data["optimization"]
    assert found["id"] == oid and found["experimentCount"] == len(members)
    assert found["bestExperiment"]["key"] in members
    low = min(WORLD.experiment(k).metrics["loss"].points[-1].value  # type: ignore[union-attr]
              for k in members)
    assert found["bestMetricValue"] == low
    high = max(WORLD.experiment(k).metrics["accuracy"].points[-1].value  # type: ignore[union-attr]
               for k in members)
    assert data["high"]["bestMetricValue"] == high
    assert data["missing"] is None
    counts = demo.counts()
    assert counts["GET optimizer/best-experiment"] == 3  # one per lookup, its fields included
    assert counts["GET experiment/metadata"] == 2


def test_a_key_never_looks_up_another_keys_dashboard(gateway: GatewayServer,
                                                     demo: DemoServer) -> None:
    tid, _ = _overview()
    oid, _ = _optimization()
    answer = gateway.post("""query($t: ID!, $o: ID!) { dashboard(templateId: $t) { name }
                             optimization(id: $o) { id } }""", {"t": tid, "o": oid},
                          key=demo.keys["bob"])
    assert answer == {"data": {"dashboard": None, "optimization": None}}
