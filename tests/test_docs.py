"""Every query in the README and the docs runs, so that none of them can rot."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from gateway.settings import SETTINGS, Settings
from tests.gateway_server import GatewayServer

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
