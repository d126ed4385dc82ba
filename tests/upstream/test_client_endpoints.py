"""Every endpoint of the client, against the demo upstream over loopback HTTP."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from gateway.upstream import CometClient, Download, Redirect, endpoints, errors
from tests.demo_server import DemoServer

WS, PROJECT = "vision-lab", "image-classifier"


async def first_keys(client: CometClient, n: int = 4) -> list[str]:
    return [e.experiment_key for e in (await client.get_experiments(WS, PROJECT))[:n]]


async def test_account_workspaces_projects(alice: CometClient, demo: DemoServer) -> None:
    account = await alice.get_account_details()
    assert (account.user_name, account.default_workspace_name) == ("alice", "alice")
    assert await alice.get_workspaces() == ("alice", "vision-lab")
    projects = {p.project_name: p for p in await alice.get_projects(WS)}
    assert set(projects) == {"image-classifier", "object-detection"}
    p = projects[PROJECT]
    assert p.workspace_name == WS and p.number_of_experiments == 113 and p.is_public is False
    assert isinstance(p.last_updated, int)
    by_id = await alice.get_project(project_id=p.project_id)
    by_name = await alice.get_project(workspace=WS, project_name=PROJECT)
    assert by_id == by_name == p
    assert demo.counts()["GET project"] == 2


async def test_projects_page(alice: CometClient) -> None:
    page = await alice.get_projects_page(WS, count=1, sort="projectName", order="asc")
    assert page.total_row_count == 2 and page.filtered_row_count == 2
    assert [r.project_name for r in page.rows] == ["image-classifier"]
    assert page.rows[0].experiment_count == 113 and page.rows[0].created_at is not None
    found = await alice.get_projects_page(WS, search="detect")
    assert [r.project_name for r in found.rows] == ["object-detection"]


async def test_project_side_resources(alice: CometClient) -> None:
    p = await alice.get_project(workspace=WS, project_name=PROJECT)
    assert (await alice.get_project_notes(p.project_id) or "").startswith("# image-classifier")
    assert len(await alice.get_project_share_links(p.project_id)) == 1
    columns = await alice.get_project_columns(WS, PROJECT)
    assert {("metrics", "loss"), ("params", "optimizer"), ("tag", "baseline")} <= {
        (c.source, c.name) for c in columns}
    same = await alice.get_project_columns(project_id=p.project_id)
    assert same == columns


async def test_query_project(alice: CometClient) -> None:
    predicates = [{"source": "params", "query": {"condition": "AND", "valid": True, "rules": [
        {"id": "optimizer", "field": "optimizer", "type": "string", "input": "text",
         "operator": "equal", "value": "sgd"}]}}]
    result = await alice.query_project(predicates, workspace=WS, project_name=PROJECT)
    assert result.experiments_in_project == 113 and 0 < len(result.experiment_keys) < 113
    for key in result.experiment_keys[:3]:
        params = {s.name: s.value_current for s in await alice.get_parameters(key)}
        assert params["optimizer"] == "sgd"
    archived = await alice.query_project([], archived=True, workspace=WS, project_name=PROJECT)
    assert archived.experiments_in_project == 7 and len(archived.experiment_keys) == 7


async def test_experiment_list_paging_and_sorting(alice: CometClient) -> None:
    everything = await alice.get_experiments(WS, PROJECT)
    assert len(everything) == 113 and not any(e.archived for e in everything)
    page = await alice.get_experiments(WS, PROJECT, page=2, size=10, sort_by="startTime",
                                       sort_order="desc")
    ordered = sorted(everything, key=lambda e: e.start_time_millis or 0, reverse=True)
    assert [e.experiment_key for e in page] == [e.experiment_key for e in ordered[10:20]]
    archived = await alice.get_experiments(WS, PROJECT, archived=True)
    assert len(archived) == 7 and all(e.archived for e in archived)


async def test_experiment_metadata_and_text(alice: CometClient) -> None:
    key = (await first_keys(alice))[1]
    meta = await alice.get_experiment_metadata(key)
    assert meta.experiment_key == key and meta.project_name == PROJECT
    assert meta.duration_millis == (meta.end_time_millis or 0) - (meta.start_time_millis or 0)
    git = await alice.get_git_metadata(key)
    assert git.origin and git.origin.endswith(f"{PROJECT}.git")
    assert "diff --git" in (await alice.get_git_patch(key) or "")
    no_patch = (await first_keys(alice))[0]  # every fourth experiment has no patch
    assert await alice.get_git_patch(no_patch) is None
    assert meta.experiment_name in (await alice.get_html(key) or "")
    assert "comet_ml" in (await alice.get_code(key) or "")
    assert (await alice.get_output(key) or "").startswith("epoch 0:")
    assert "Sequential" in (await alice.get_graph(key) or "")
    cloud = await alice.get_cloud_details(key)  # index 1: an AWS run
    assert cloud.provider == "aws" and cloud.metadata["region"] == "us-east-1"
    assert json.loads(await alice.get_store(key) or "{}")["status"] == "done"


async def test_experiment_summaries_tags_system(alice: CometClient) -> None:
    key = (await first_keys(alice))[2]
    metrics = {s.name: s for s in await alice.get_metrics_summary(key)}
    assert set(metrics) == {"loss", "accuracy", "learning_rate", "val_loss", "val_accuracy"}
    loss = metrics["loss"]
    assert float(loss.value_min or 0) <= float(loss.value_current or 0) <= float(
        loss.value_max or 0)
    assert metrics["val_loss"].run_context_current == "validate"
    params = {s.name: s.value_current for s in await alice.get_parameters(key)}
    assert params["optimizer"] in {"adam", "sgd", "adamw"} and "learning_rate" in params
    others = {s.name: s.value_current for s in await alice.get_others(key)}
    assert others["Name"].endswith("-0002")
    assert isinstance(await alice.get_tags(key), tuple)
    system = await alice.get_system_details(key)
    assert system.experiment_key == key and system.os_type == "Linux"
    assert system.installed_packages and "comet_ml==3.58.8" in system.installed_packages


async def test_metric_values_and_chart(alice: CometClient, demo: DemoServer) -> None:
    keys = await first_keys(alice, 3)
    loss = await alice.get_metric(keys[0], "loss")
    assert loss[0].step == 1 and loss[0].metric_name == "loss"
    assert (loss[-1].metric_value or 0) < (loss[0].metric_value or 0)
    everything = await alice.get_all_metrics(keys[0])
    assert {p.metric_name for p in everything} == {
        "loss", "accuracy", "learning_rate", "val_loss", "val_accuracy"}
    demo.clear_log()
    chart = await alice.get_multi_metric_chart(keys, ["loss", "val_loss"], ["batch_size"],
                                               independent=False)
    assert demo.counts() == {"POST experiments/multi-metric-chart": 1}
    assert chart.experiments is not None and set(chart.experiments) == set(keys)
    first = chart.experiments[keys[0]]
    series = {m.metric_name: m for m in first.metrics}
    # correlated: only the steps where both metrics have values (validation every 10 steps)
    assert series["loss"].steps == series["val_loss"].steps
    assert all((s or 0) % 10 == 0 for s in series["loss"].steps)
    assert first.params is not None and first.params["batch_size"] in {"16", "32", "64", "128"}


async def test_assets(alice: CometClient, demo: DemoServer) -> None:
    key = (await first_keys(alice))[0]
    assets = await alice.get_asset_list(key)
    images = await alice.get_asset_list(key, "image")
    assert images and all(a.type == "image" for a in images) and len(images) < len(assets)
    image = images[0]
    details = await alice.get_asset_details(key, image.asset_id)
    assert details == image
    by_name = await alice.get_assets_by_name(key, image.file_name or "")
    assert [a.asset_id for a in by_name] == [image.asset_id]
    async with alice.get_asset(key, image.asset_id) as answer:  # redirected to storage
        assert isinstance(answer, Download) and answer.content_type == "image/png"
        data = await answer.read()
    assert data.startswith(b"\x89PNG") and len(data) == image.file_size
    async with alice.get_asset(key, image.asset_id, follow_redirects=False) as answer:
        assert isinstance(answer, Redirect) and "/_storage/" in answer.location
    assert [r["params"].get("allow301") for r in demo.requests()
            if r["endpoint"] == "experiment/asset/get-asset"] == ["True", "True"]


async def test_models_and_downloads(alice: CometClient) -> None:
    key = (await first_keys(alice))[0]
    models = await alice.get_experiment_models(key)
    assert [(m.model_name, m.experiment_key) for m in models] == [("classifier", key)]
    assets = await alice.get_experiment_model_assets(key, "classifier")
    assert sorted(a.file_name or "" for a in assets) == ["config.json", "model.pt"]
    async with alice.download_experiment_model(key, "classifier") as answer:
        chunks = [c async for c in answer.chunks()]
    archive = zipfile.ZipFile(io.BytesIO(b"".join(chunks)))
    assert sorted(archive.namelist()) == ["config.json", "model.pt"]
    assert len(chunks) > 1 and max(map(len, chunks)) <= 64 * 1024  # streamed, not slurped
    async with alice.download_artifact(experiment_key=key, version="1.0.0") as answer:
        assert zipfile.ZipFile(io.BytesIO(await answer.read())).namelist() == ["data.csv"]


async def test_registry(alice: CometClient) -> None:
    models = {m.model_name: m for m in await alice.get_registry_models(WS)}
    assert set(models) == {"resnet-classifier", "yolo-detector"}
    assert await alice.get_registry_model_count(WS) == 2
    latest = models["resnet-classifier"].latest_version
    assert latest is not None and latest.version == "2.1.0" and latest.stages == ("production",)
    details = await alice.get_registry_model_details(WS, "resnet-classifier")
    assert [v.version for v in details.versions or ()] == ["2.1.0", "2.0.0", "1.0.0"]
    version = (details.versions or ())[1]
    assert version.experiment_model and version.experiment_model.experiment_key
    assert {a.file_name for a in version.assets or ()} == {"model.pt", "config.json"}
    made_it = await alice.get_experiment_metadata(version.experiment_model.experiment_key)
    assert made_it.project_name == PROJECT
    notes = await alice.get_registry_model_notes(WS, "resnet-classifier")
    assert notes and "Promotion checklist" in notes
    async with alice.download_registry_model(WS, "resnet-classifier", stage="staging") as a:
        names = zipfile.ZipFile(io.BytesIO(await a.read())).namelist()
    assert sorted(names) == ["config.json", "model.pt"]
    hooks = await alice.get_webhook_config(WS, "resnet-classifier")
    assert hooks.model_name == "resnet-classifier" and hooks.webhook_urls[0].url.startswith(
        "https://hooks.example.com/")


async def test_panels_dashboards_optimizer(alice: CometClient) -> None:
    panels = await alice.get_panels(WS)
    assert sorted(p.template_name or "" for p in panels) == ["Confusion Explorer",
                                                              "Loss Curves"]
    panel = await alice.get_panel(panels[0].template_id)
    assert panel.template_id == panels[0].template_id and panel.code and panel.code.html
    async with alice.download_panel(panels[0].template_id) as answer:
        assert zipfile.ZipFile(io.BytesIO(await answer.read())).namelist() == ["panel.json"]
    project = await alice.get_project(workspace=WS, project_name=PROJECT)
    dashboards = await alice.get_dashboard_templates(WS, project.project_id)
    assert len(dashboards) == 2 and all(d.project_id == project.project_id for d in dashboards)
    dashboard = await alice.get_dashboard(dashboards[0].template_id)
    assert dashboard.template_id == dashboards[0].template_id
    assert dashboard.project_id == project.project_id and dashboard.v2["toggles"]
    first = (await alice.get_experiments(WS, PROJECT))[0]
    assert first.optimization_id
    best = await alice.get_optimizer_best(first.optimization_id)
    assert best.experiment_count == 20 and best.experiment_key and best.metric_value is not None
    best_acc = await alice.get_optimizer_best(first.optimization_id, "accuracy", True)
    assert best_acc.metric_value is not None and best_acc.metric_value > best.metric_value


async def test_missing_things_are_not_found(alice: CometClient) -> None:
    with pytest.raises(errors.NotFound) as caught:
        await alice.get_experiment_metadata("0" * 32)  # Comet answers 400 here
    assert caught.value.status == 400 and caught.value.msg
    with pytest.raises(errors.NotFound) as caught:
        await alice.get_project(workspace=WS, project_name="nope")
    assert caught.value.status == 404
    with pytest.raises(errors.NotFound):
        await alice.get_registry_model_details(WS, "nope")


async def test_keys_see_only_their_own_workspaces(alice: CometClient, bob: CometClient) -> None:
    alice_key = (await first_keys(alice, 1))[0]
    with pytest.raises(errors.NotFound):
        await bob.get_experiment_metadata(alice_key)
    with pytest.raises(errors.Forbidden):
        await bob.get_projects(WS)
    assert await bob.get_workspaces() == ("bob", "nlp-research")
    chart = await bob.get_multi_metric_chart([alice_key], ["loss"])
    assert chart.experiments == {}


def test_every_endpoint_has_a_client_method() -> None:
    import inspect

    source = inspect.getsource(__import__("gateway.upstream.client", fromlist=["x"]))
    missing = [e.name for e in endpoints.ALL if f"ep.{e.name.upper()}" not in source]
    assert missing == [] and len(endpoints.ALL) == 47
