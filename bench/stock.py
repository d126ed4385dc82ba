"""Stock Strawberry: the reference for what GraphQL itself costs on this stack.

A minimal schema of the POINTS answer's shape (project → experiments → edges → node →
allMetrics), whose resolvers return Python objects built once at start-up from an answer the
gateway gave (a JSON file), served by the gateway's stack: uvicorn (httptools) and Strawberry's
own ASGI GraphQL app, with their defaults. `{ __typename }` works too.

`python -m bench.stock --port P --answer FILE` (`servers.stock` starts it).
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, NewType

import strawberry
import uvicorn
from strawberry.asgi import GraphQL
from strawberry.schema.config import StrawberryConfig
from strawberry.types.scalar import ScalarDefinition

if TYPE_CHECKING:
    Long = int
else:
    Long = NewType("Long", int)  # as the gateway's: an integer beyond 32 bits
SCALARS: dict[object, ScalarDefinition] = {
    Long: strawberry.scalar(name="Long", serialize=int, parse_value=int)}


@strawberry.type
class MetricPoint:
    metric_name: str
    metric_value: float | None
    step: Long | None
    timestamp: Long | None


@strawberry.type
class Experiment:
    key: str
    all_metrics: list[MetricPoint] | None


@strawberry.type
class ExperimentEdge:
    node: Experiment


@strawberry.type
class ExperimentConnection:
    edges: list[ExperimentEdge]


@strawberry.type
class Project:
    name: str
    connection: strawberry.Private[ExperimentConnection]

    @strawberry.field
    def experiments(self, first: int | None = None) -> ExperimentConnection:
        return self.connection


PROJECT = Project(name="", connection=ExperimentConnection(edges=[]))


@strawberry.type
class Query:
    @strawberry.field
    def project(self, workspace: str, name: str) -> Project | None:
        return PROJECT


def load(path: str) -> Project:
    project = json.loads(open(path, encoding="utf-8").read())["data"]["project"]
    edges = [ExperimentEdge(node=Experiment(
        key=edge["node"]["key"],
        all_metrics=[MetricPoint(metric_name=p["metricName"], metric_value=p["metricValue"],
                                 step=p["step"], timestamp=p["timestamp"])
                     for p in edge["node"]["allMetrics"] or []]))
        for edge in project["experiments"]["edges"]]
    return Project(name=project.get("name") or "", connection=ExperimentConnection(edges=edges))


def main() -> None:
    global PROJECT
    parser = argparse.ArgumentParser(prog="python -m bench.stock", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--answer", help="a POINTS answer of the gateway (JSON)")
    args = parser.parse_args()
    if args.answer:
        PROJECT = load(args.answer)
    app = GraphQL(strawberry.Schema(query=Query, config=StrawberryConfig(scalar_map=SCALARS)))
    uvicorn.run(app, host="127.0.0.1", port=args.port, http="httptools")


if __name__ == "__main__":
    main()
