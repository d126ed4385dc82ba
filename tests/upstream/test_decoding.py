"""Answers decoded into the models: what Comet may send loosely is taken, anything else is one
BadResponse naming the endpoint and the place, never retried. The bodies come from the demo
upstream (a `status` fault with status 200 sends them verbatim), over real HTTP."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway.upstream import CometClient, errors, models
from gateway.upstream.decoding import listing, one
from tests.demo_server import DemoServer


def answer(demo: DemoServer, path: str, body: Any, method: str | None = None) -> None:
    text = body if isinstance(body, str) else json.dumps(body)
    demo.fault(path, "status", status=200, body=text, content_type="application/json",
               method=method)


async def test_loose_values_are_taken_as_the_old_parser_took_them(alice: CometClient,
                                                                  demo: DemoServer) -> None:
    answer(demo, "project", {
        "projectId": 7, "projectName": True, "isPublic": "TRUE", "numberOfExperiments": " 12 ",
        "lastUpdated": 1.7e12, "workspaceId": 0.5, "projectDescription": {"b": [1], "a": None},
        "workspaceName": None, "notAField": {"deep": [1, 2]}})
    project = await alice.get_project(project_id="p")
    assert project == models.Project(
        project_id="7", project_name="true", is_public=True, number_of_experiments=12,
        last_updated=1_700_000_000_000, workspace_id="0.5",
        project_description='{"a": null, "b": [1]}', workspace_name=None)
    assert type(project.last_updated) is int


async def test_text_lists_and_single_fields_take_numbers(alice: CometClient,
                                                         demo: DemoServer) -> None:
    answer(demo, "experiment/tags", {"tags": ["a", 3, 2.5, False]})
    answer(demo, "registry-model/count", {"registryModelCount": "1e3"})
    answer(demo, "project/notes", {"notes": 42})
    assert await alice.get_tags("k") == ("a", "3", "2.5", "false")
    assert await alice.get_registry_model_count("ws") == 1000
    assert await alice.get_project_notes("p") == "42"


async def test_a_null_is_the_fields_default(alice: CometClient, demo: DemoServer) -> None:
    answer(demo, "experiments/multi-metric-chart", {"experiments": {"e1": {
        "experimentKey": "e1", "steps": None, "metrics": [{
            "metricName": "loss", "values": [3, 0.5, "NaN", None, 2**64],
            "steps": [1, "2", 3.0, None, 5], "timestamps": None}]}}}, method="POST")
    chart = await alice.get_multi_metric_chart(["e1"], ["loss"])
    experiment = (chart.experiments or {})["e1"]
    [metric] = experiment.metrics
    assert experiment.steps == () and metric.timestamps == ()
    # Metric values as they came, but an integer beyond 64 bits is a float, as it always was.
    assert metric.values == (3, 0.5, "NaN", None, float(2**64))
    assert [type(v) for v in metric.values] == [int, float, str, type(None), float]
    assert metric.steps == (1, 2, 3, None, 5)


@pytest.mark.parametrize(("body", "where"), [
    ({"projectName": "n"}, "missing required field `projectId`"),
    ({"projectId": None, "projectName": "n"}, "missing required field `projectId`"),
    ({"projectId": "p", "projectName": "n", "isPublic": 2}, "$.isPublic"),
    ({"projectId": "p", "projectName": "n", "isPublic": "yes"}, "$.isPublic"),
    ({"projectId": "p", "projectName": "n", "numberOfExperiments": True}, "$.numberOfExperiments"),
    ({"projectId": "p", "projectName": "n", "numberOfExperiments": 1.5}, "$.numberOfExperiments"),
    ({"projectId": "p", "projectName": "n", "lastUpdated": "soon"}, "$.lastUpdated"),
    ([{"projectId": "p", "projectName": "n"}], "Expected `object`, got `array`"),
])
async def test_a_wrong_type_is_one_bad_response_naming_the_place(
        alice: CometClient, demo: DemoServer, body: Any, where: str) -> None:
    answer(demo, "project", body)
    with pytest.raises(errors.BadResponse) as caught:
        await alice.get_project(project_id="p")
    message = str(caught.value)
    assert message.startswith("project: unexpected shape: ") and where in message
    assert caught.value.endpoint == "project" and caught.value.status == 200
    assert demo.counts() == {"GET project": 1}  # not retried


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-inf", "1e999"])
async def test_a_float_is_always_finite(alice: CometClient, demo: DemoServer,
                                        value: str) -> None:
    answer(demo, "experiment/system-details", {"maxTotalMemory": value, "pid": "12"})
    with pytest.raises(errors.BadResponse) as caught:
        await alice.get_system_details("k")
    assert "$.maxTotalMemory" in str(caught.value)


async def test_a_wrong_type_deep_in_a_list_names_its_place(alice: CometClient,
                                                           demo: DemoServer) -> None:
    rows = [{"experimentKey": f"e{i}"} for i in range(5)]
    rows[3]["experimentName"] = ["not", "a", "name"]  # a list in a text field is JSON text
    rows[4]["durationMillis"] = {"ms": 5}
    answer(demo, "experiments", {"experiments": rows})
    with pytest.raises(errors.BadResponse) as caught:
        await alice.get_experiments(project_id="p")
    assert str(caught.value) == ("experiments: unexpected shape: Expected `int | null`, got "
                                 "`object` - at `$.experiments[4].durationMillis`")


@pytest.mark.parametrize("body", ['{"projectId": "p"', "<html>", "", "[NaN]"])
async def test_what_is_not_json_says_so(alice: CometClient, demo: DemoServer,
                                        body: str) -> None:
    answer(demo, "project", body)
    with pytest.raises(errors.BadResponse) as caught:
        await alice.get_project(project_id="p")
    assert str(caught.value) == "project: the answer is not JSON"


def test_both_paths_agree_on_an_answer_of_the_models_types() -> None:
    """The tolerant path (taken for the whole answer when one value is loose) reads every
    other value as the fast path does."""
    rows = [{"experimentKey": f"e{i}", "experimentName": f"n{i}", "durationMillis": i,
             "archived": i % 2 == 0, "unknown": [i]} for i in range(3)]
    exact = json.dumps({"experiments": rows}).encode()
    loose = json.dumps({"experiments": [*rows, {"experimentKey": 4}]}).encode()
    shape = listing(models.ExperimentMetadata, "experiments")
    assert shape.decode(loose, "experiments")[:3] == shape.decode(exact, "experiments")
    assert shape.decode(loose, "experiments")[3].experiment_key == "4"
    assert one(models.Account) is one(models.Account)  # one decoder per shape, kept
