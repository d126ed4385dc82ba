"""The dashboard with its series deferred (`@defer`): when its table comes (the first part) and
when its last series does, beside the same query answered whole."""

from __future__ import annotations

import statistics
import time

import aiohttp

from . import servers
from .queries import DASHBOARD
from .stats import Sample, interleaved, line

DEFERRED = DASHBOARD.replace(
    "metricSeries(", '... @defer(label: "series") { metricSeries(').replace(
    "values }", "values } }", 1)
assert DEFERRED != DASHBOARD and "@defer" in DEFERRED


async def cell(upstream: servers.Upstream, gw: servers.Gateway, n: int, latency_ms: float,
               repetitions: int) -> None:
    key = upstream.keys["alice"]
    upstream.latency(latency_ms)
    firsts: list[float] = []
    async with aiohttp.ClientSession() as session:
        async def ask(query: str, accept: str) -> tuple[float, bytes, float | None]:
            started = time.perf_counter()
            first = None
            body = b""
            async with session.post(f"{gw.url}/graphql", headers={
                    "Authorization": key, "Accept": accept},
                    json={"query": query, "variables": {"n": n}},
                    timeout=aiohttp.ClientTimeout(total=600)) as answer:
                async for chunk in answer.content.iter_any():
                    body += chunk
                    if first is None and b'"hasNext":true}\r\n---' in body:
                        first = time.perf_counter() - started
            return time.perf_counter() - started, body, first

        async def whole() -> float:
            took, body, _ = await ask(DASHBOARD, "application/json")
            if b'"errors"' in body:
                raise RuntimeError(f"the gateway's dashboard: {body[:500]!r}")
            return took

        async def in_parts() -> float:
            took, body, first = await ask(DEFERRED, "multipart/mixed;deferSpec=20220824")
            if first is None or b'"errors"' in body:
                raise RuntimeError(f"the gateway's answer in parts: {body[:500]!r}")
            firsts.append(first)
            return took

        times = await interleaved({"whole": whole, "in parts": in_parts}, repetitions)
    upstream.latency(0)
    print(f"\nDashboard query, {n} experiments, series deferred (multipart/mixed), upstream "
          f"latency {latency_ms:.0f} ms; median (min–max) of {repetitions} rounds")
    line("answered whole", times["whole"].show())
    line("in parts: the first (the table)", Sample(tuple(firsts[-repetitions:])).show())
    line("in parts: the last (every series)", times["in parts"].show())
    line("the table's wait ÷ the whole answer's",
         f"{statistics.median(firsts[-repetitions:]) / times['whole'].median:.2f}")
