"""GraphQL Mesh over docs/comet-openapi.yaml, for the benchmark's side-by-side comparison.

`make bench-mesh` installs @graphql-mesh/cli into bench/mesh (not part of the tests). The
set-up is bench/mesh/.meshrc.yaml: the OpenAPI source and declarative links from an experiment
to its summary, parameters, tags and series, as a user would write them.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp

from .servers import free_port

HERE = Path(__file__).resolve().parent / "mesh"
MESH = HERE / "node_modules" / ".bin" / "mesh"

DASHBOARD = """query Dashboard($size: String!) {
  project(workspaceName: "vision-lab", projectName: "image-classifier") {
    ... on Project { projectName }
  }
  experiments(workspaceName: "vision-lab", projectName: "image-classifier", archived: "False",
              page: "1", size: $size) {
    ... on experiments_200_response { experiments {
      experimentKey experimentName
      metricsSummaryLinked { ... on metricsSummary_200_response {
        values { name valueCurrent valueMin valueMax } } }
      parametersLinked { ... on parameters_200_response { values { name valueCurrent } } }
      tagsLinked { ... on tags_200_response { tags } }
      seriesLinked(names: ["loss", "accuracy"]) { ... on MultiMetricChart { experiments } }
    } }
  }
}"""


def available() -> bool:
    return MESH.exists()


@contextlib.contextmanager
def running(upstream_url: str) -> Iterator[str]:
    env = {**os.environ, "COMET_URL": upstream_url}
    subprocess.run([str(MESH), "build"], cwd=HERE, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    port = free_port()
    with subprocess.Popen([str(MESH), "start", "--port", str(port)], cwd=HERE, env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          start_new_session=True) as process:
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    request = urllib.request.Request(
                        f"{url}/graphql", data=json.dumps({"query": "{ __typename }"}).encode(),
                        headers={"Content-Type": "application/json"}, method="POST")
                    with urllib.request.urlopen(request, timeout=2):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError("GraphQL Mesh did not start") from None
                    time.sleep(0.3)
            yield url
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:  # its workers may wait on idle connections
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)


async def dashboard(url: str, key: str, n: int) -> tuple[float, Any]:
    async with aiohttp.ClientSession() as session:
        started = time.perf_counter()
        async with session.post(f"{url}/graphql", json={"query": DASHBOARD,
                                                        "variables": {"size": str(n)}},
                                headers={"Authorization": key},
                                timeout=aiohttp.ClientTimeout(total=600)) as answer:
            body = await answer.json()
        return time.perf_counter() - started, body
