"""Every root field and link of the public contract, over HTTP, against the demo upstream."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest

from demo_upstream.world import World
from tests.demo_server import DemoServer
from tests.gateway_server import GatewayServer

WS, PROJECT = "vision-lab", "image-classifier"
WORLD = World()


def project_id(ws: str = WS, name: str = PROJECT) -> str:
    found = WORLD.project_by_name(ws, name)
    assert found is not None
    return found.project_id


def keys(ws: str = WS, name: str = PROJECT) -> list[str]:
    found = WORLD.project_by_name(ws, name)
    assert found is not None
    return [h.key for h in WORLD.headers(found) if not h.archived]


def test_viewer_and_workspaces(gateway: GatewayServer) -> None:
    data = gateway.data("""{ viewer { userName defaultWorkspace { name }
                                      workspaces { name } }
                             workspaces { name }
                             mine: workspace(name: "vision-lab") { name }
                             theirs: workspace(name: "nlp-research") { name } }""")
    assert data["viewer"] == {"userName": "alice", "defaultWorkspace": {"name": "alice"},
                              "workspaces": [{"name": "alice"}, {"name": "vision-lab"}]}
    assert data["workspaces"] == [{"name": "alice"}, {"name": "vision-lab"}]
    assert data["mine"] == {"name": "vision-lab"} and data["theirs"] is None


def test_project_lookups(gateway: GatewayServer) -> None:
    pid = project_id()
    data = gateway.data("""query($id: ID!) {
      byId: project(id: $id) { id name description owner isPublic numberOfExperiments
                                lastUpdated workspace { name } }
      byName: project(workspace: "vision-lab", name: "image-classifier") { id }
      missing: project(workspace: "vision-lab", name: "nope") { id } }""", {"id": pid})
    assert data["byId"] == {
        "id": pid, "name": PROJECT, "description": "Image Classifier experiments",
        "owner": "alice", "isPublic": False, "numberOfExperiments": 113,
        "lastUpdated": "2025-01-17T00:00:00.000Z", "workspace": {"name": WS}}
    assert data["byName"] == {"id": pid} and data["missing"] is None


def test_project_side_fields(gateway: GatewayServer) -> None:
    data = gateway.data("""{ project(workspace: "vision-lab", name: "image-classifier") {
        notes shareLinks columns { name source type }
        dashboards { templateId name createdBy project { name } isAutoRefreshEnabled
                     projectDefault codePanels { name } pinnedExperiments { key }
                     definition } } }""")["project"]
    assert data["notes"].startswith("# image-classifier") and len(data["shareLinks"]) == 1
    assert {"name": "loss", "source": "metrics", "type": "double"} in data["columns"]
    names = sorted(d["name"] for d in data["dashboards"])
    assert names == ["Hyperparameter sweep", "Training overview"]
    views = {d["name"]: d for d in data["dashboards"]}
    overview = views["Training overview"]
    assert overview["project"] == {"name": PROJECT} and overview["createdBy"] == "alice"
    assert overview["isAutoRefreshEnabled"] is True and overview["projectDefault"] is False
    assert sorted(p["name"] for p in overview["codePanels"]) == ["Confusion Explorer",
                                                                  "Loss Curves"]
    assert overview["pinnedExperiments"] == [{"key": k} for k in keys()[:2]]
    assert overview["definition"]["v2"]["toggles"]["DASHBOARD_TOGGLE"]["isVisible"] is True
    assert views["Hyperparameter sweep"]["codePanels"] == []


def test_workspace_links(gateway: GatewayServer) -> None:
    data = gateway.data("""{ workspace(name: "vision-lab") {
        projects(first: 1) { totalCount pageInfo { hasNextPage endCursor }
                             edges { cursor node { name } } }
        searched: projects(search: "DETECT") { totalCount edges { node { name } } }
        project(name: "object-detection") { name isPublic }
        registryModels { name } registryModelCount
        registryModel(name: "yolo-detector") { name isPublic }
        panels { name owner scopeType } dashboards { name } } }""")["workspace"]
    assert data["projects"]["totalCount"] == 2
    assert data["projects"]["pageInfo"]["hasNextPage"] is True
    after = data["projects"]["pageInfo"]["endCursor"]
    assert data["searched"] == {"totalCount": 1, "edges": [{"node": {"name":
                                                                     "object-detection"}}]}
    assert data["project"] == {"name": "object-detection", "isPublic": True}
    assert sorted(m["name"] for m in data["registryModels"]) == ["resnet-classifier",
                                                                   "yolo-detector"]
    assert data["registryModelCount"] == 2
    assert data["registryModel"] == {"name": "yolo-detector", "isPublic": True}
    assert sorted(p["name"] for p in data["panels"]) == ["Confusion Explorer", "Loss Curves"]
    assert len(data["dashboards"]) == 3
    second = gateway.data("""query($after: String) { workspace(name: "vision-lab") {
        projects(first: 1, after: $after) { pageInfo { hasNextPage hasPreviousPage }
                                            edges { node { name } } } } }""",
                          {"after": after})["workspace"]["projects"]
    assert second["pageInfo"] == {"hasNextPage": False, "hasPreviousPage": True}
    assert len(second["edges"]) == 1


EXPERIMENT_FIELDS = """key name optimizationId startTime endTime durationMillis archived
  running hasCrashed fileName filePath project { id name } workspace { name }
  git { branch origin parent root user } gitPatch html code output graph store
  cloudDetails { provider metadata }
  metricsSummary { name valueCurrent valueMin valueMax stepCurrent timestampCurrent }
  metricSummary(name: "loss") { name valueMin }
  metricHistory(name: "val_loss") { metricName metricValue step epoch timestamp runContext }
  metricSeries(names: ["loss"]) { metricName steps values timestamps durations epochs }
  parameters { name valueCurrent } parameter(name: "optimizer") { valueCurrent }
  others { name valueCurrent } tags
  systemDetails { hostname osType gpus { name totalMemory } installedPackages pid }
  assets { id fileName fileSize type step createdAt downloadUrl experiment { key } }
  images: assets(type: IMAGE) { fileName }
  models { id name experiment { key } assets { fileName } downloadUrl }
  optimizer { id experimentCount bestMetricValue bestExperiment { key } }"""


def test_experiment_fields(gateway: GatewayServer) -> None:
    key = keys()[1]
    truth = WORLD.experiment(key)
    assert truth is not None
    data = gateway.data(f'{{ experiment(key: "{key}") {{ {EXPERIMENT_FIELDS} }} }}')
    e: dict[str, Any] = data["experiment"]
    assert e["key"] == key and e["name"] == truth.name and e["durationMillis"] == truth.duration
    assert e["project"] == {"id": project_id(), "name": PROJECT}
    assert e["workspace"] == {"name": WS} and e["archived"] is False
    assert e["git"]["branch"] == truth.git["branch"] and e["gitPatch"] == truth.patch
    assert e["html"] == truth.html and e["code"] == truth.code and e["output"] == truth.output
    assert e["graph"] == truth.graph and '"status": "done"' in e["store"]
    assert e["cloudDetails"] == {"provider": "aws", "metadata": truth.cloud["metadata"]}
    loss = truth.metrics["loss"].points
    assert e["metricSummary"] == {"name": "loss", "valueMin": min(p.value for p in loss)}
    assert len(e["metricsSummary"]) == 5
    history = e["metricHistory"]
    assert len(history) == len(truth.metrics["val_loss"].points)
    assert history[0]["runContext"] == "validate" and history[0]["step"] == 10
    series = e["metricSeries"][0]
    assert series["metricName"] == "loss" and series["steps"][0] == 1
    assert len(series["values"]) == len(series["timestamps"]) == len(series["durations"])
    assert e["parameter"] == {"valueCurrent": truth.params["optimizer"]}
    assert {p["name"] for p in e["parameters"]} == set(truth.params)
    assert {"name": "Name", "valueCurrent": truth.name} in e["others"]
    assert e["tags"] == list(truth.tags)
    assert e["systemDetails"]["hostname"] == truth.system["hostname"]
    assert len(e["assets"]) == len(truth.assets)
    assert all(a["experiment"] == {"key": key} for a in e["assets"])
    assert len(e["images"]) == sum(1 for a in truth.assets if a.type == "image")
    assert e["models"] == []  # only every third experiment logs one
    assert e["optimizer"]["id"] == truth.optimization_id
    assert e["optimizer"]["experimentCount"] == 20 and e["optimizer"]["bestExperiment"]["key"]


def test_experiments_by_keys_keep_order_and_nulls(gateway: GatewayServer) -> None:
    first, second = keys()[:2]
    data = gateway.data("""query($keys: [ID!]!) { experiments(keys: $keys) { key name } }""",
                        {"keys": [second, "0" * 32, first]})
    assert [e and e["key"] for e in data["experiments"]] == [second, None, first]


def test_models_and_downloads(gateway: GatewayServer) -> None:
    key = keys()[0]
    data = gateway.data(f"""{{ experiment(key: "{key}") {{
        models {{ id name experiment {{ key name }} assets {{ fileName fileSize }} downloadUrl }}
        assets(type: IMAGE) {{ fileSize downloadUrl }} }} }}""")["experiment"]
    model = data["models"][0]
    assert model["name"] == "classifier" and model["experiment"]["key"] == key
    zipped = gateway.http("GET", model["downloadUrl"].removeprefix(gateway.url),
                          headers={"Authorization": gateway.default_key or ""})
    assert zipped.status == 200 and zipped.headers["content-type"] == "application/zip"
    assert sorted(zipfile.ZipFile(io.BytesIO(zipped.body)).namelist()) == ["config.json",
                                                                            "model.pt"]
    image = data["assets"][0]
    png = gateway.http("GET", image["downloadUrl"].removeprefix(gateway.url),
                       headers={"Authorization": gateway.default_key or ""})
    assert png.body.startswith(b"\x89PNG") and len(png.body) == image["fileSize"]


def test_registry_links(gateway: GatewayServer) -> None:
    data = gateway.data("""{ registryModel(workspace: "vision-lab", name: "resnet-classifier") {
        id name description isPublic owner createdAt lastUpdated workspace { name } notes
        webhooks { urls { url headers { key value } } }
        latestVersion { version stages }
        version(version: "2.0.0") { id version stages comment owner createdAt
          assets { fileName } downloadUrl
          experimentModel { id name experiment { key } }
          experiment { key name project { name } } }
        versions { version } } }""")["registryModel"]
    truth = WORLD.registry[(WS, "resnet-classifier")]
    assert data["id"] == truth.model_id and data["workspace"] == {"name": WS}
    assert data["notes"] == truth.notes
    assert data["webhooks"]["urls"][0]["url"] == truth.webhook_urls[0]["url"]
    assert data["latestVersion"] == {"version": "2.1.0", "stages": ["production"]}
    assert [v["version"] for v in data["versions"]] == ["2.1.0", "2.0.0", "1.0.0"]
    version = data["version"]
    made_by = truth.versions[1].experiment_key
    assert version["stages"] == ["staging"]
    assert version["experiment"]["key"] == made_by
    assert version["experiment"]["project"] == {"name": PROJECT}
    assert version["experimentModel"]["experiment"] == {"key": made_by}
    assert sorted(a["fileName"] for a in version["assets"]) == ["config.json", "model.pt"]
    zipped = gateway.http("GET", version["downloadUrl"].removeprefix(gateway.url),
                          headers={"Authorization": gateway.default_key or ""})
    assert zipfile.ZipFile(io.BytesIO(zipped.body)).namelist()
    missing = gateway.data('{ registryModel(workspace: "vision-lab", name: "nope") { id } }')
    assert missing == {"registryModel": None}


def test_registry_model_from_the_workspace_list(gateway: GatewayServer,
                                                demo: DemoServer) -> None:
    data = gateway.data("""{ workspace(name: "vision-lab") { registryModels {
        name latestVersion { version metadata assets { fileName } } } } }""")
    models = {m["name"]: m for m in data["workspace"]["registryModels"]}
    latest = models["resnet-classifier"]["latestVersion"]
    assert latest["version"] == "2.1.0" and len(latest["metadata"]) == 2
    assert sorted(a["fileName"] for a in latest["assets"]) == ["config.json", "model.pt"]
    # the list had no assets: one details call per model fills them in
    assert demo.counts()["GET registry-model/details"] == 2


def test_panels(gateway: GatewayServer) -> None:
    panel = next(p for p in WORLD.panels.values() if p.workspace == WS)
    data = gateway.data(f"""{{ panel(templateId: "{panel.template_id}") {{
        templateId name owner scopeType revisionId createdAt editable voteCount
        code {{ html code description internalResources {{ name version }} }}
        downloadUrl }}
      missing: panel(templateId: "nope") {{ name }} }}""")
    got = data["panel"]
    assert got["name"] == panel.name and got["owner"] == "alice" and got["editable"] is True
    assert got["code"]["html"] == '<div id="chart-mount"></div>'
    assert got["code"]["internalResources"] == [{"name": "Comet SDK", "version": "latest"}]
    zipped = gateway.http("GET", got["downloadUrl"].removeprefix(gateway.url),
                          headers={"Authorization": gateway.default_key or ""})
    assert zipfile.ZipFile(io.BytesIO(zipped.body)).namelist() == ["panel.json"]
    assert data["missing"] is None


def test_metric_chart(gateway: GatewayServer) -> None:
    chosen = keys()[:3]
    data = gateway.data("""query($keys: [ID!]) {
      project(workspace: "vision-lab", name: "image-classifier") {
        all: metricChart(metrics: ["loss"]) { experimentKey }
        some: metricChart(metrics: ["loss", "val_loss"], params: ["optimizer"],
                          experimentKeys: $keys, independent: false) {
          experimentKey experiment { name } metrics { metricName steps } params { key value }
          steps } } }""", {"keys": chosen})["project"]
    assert len(data["all"]) == 113
    assert [e["experimentKey"] for e in data["some"]] == chosen
    entry = data["some"][0]
    assert entry["params"][0]["key"] == "optimizer"
    series = {m["metricName"]: m["steps"] for m in entry["metrics"]}
    assert series["loss"] == series["val_loss"]  # correlated: shared steps only


@pytest.mark.parametrize("ws", ["alice", "nlp-research"])
def test_a_key_never_reads_another_keys_workspace(gateway: GatewayServer, demo: DemoServer,
                                                  ws: str) -> None:
    bob = demo.keys["bob"]
    result = gateway.post('{ workspace(name: "vision-lab") { name } }', key=bob)
    assert result["data"] == {"workspace": None}
    alice_key = keys()[0]
    result = gateway.post(f'{{ experiment(key: "{alice_key}") {{ name }} }}', key=bob)
    assert result["data"] == {"experiment": None}
    own = gateway.data(f'{{ workspace(name: "{ws}") {{ name }} }}', key=bob)
    assert own["workspace"] == ({"name": ws} if ws == "nlp-research" else None)


def test_the_project_browser_page(gateway: GatewayServer, demo: DemoServer) -> None:
    data = gateway.data("""{ workspace(name: "vision-lab") {
        first: projectPage(count: 1, sort: NAME, descending: false) {
          filteredRowCount totalRowCount
          rows { projectId name experimentCount teamName userName isPublic canEdit
                 ownedByViewer createdAt project { id workspaceId } } }
        found: projectPage(search: "detect") { filteredRowCount rows { name } } } }""")
    first = data["workspace"]["first"]
    assert (first["filteredRowCount"], first["totalRowCount"]) == (2, 2)
    row = first["rows"][0]
    assert row["name"] == PROJECT and row["experimentCount"] == 113
    assert row["teamName"] == WS and row["userName"] == "alice" and row["canEdit"] is True
    assert row["project"] == {"id": row["projectId"], "workspaceId": "vision-lab-default"}
    assert data["workspace"]["found"] == {"filteredRowCount": 1,
                                          "rows": [{"name": "object-detection"}]}
    page = next(r for r in demo.requests() if r["endpoint"] == "projects/page")
    assert page["params"]["sort"] == "projectName" and page["params"]["order"] == "asc"


def test_counts_before_the_filter(gateway: GatewayServer) -> None:
    data = gateway.data("""{ project(workspace: "vision-lab", name: "image-classifier") {
        all: experiments(first: 1) { totalCount projectExperimentCount }
        sgd: experiments(first: 1, where: {rules: [{source: PARAMETER, field: "optimizer",
                                                    operator: EQUAL, value: "sgd"}]}) {
          totalCount projectExperimentCount }
        gone: experiments(first: 1, archived: true) { totalCount projectExperimentCount } } }""")
    project = data["project"]
    assert project["all"] == {"totalCount": 113, "projectExperimentCount": 113}
    assert project["sgd"]["projectExperimentCount"] == 113
    assert 0 < project["sgd"]["totalCount"] < 113
    assert project["gone"] == {"totalCount": 7, "projectExperimentCount": 7}


def test_all_metrics_and_single_assets(gateway: GatewayServer, demo: DemoServer) -> None:
    key = keys()[0]
    truth = WORLD.experiment(key)
    assert truth is not None
    image = next(a for a in truth.assets if a.type == "image")
    model_file = truth.models[0].assets[0]
    data = gateway.data(f"""{{ experiment(key: "{key}") {{
        allMetrics {{ metricName }}
        asset(id: "{image.asset_id}") {{ id fileName type step }}
        missing: asset(id: "nope") {{ id }}
        byName: assetsByName(name: "{model_file.file_name}") {{ id type }}
        wrongType: assetsByName(name: "{image.file_name}", type: AUDIO) {{ id }} }} }}""")
    e = data["experiment"]
    assert len(e["allMetrics"]) == sum(len(s.points) for s in truth.metrics.values())
    assert e["asset"] == {"id": image.asset_id, "fileName": image.file_name, "type": "image",
                          "step": image.step}
    assert e["missing"] is None
    assert e["byName"] == [{"id": model_file.asset_id, "type": "model-element"}]
    assert e["wrongType"] == []
    assert demo.counts()["GET experiment/metrics/get-all"] == 1
