"""The dashboard cells: the gateway against the hand-written clients and GraphQL Mesh.

Each cell (experiments × upstream latency) times, interleaved: the gateway (pages of
`queries.PAGE` asked together, as a client under the default upstream budget must), the
hand-written client under the gateway's cap, the uncapped floor, and Mesh when it runs.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

import aiohttp

from . import handwritten, mesh, servers
from .queries import DASHBOARD, PAGE, PROJECT, WS, cursor
from .stats import Run, Targets, interleaved, line


async def post(session: aiohttp.ClientSession, url: str, key: str, query: str,
               variables: dict[str, Any] | None = None) -> tuple[float, Any]:
    started = time.perf_counter()
    async with session.post(f"{url}/graphql", json={"query": query, "variables": variables},
                            headers={"Authorization": key},
                            timeout=aiohttp.ClientTimeout(total=600)) as answer:
        body = await answer.json()
    return time.perf_counter() - started, body


class Counted:
    """Runs one system, counting the upstream calls of each run."""

    def __init__(self, upstream: servers.Upstream) -> None:
        self.upstream = upstream
        self.calls: list[int] = []

    async def __call__(self, run: Run) -> float:
        self.upstream.clear()
        took = await run()
        self.calls.append(sum(self.upstream.counts().values()))
        return took


async def cell(upstream: servers.Upstream, gw: servers.Gateway, mesh_url: str | None,
               n: int, latency_ms: float, cap: int, batch: int, repetitions: int,
               targets: Targets) -> None:
    key = upstream.keys["alice"]
    upstream.latency(latency_ms)
    pages = [{"n": min(PAGE, n - start), "after": cursor(start - 1) if start else None}
             for start in range(0, n, PAGE)]
    gateway_calls, mesh_calls = Counted(upstream), Counted(upstream)
    async with aiohttp.ClientSession() as session, \
            handwritten.client(upstream.url, key, cap) as capped, \
            handwritten.client(upstream.url, key, None) as floor:
        async def gateway() -> float:
            started = time.perf_counter()
            answers = await asyncio.gather(*(post(session, gw.url, key, DASHBOARD, page)
                                             for page in pages))
            took = time.perf_counter() - started
            got = 0
            for _, body in answers:
                if body.get("errors"):
                    raise RuntimeError(f"the gateway's dashboard: {body['errors']}"[:500])
                got += len(body["data"]["project"]["experiments"]["edges"])
            if got != n:
                raise RuntimeError(f"the gateway gave {got} experiments, not {n}")
            return took

        async def mesh_run() -> float:
            assert mesh_url
            took, body = await mesh.dashboard(mesh_url, key, n)
            if body.get("errors"):
                raise RuntimeError(f"GraphQL Mesh's dashboard: {body['errors']}"[:500])
            return took

        systems: dict[str, Run] = {
            "gateway": lambda: gateway_calls(gateway),
            "hand-written, same cap": lambda: capped.dashboard(WS, PROJECT, n, batch),
            "hand-written floor, no cap": lambda: floor.dashboard(WS, PROJECT, n, batch)}
        if mesh_url:
            systems["GraphQL Mesh"] = lambda: mesh_calls(mesh_run)
        times = await interleaved(systems, repetitions)
    upstream.latency(0)

    print(f"\nDashboard query, {n} experiments ({len(pages)} page(s) of at most {PAGE}, asked "
          f"together), upstream latency {latency_ms:.0f} ms; median (min–max) of "
          f"{repetitions} rounds")
    for name, sample in times.items():
        line(f"wall time: {name}", sample.show())
    # each page is one GraphQL request: its project and list page are its own two calls
    minimum = handwritten.minimum_calls(n, batch) + 2 * (len(pages) - 1)
    calls = statistics.median(gateway_calls.calls)
    line("gateway: upstream calls / minimum",
         f"{calls:.0f} / {minimum} = {calls / minimum:.2f}")
    ours = times["gateway"]
    line("gateway ÷ hand-written, same cap", ours.over(times["hand-written, same cap"])
         .show("", digits=2))
    targets.check(f"dashboard {n} exp., {latency_ms:.0f} ms: gateway ÷ floor",
                  ours.over(times["hand-written floor, no cap"]), 1.2 if latency_ms else 1.3)
    if times["hand-written floor, no cap"].median > 1.1 * times["hand-written, same cap"].median:
        print("  (the floor is slower than the same-cap client here: every call at once costs "
              "the one demo upstream process more than it saves)")
    if mesh_url:
        theirs = statistics.median(mesh_calls.calls)
        targets.fact(f"dashboard {n} exp., {latency_ms:.0f} ms: Mesh's calls ÷ gateway's",
                     f"{theirs:.0f} / {calls:.0f} = {theirs / calls:.2f}", "> 1",
                     theirs > calls)
        targets.check(f"dashboard {n} exp., {latency_ms:.0f} ms: gateway ÷ Mesh",
                      ours.over(times["GraphQL Mesh"]), 1.0, below=True)
