"""Every query in the README and the docs runs, so that none of them can rot."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from graphql import parse, validate

import demo_upstream
from demo_upstream.app import running_experiments
from demo_upstream.http import WORLD
from gateway.schema import schema
from gateway.settings import SETTINGS, Settings
from tests.gateway_server import GatewayServer
from tests.multipart import merged, read_parts

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"```(\w+)\n(.*?)```", re.S)


def blocks(path: Path) -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in BLOCK.finditer(path.read_text())]


QUERIES = [(path.name, i, text) for path in DOCS
           for i, (lang, text) in enumerate(blocks(path)) if lang == "graphql"]


def test_the_docs_have_queries() -> None:
    assert sum(1 for name, _, _ in QUERIES if name == "cookbook.md") >= 6
    assert sum(1 for name, _, _ in QUERIES if name == "README.md") == 1


@pytest.mark.parametrize(("doc", "index", "query"), QUERIES,
                         ids=[f"{d}#{i}" for d, i, _ in QUERIES])
def test_every_documented_query_runs(gateway: GatewayServer, doc: str, index: int,
                                     query: str) -> None:
    result = gateway.post(query)
    assert "errors" not in result, result.get("errors")
    assert result["data"] and all(v is not None for v in result["data"].values())


def test_the_readme_example_gives_the_answer_shown(gateway: GatewayServer) -> None:
    found = blocks(ROOT / "README.md")
    index = next(i for i, (lang, _) in enumerate(found) if lang == "graphql")
    lang, answer = found[index + 1]
    assert lang == "json"
    assert gateway.post(found[index][1]) == json.loads(answer)


def nulls(value: object, path: str = "") -> list[str]:
    """Where `value` holds a null (or an empty list), as paths."""
    if value is None or value == []:
        return [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in nulls(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in nulls(v, f"{path}[{i}]")]
    return []


def cookbook_query(name: str) -> str:
    return next(q for doc, _, q in QUERIES if doc == "cookbook.md" and f"query {name} " in q)


def test_the_experiment_in_depth_shows_every_field(gateway: GatewayServer) -> None:
    result = gateway.post(cookbook_query("Experiment"))
    assert nulls(result["data"]) == []


def test_the_cookbook_finds_the_experiments_that_tick_live(gateway: GatewayServer) -> None:
    world = demo_upstream.make_app()[WORLD]
    project = next(p for p in world.projects.values() if p.name == "image-classifier")
    in_project = {h.key for h in world.headers(project)}
    found = gateway.post(cookbook_query("Running"))["data"]["project"]["experiments"]["edges"]
    assert [edge["node"]["key"] for edge in found] == [
        key for key in running_experiments(world) if key in in_project]


def test_the_cookbook_subscription_is_valid() -> None:
    text = next(t for lang, t in blocks(ROOT / "docs" / "cookbook.md")
                if lang == "text" and t.startswith("subscription"))
    errors = validate(schema._schema, parse(text.replace("<the key above>", "k")))
    assert errors == []


def test_the_readme_lists_the_code_of_an_unknown_persisted_query(
        gateway: GatewayServer) -> None:
    listed = ROOT.joinpath("README.md").read_text().split("## Errors", 1)[1].split("##", 1)[0]
    body = json.dumps({"extensions": {"persistedQuery": {"version": 1,
                                                         "sha256Hash": "0" * 64}}}).encode()
    answer = gateway.http("POST", "/graphql", body, {"Content-Type": "application/json"})
    code = answer.json()["errors"][0]["extensions"]["code"]
    assert code == "PERSISTED_QUERY_NOT_FOUND" and f"`{code}`" in listed


@pytest.mark.parametrize("doc", ["README.md", "docs/configuration.md"])
def test_the_configuration_tables_are_generated_from_the_settings(doc: str) -> None:
    text = (ROOT / doc).read_text()
    table = text.split("<!-- settings:begin", 1)[1].split("-->", 1)[1].split(
        "<!-- settings:end -->")[0]
    assert table.strip() == Settings.markdown_table().strip(), "run: make regen"
    assert all(f"`{s.env}`" in table for s in SETTINGS)


def test_the_docs_have_the_pages_users_look_for() -> None:
    pages = {p.name for p in (ROOT / "docs").glob("*.md")}
    assert {"getting-started.md", "configuration.md", "cookbook.md", "deployment.md",
            "architecture.md", "security-and-operations.md"} <= pages


def test_the_cookbook_table_comes_before_its_series(gateway: GatewayServer) -> None:
    query = cookbook_query("TableFirst")
    whole = gateway.post(query)
    answer = gateway.http("POST", "/graphql", json.dumps({"query": query}).encode(), {
        "Content-Type": "application/json", "Accept": "multipart/mixed",
        "Authorization": gateway.default_key or ""})
    parts = read_parts(answer.body, answer.headers["content-type"])
    rows = [edge["node"] for edge in parts[0]["data"]["project"]["experiments"]["edges"]]
    assert len(rows) == 113 and not any("metricSeries" in row for row in rows)
    assert len(parts) > 1 and merged(parts) == whole
