"""The gateway's upstream calls written by hand with asyncio: the yardsticks.

`Client(cap=N)` makes at most N calls at once, as the gateway does per API key; `Client(cap=None)`
is the floor: every call of a wave at once, over a connection pool with no limit. Either keeps
one aiohttp session across runs, so that its connections are as warm as the gateway's own.

The dashboard: the project and its experiment list together, then every experiment's summary,
parameters and tags and the multi-metric-chart batches, all at once. The large answer: the
project and its list, then five calls per experiment (`queries.LARGE_PATHS`).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp


class Client:
    def __init__(self, session: aiohttp.ClientSession, base: str, cap: int | None) -> None:
        self.session = session
        self.root = f"{base}/api/rest/v2/"
        self.gate = asyncio.Semaphore(cap) if cap else contextlib.nullcontext()
        self.calls = 0

    async def get(self, path: str, **params: Any) -> Any:
        async with self.gate:
            self.calls += 1
            async with self.session.get(self.root + path, params=params) as answer:
                answer.raise_for_status()
                return await answer.json(content_type=None)

    async def post(self, path: str, body: dict[str, Any]) -> Any:
        async with self.gate:
            self.calls += 1
            async with self.session.post(self.root + path, json=body) as answer:
                answer.raise_for_status()
                return await answer.json(content_type=None)

    async def listing(self, workspace: str, project: str, n: int) -> list[str]:
        _, listing = await asyncio.gather(
            self.get("project", workspaceName=workspace, projectName=project),
            self.get("experiments", workspaceName=workspace, projectName=project,
                     archived="False", page=1, size=n))
        return [e["experimentKey"] for e in listing["experiments"]]

    async def dashboard(self, workspace: str, project: str, n: int, batch: int) -> float:
        """Seconds taken; `calls` counts the calls made."""
        self.calls = 0
        started = time.perf_counter()
        keys = await self.listing(workspace, project, n)
        per_experiment = [self.get(path, experimentKey=k) for k in keys for path in (
            "experiment/metrics/summary", "experiment/parameters", "experiment/tags")]
        charts = [self.post("experiments/multi-metric-chart", {
            "targetedExperiments": keys[i:i + batch], "metrics": ["accuracy", "loss"],
            "params": [], "independentMetrics": True, "fetchFull": False})
            for i in range(0, len(keys), batch)]
        await asyncio.gather(*per_experiment, *charts)
        return time.perf_counter() - started

    async def fetch(self, workspace: str, project: str, n: int, paths: tuple[str, ...]) -> float:
        """The large answer's REST data: seconds taken."""
        self.calls = 0
        started = time.perf_counter()
        keys = await self.listing(workspace, project, n)
        await asyncio.gather(*(self.get(path, experimentKey=k) for k in keys for path in paths))
        return time.perf_counter() - started


@contextlib.asynccontextmanager
async def client(base: str, key: str, cap: int | None) -> AsyncIterator[Client]:
    # Capped: aiohttp's default pool (100) unless the cap is larger; the floor: no limit.
    connector = aiohttp.TCPConnector(limit=0 if cap is None else max(cap, 100))
    async with aiohttp.ClientSession(headers={"Authorization": key}, connector=connector,
                                     timeout=aiohttp.ClientTimeout(total=600)) as session:
        yield Client(session, base, cap)


def minimum_calls(n: int, batch: int) -> int:
    return 2 + 3 * n + math.ceil(n / batch)
