"""Artifact versions: `Experiment.artifactVersion(version).downloadUrl`, streamed byte for byte
from Comet's artifacts/version/download."""

from __future__ import annotations

import urllib.request
from urllib.parse import urlsplit

from tests.demo_server import DemoServer, with_artifacts
from tests.gateway_server import GatewayServer


def _with_artifacts() -> tuple[str, str]:
    key, versions = with_artifacts()
    return key, versions[-1]


def test_an_artifact_version_downloads_byte_for_byte(gateway: GatewayServer,
                                                     demo: DemoServer) -> None:
    key, version = _with_artifacts()
    data = gateway.data("""query($k: ID!, $v: String!) { experiment(key: $k) {
        artifactVersion(version: $v) { version experiment { key } downloadUrl } } }""",
                        {"k": key, "v": version})
    found = data["experiment"]["artifactVersion"]
    assert found["version"] == version and found["experiment"] == {"key": key}
    assert "artifacts/version/download" not in {r["endpoint"] for r in demo.requests()}
    auth = {"Authorization": gateway.default_key or ""}
    url = urlsplit(found["downloadUrl"])
    through_gateway = gateway.http("GET", f"{url.path}?{url.query}", headers=auth)
    [call] = [r for r in demo.requests() if r["endpoint"] == "artifacts/version/download"]
    assert call["params"] == {"experimentKey": key, "version": version}
    straight = urllib.request.Request(
        f"{demo.url}/api/rest/v2/artifacts/version/download?experimentKey={key}"
        f"&version={version}", headers=auth)
    with urllib.request.urlopen(straight, timeout=10) as answer:
        expected = answer.read()
    assert through_gateway.status == 200 and len(expected) > 0
    assert through_gateway.body == expected


def test_an_unknown_version_is_a_404_download(gateway: GatewayServer) -> None:
    key, _ = _with_artifacts()
    data = gateway.data("""query($k: ID!) { experiment(key: $k) {
        artifactVersion(version: "9.9.9") { downloadUrl } } }""", {"k": key})
    url = urlsplit(data["experiment"]["artifactVersion"]["downloadUrl"])
    answer = gateway.http("GET", f"{url.path}?{url.query}",
                          headers={"Authorization": gateway.default_key or ""})
    assert answer.status == 404 and answer.json()["error"]["code"] == "NOT_FOUND"
