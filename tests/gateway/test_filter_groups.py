"""`ExperimentFilter.groups`: nested AND/OR, sent as the nested predicates Comet's SDK sends,
bounded before anything goes upstream."""

from __future__ import annotations

import json
from typing import Any

from demo_upstream.world import World
from tests.demo_server import DemoServer
from tests.gateway_server import GatewayServer

WORLD = World()
PROJECT = 'project(workspace: "vision-lab", name: "image-classifier")'
NESTED = """{condition: OR,
  rules: [{source: TAG, field: "fp16", operator: EQUAL, value: "fp16"}],
  groups: [{rules: [{source: PARAMETER, field: "optimizer", operator: EQUAL, value: "sgd"},
                    {source: PARAMETER, field: "epochs", operator: EQUAL, value: "20"}]}]}"""


def expected() -> set[str]:
    project = WORLD.project_by_name("vision-lab", "image-classifier")
    assert project is not None
    found = set()
    for head in WORLD.headers(project):
        e = WORLD.experiment(head.key)
        assert e is not None
        if not head.archived and ("fp16" in e.tags or (
                e.params["optimizer"] == "sgd" and e.params["epochs"] == "20")):
            found.add(e.key)
    return found


def names(data: dict[str, Any]) -> set[str]:
    return {edge["node"]["key"] for edge in data["project"]["experiments"]["edges"]}


def test_a_nested_group_keeps_what_the_and_or_says(gateway: GatewayServer,
                                                   demo: DemoServer) -> None:
    data = gateway.data(f"{{ {PROJECT} {{ experiments(first: 500, where: {NESTED}) {{ "
                        "totalCount edges { node { key } } } } }")
    truth = expected()
    assert 0 < len(truth) < 113  # the filter keeps some and drops some
    assert names(data) == truth and data["project"]["experiments"]["totalCount"] == len(truth)
    [call] = [r for r in demo.requests() if r["endpoint"] == "project/query"]
    assert json.loads(call["body"])["predicates"] == [{"source": "nested", "query": {
        "condition": "OR", "valid": True, "rules": [
            {"id": "fp16", "field": "fp16", "type": "string", "input": "text",
             "operator": "equal", "value": "fp16", "source": "tag"},
            {"condition": "AND", "valid": True, "rules": [
                {"id": "optimizer", "field": "optimizer", "type": "string", "input": "text",
                 "operator": "equal", "value": "sgd", "source": "params"},
                {"id": "epochs", "field": "epochs", "type": "double", "input": "text",
                 "operator": "equal", "value": "20", "source": "params"}]}]}}]


def test_flat_filters_are_sent_as_before(gateway: GatewayServer, demo: DemoServer) -> None:
    gateway.data(f"""{{ {PROJECT} {{ experiments(first: 1, where: {{rules: [
        {{source: PARAMETER, field: "optimizer", operator: EQUAL, value: "sgd"}}]}}) {{
        totalCount }} }} }}""")
    [call] = [r for r in demo.requests() if r["endpoint"] == "project/query"]
    assert json.loads(call["body"])["predicates"] == [{"source": "params", "query": {
        "condition": "AND", "valid": True, "rules": [
            {"id": "optimizer", "field": "optimizer", "type": "string", "input": "text",
             "operator": "equal", "value": "sgd"}]}}]


RULE = '{source: TAG, field: "x", operator: EQUAL, value: "x"}'


def nest(depth: int) -> str:
    where = f"{{rules: [{RULE}]}}"
    for _ in range(depth):
        where = f"{{groups: [{where}]}}"
    return where


def test_bounds_are_bad_user_input_before_any_upstream_call(gateway: GatewayServer,
                                                            demo: DemoServer) -> None:
    wide = "{groups: [" + ", ".join(f"{{rules: [{RULE}]}}" for _ in range(51)) + "]}"
    for where, words in [(nest(5), "at most 4 deep"), (wide, "1 to 50 rules"),
                         ("{rules: [], groups: [{rules: []}]}", "needs a rule or a group"),
                         ("{rules: []}", "needs a rule or a group")]:
        result = gateway.post(f"{{ {PROJECT} {{ experiments(where: {where}) {{ totalCount }} }} }}")
        [error] = result["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT" and words in error["message"]
    assert "project/query" not in {r["endpoint"] for r in demo.requests()}
    assert "errors" not in gateway.post(
        f"{{ {PROJECT} {{ experiments(where: {nest(4)}) {{ totalCount }} }} }}")
