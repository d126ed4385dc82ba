"""Registry model download by stage ("give me production"), beside download by version."""

from __future__ import annotations

from tests.demo_server import DemoServer
from tests.gateway_server import GatewayServer


def test_download_by_stage(gateway: GatewayServer, demo: DemoServer) -> None:
    data = gateway.data("""{ registryModel(workspace: "vision-lab", name: "yolo-detector") {
        production: stageDownloadUrl(stage: "production")
        nowhere: stageDownloadUrl(stage: "archived")
        versions { version stages downloadUrl } } }""")["registryModel"]
    by_stage = {s: v for v in data["versions"] for s in v["stages"]}
    auth = {"Authorization": gateway.default_key or ""}
    demo.clear_log()
    staged = gateway.http("GET", data["production"].removeprefix(gateway.url), headers=auth)
    pinned = gateway.http("GET", by_stage["production"]["downloadUrl"].removeprefix(
        gateway.url), headers=auth)
    assert staged.status == pinned.status == 200 and staged.body == pinned.body
    calls = [r["params"] for r in demo.requests()]
    assert calls == [
        {"workspaceName": "vision-lab", "modelName": "yolo-detector", "stage": "production"},
        {"workspaceName": "vision-lab", "modelName": "yolo-detector",
         "version": by_stage["production"]["version"]}]
    missing = gateway.http("GET", data["nowhere"].removeprefix(gateway.url), headers=auth)
    assert missing.status == 404 and missing.json()["error"]["code"] == "NOT_FOUND"
