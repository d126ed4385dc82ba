"""The real Comet Python SDK reads the demo upstream as it reads Comet."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.demo_server import DemoServer

comet_ml = pytest.importorskip("comet_ml")

WS, PROJECT = "vision-lab", "image-classifier"


@pytest.fixture(scope="module")
def sdk_env(demo_session: DemoServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    patch = pytest.MonkeyPatch()
    home = tmp_path_factory.mktemp("home")
    patch.setenv("HOME", str(home))
    patch.setenv("COMET_URL_OVERRIDE", f"{demo_session.url}/clientlib/")
    patch.setenv("COMET_ERROR_TRACKING_ENABLE", "false")
    patch.setenv("COMET_CONFIG", str(home / ".comet.config"))
    patch.delenv("COMET_API_KEY", raising=False)
    yield
    patch.undo()


@pytest.fixture(scope="module")
def api(sdk_env: None, demo_session: DemoServer) -> Any:
    return comet_ml.API(api_key=demo_session.keys["alice"], cache=False)


@pytest.fixture(scope="module")
def experiment(api: Any) -> Any:
    return api.get_experiments(WS, PROJECT)[3]


def test_workspaces_projects_and_account(api: Any) -> None:
    assert api.get_workspaces() == ["alice", "vision-lab"]
    assert sorted(api.get_projects(WS)) == ["image-classifier", "object-detection"]
    assert api.get_account_details() == {"userName": "alice", "defaultWorkspaceName": "alice"}
    notes = api.get_project_notes(WS, PROJECT)
    assert notes.startswith("# image-classifier")


def test_experiments_and_lookup_by_key(api: Any, experiment: Any) -> None:
    experiments = api.get_experiments(WS, PROJECT)
    assert len(experiments) == 113  # 120, less the archived ones
    again = api.get_experiment_by_key(experiment.id)
    assert again.id == experiment.id and again.name == experiment.name
    assert again.project_name == PROJECT and again.workspace == WS


def test_metadata_and_summaries(experiment: Any) -> None:
    metadata = experiment.get_metadata()
    assert metadata["experimentKey"] == experiment.id and metadata["projectName"] == PROJECT
    metrics = {m["name"]: m for m in experiment.get_metrics_summary()}
    assert {"loss", "accuracy", "val_loss"} <= set(metrics)
    assert float(metrics["loss"]["valueMin"]) < float(metrics["loss"]["valueMax"])
    params = {p["name"]: p["valueCurrent"] for p in experiment.get_parameters_summary()}
    assert params["optimizer"] in ("adam", "sgd", "adamw")
    others = {o["name"]: o["valueCurrent"] for o in experiment.get_others_summary()}
    assert others["Name"] == experiment.name
    assert isinstance(experiment.get_tags(), list)


def test_system_git_and_text(experiment: Any) -> None:
    system = experiment.get_system_details()
    assert system["experimentKey"] == experiment.id and system["osType"] == "Linux"
    git = experiment.get_git_metadata()
    assert git["origin"].endswith("image-classifier.git")
    patch = experiment.get_git_patch()
    assert patch is not None and b"diff --git" in patch
    assert experiment.name in experiment.get_html()
    assert "comet_ml" in experiment.get_code()
    assert experiment.get_output().startswith("epoch 0:")


def test_metrics(api: Any, experiment: Any) -> None:
    loss = experiment.get_metrics("loss")
    assert len(loss) >= 120 and loss[0]["step"] == 1
    assert float(loss[-1]["metricValue"]) < float(loss[0]["metricValue"])
    chart = api.get_metrics_for_chart([experiment.id], ["loss", "accuracy"], ["batch_size"])
    series = {m["metricName"]: m for m in chart[experiment.id]["metrics"]}
    assert set(series) == {"loss", "accuracy"}
    assert len(series["loss"]["values"]) == len(series["loss"]["steps"]) <= 500
    assert chart[experiment.id]["params"]["batch_size"] in {"16", "32", "64", "128"}


def test_assets(experiment: Any) -> None:
    assets = experiment.get_asset_list()
    image = next(a for a in assets if a["type"] == "image")
    data = experiment.get_asset(image["assetId"], return_type="binary")
    assert data.startswith(b"\x89PNG") and len(data) == image["fileSize"]
    cm = next(a for a in assets if a["type"] == "confusion-matrix")
    assert json.loads(experiment.get_asset(cm["assetId"], return_type="binary"))["labels"]


def test_models(api: Any) -> None:
    with_model = api.get_experiments(WS, PROJECT)[0]  # every third experiment logs a model
    assert with_model.get_model_names() == ["classifier"]


def test_registry(api: Any, tmp_path: Path) -> None:
    assert api.get_registry_model_names(WS) == ["resnet-classifier", "yolo-detector"]
    details = api.get_registry_model_details(WS, "resnet-classifier")
    assert [v["version"] for v in details["versions"]] == ["2.1.0", "2.0.0", "1.0.0"]
    assert "Promotion checklist" in api.get_registry_model_notes(WS, "resnet-classifier")
    api.download_registry_model(WS, "resnet-classifier", version="2.0.0",
                                output_path=str(tmp_path), expand=True)
    assert (tmp_path / "model.pt").stat().st_size == 64 * 1024


def test_query(api: Any) -> None:
    variables = api.get_query_variables(WS, PROJECT)
    names = {repr(v) for v in variables}
    assert "Metric('loss')" in names and "Parameter('optimizer')" in names
    adam = api.query(WS, PROJECT, comet_ml.api.Parameter("optimizer") == "adam")
    assert adam and all(e.get_parameters_summary("optimizer")["valueCurrent"] == "adam"
                        for e in adam[:5])
    good = api.query(WS, PROJECT, comet_ml.api.Metric("accuracy") > 0.9)
    assert 0 < len(good) < 113


def test_unknown_key_is_refused(sdk_env: None) -> None:
    with pytest.raises(Exception) as caught:
        comet_ml.API(api_key="not-a-demo-key", cache=False).get_workspaces()
    assert "401" in str(caught.value) or "nauthor" in type(caught.value).__name__


