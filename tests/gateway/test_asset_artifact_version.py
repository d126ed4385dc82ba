"""get-asset's `artifactVersionId`: settable on the asset download route and its downloadUrl."""

from __future__ import annotations

import io
import zipfile
from urllib.parse import parse_qs, urlsplit

from demo_upstream.experiments import digest
from tests.demo_server import DemoServer, with_artifacts
from tests.gateway_server import GatewayServer


def _with_artifacts() -> tuple[str, str]:
    key, versions = with_artifacts()
    return key, versions[0]


def test_an_artifact_version_s_file_downloads_through_get_asset(
        gateway: GatewayServer, demo: DemoServer) -> None:
    key, version = _with_artifacts()
    version_id = digest(key, "artifact", version)
    file_id = digest(key, "artifact", version, "data.csv")
    demo.clear_log()
    answer = gateway.http("GET", f"/download/asset?experimentKey={key}&assetId={file_id}"
                                 f"&artifactVersionId={version_id}",
                          headers={"Authorization": gateway.default_key or ""})
    assert answer.status == 200
    assert zipfile.ZipFile(io.BytesIO(answer.body)).read("data.csv") == (
        f"experiment,version\n{key},{version}\n".encode())
    [call] = demo.requests()
    assert call["endpoint"] == "experiment/asset/get-asset"
    assert call["params"]["artifactVersionId"] == version_id
    # Another experiment's version is Comet's 400: the download's 404.
    wrong = gateway.http("GET", f"/download/asset?experimentKey={key}&assetId={file_id}"
                                "&artifactVersionId=nope",
                         headers={"Authorization": gateway.default_key or ""})
    assert wrong.status == 404 and wrong.json()["error"]["code"] == "NOT_FOUND"


def test_download_url_carries_the_artifact_version(gateway: GatewayServer) -> None:
    key, _ = _with_artifacts()
    data = gateway.data("""query($k: ID!) { experiment(key: $k) { assets {
        plain: downloadUrl  versioned: downloadUrl(artifactVersionId: "v-1") } } }""",
                        {"k": key})
    asset = data["experiment"]["assets"][0]
    assert "artifactVersionId" not in parse_qs(urlsplit(asset["plain"]).query)
    assert parse_qs(urlsplit(asset["versioned"]).query)["artifactVersionId"] == ["v-1"]
