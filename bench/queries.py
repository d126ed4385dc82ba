"""The GraphQL documents the benchmark sends, and counts over their answers."""

from __future__ import annotations

from typing import Any

WS, PROJECT = "vision-lab", "image-classifier"
PAGE = 500  # the most a connection gives at once: larger dashboards ask for pages together

DASHBOARD = """query Dashboard($n: Int!, $after: String) {
  project(workspace: "vision-lab", name: "image-classifier") {
    name
    experiments(first: $n, after: $after) { totalCount edges { node {
      key name
      metricsSummary { name valueCurrent valueMin valueMax }
      parameters { name valueCurrent }
      tags
      metricSeries(names: ["loss", "accuracy"]) { metricName steps values }
    } } }
  }
}"""

# About 9,900 objects from 2,502 upstream calls (500 experiments, five calls each): over the
# default upstream budget of one operation (2,000 calls), so asked as two pages together.
LARGE = """query Large($n: Int!, $after: String) {
  project(workspace: "vision-lab", name: "image-classifier") {
    experiments(first: $n, after: $after) { edges { node {
      key name startTime git { branch }
      metricsSummary { name valueCurrent valueMin valueMax }
      parameters { name valueCurrent } others { name valueCurrent }
      systemDetails { hostname gpus { name } }
  } } } } }"""
LARGE_EXPERIMENTS, LARGE_PAGES = 500, 2
LARGE_PATHS = ("experiment/git/metadata", "experiment/metrics/summary", "experiment/parameters",
               "experiment/log-other", "experiment/system-details")

# About 10,000 metric points (every logged value of 8 experiments) from 10 upstream calls.
POINTS = """query Points($n: Int! = 8) {
  project(workspace: "vision-lab", name: "image-classifier") {
    experiments(first: $n) { edges { node {
      key allMetrics { metricName metricValue step timestamp }
  } } } } }"""

SMALL = """{ project(workspace: "vision-lab", name: "image-classifier") { name } }"""
TYPENAME = "{ __typename }"
# What the soak sends: one experiment, by key.
EXPERIMENT = """query Small($key: ID!) { experiment(key: $key) { name tags } }"""


def objects(value: Any) -> int:
    """JSON objects in an answer."""
    if isinstance(value, dict):
        return 1 + sum(objects(v) for v in value.values())
    if isinstance(value, list):
        return sum(objects(v) for v in value)
    return 0


def points(answer: Any) -> int:
    """Metric points in a POINTS answer."""
    return sum(len(edge["node"]["allMetrics"] or [])
               for edge in answer["data"]["project"]["experiments"]["edges"])


def cursor(offset: int) -> str:
    from gateway.schema.pagination import encode_cursor

    return encode_cursor(offset)
