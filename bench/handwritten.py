"""The dashboard's upstream calls written by hand with asyncio: the yardstick for the gateway.

The same calls the gateway needs at the minimum, under the same concurrency cap: the project
and its experiment list together, then every experiment's summary, parameters and tags and the
multi-metric-chart batches, all at once.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

import aiohttp


async def dashboard(base: str, key: str, workspace: str, project: str, n: int, cap: int,
                    batch: int) -> tuple[float, int]:
    """Seconds taken and calls made."""
    root = f"{base}/api/rest/v2/"
    gate = asyncio.Semaphore(cap)
    calls = 0
    headers = {"Authorization": key}

    async with aiohttp.ClientSession(headers=headers) as session:
        async def get(path: str, **params: Any) -> Any:
            nonlocal calls
            async with gate:
                calls += 1
                async with session.get(root + path, params=params) as answer:
                    return await answer.json(content_type=None)

        async def post(path: str, body: dict[str, Any]) -> Any:
            nonlocal calls
            async with gate:
                calls += 1
                async with session.post(root + path, json=body) as answer:
                    return await answer.json(content_type=None)

        started = time.perf_counter()
        _, listing = await asyncio.gather(
            get("project", workspaceName=workspace, projectName=project),
            get("experiments", workspaceName=workspace, projectName=project, archived="False",
                page=1, size=n))
        keys = [e["experimentKey"] for e in listing["experiments"]]
        per_experiment = [get(path, experimentKey=k) for k in keys for path in (
            "experiment/metrics/summary", "experiment/parameters", "experiment/tags")]
        charts = [post("experiments/multi-metric-chart", {
            "targetedExperiments": keys[i:i + batch], "metrics": ["accuracy", "loss"],
            "params": [], "independentMetrics": True, "fetchFull": False})
            for i in range(0, len(keys), batch)]
        await asyncio.gather(*per_experiment, *charts)
        return time.perf_counter() - started, calls


def minimum_calls(n: int, batch: int) -> int:
    return 2 + 3 * n + math.ceil(n / batch)


def critical_path(n: int, batch: int, cap: int, latency: float) -> float:
    """One level for the project and its list (fetched together), then the fan-out in waves
    of `cap` calls."""
    fan_out = 3 * n + math.ceil(n / batch)
    return latency * (1 + math.ceil(fan_out / cap))
