"""The cells about one answer's cost: the large answer against fetching its REST data by hand,
10,000 metric points and a small query against stock Strawberry, and a large answer's memory.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import Any

import aiohttp

from . import handwritten, servers
from .dashboard import post
from .queries import (
    LARGE,
    LARGE_EXPERIMENTS,
    LARGE_PAGES,
    LARGE_PATHS,
    POINTS,
    PROJECT,
    SMALL,
    TYPENAME,
    WS,
    cursor,
    objects,
    points,
)
from .stats import Sample, Targets, interleaved, line


async def answer(session: aiohttp.ClientSession, url: str, key: str, query: str,
                 variables: dict[str, Any] | None = None) -> tuple[float, Any]:
    took, body = await post(session, url, key, query, variables)
    if body.get("errors"):
        raise RuntimeError(f"{url}: {body['errors']}"[:500])
    return took, body


async def seconds(call: Awaitable[tuple[float, Any]]) -> float:
    return (await call)[0]


async def large_answer(session: aiohttp.ClientSession, url: str, key: str,
                       scale: float = 1) -> tuple[float, list[Any]]:
    """LARGE's pages asked together (`scale` shrinks them, for a warm-up of the same shape):
    seconds taken and the answers."""
    total = max(LARGE_PAGES, int(LARGE_EXPERIMENTS * scale))
    size = -(-total // LARGE_PAGES)
    pages = [{"n": size, "after": cursor(start - 1) if start else None}
             for start in range(0, total, size)]
    started = time.perf_counter()
    bodies = await asyncio.gather(*(answer(session, url, key, LARGE, page) for page in pages))
    return time.perf_counter() - started, [body for _, body in bodies]


def large_size(bodies: list[Any]) -> tuple[int, int]:
    """Experiments and objects in LARGE's answers."""
    return (sum(len(body["data"]["project"]["experiments"]["edges"]) for body in bodies),
            sum(objects(body["data"]) for body in bodies))


async def large(upstream: servers.Upstream, gw: servers.Gateway, repetitions: int,
                targets: Targets) -> None:
    """Cache off (the default), upstream latency 0 ms."""
    key = upstream.keys["alice"]
    upstream.latency(0)
    async with aiohttp.ClientSession() as session, \
            handwritten.client(upstream.url, key, None) as floor:
        upstream.clear()
        _, bodies = await large_answer(session, gw.url, key)
        calls = sum(upstream.counts().values())
        n, count = large_size(bodies)
        times = await interleaved({
            "gateway": lambda: seconds(large_answer(session, gw.url, key)),
            "by hand, every call at once": lambda: floor.fetch(WS, PROJECT, n, LARGE_PATHS),
        }, repetitions)
    print(f"\nLarge answer: {count} objects from {calls} upstream calls (by hand: "
          f"{floor.calls}), {LARGE_PAGES} pages of {n // LARGE_PAGES} experiments "
          "asked together (one would pass the default upstream budget), cache off, upstream "
          f"latency 0 ms; median (min–max) of {repetitions} rounds")
    for name, sample in times.items():
        line(f"wall time: {name}", sample.show())
    targets.check("large answer, cache off: gateway ÷ its REST data by hand",
                  times["gateway"].over(times["by hand, every call at once"]), 1.3)


async def metric_points(upstream: servers.Upstream, gw: servers.Gateway, repetitions: int,
                        targets: Targets) -> None:
    """Cache off (the default), upstream latency 0 ms; stock Strawberry serves the gateway's
    own answer from memory."""
    key = upstream.keys["alice"]
    upstream.latency(0)
    async with aiohttp.ClientSession() as session:
        upstream.clear()
        _, body = await answer(session, gw.url, key, POINTS)
        calls = sum(upstream.counts().values())
        with servers.stock(body) as stock:
            _, theirs = await answer(session, stock.url, key, POINTS)
            if theirs.get("data") != body["data"]:
                raise RuntimeError("stock Strawberry's answer differs from the gateway's")
            times = await interleaved({
                "gateway": lambda: seconds(answer(session, gw.url, key, POINTS)),
                "stock Strawberry, from memory": lambda: seconds(
                    answer(session, stock.url, key, POINTS)),
            }, repetitions)
    print(f"\nMetric points: {points(body)} points from {calls} upstream calls, cache off, "
          f"upstream latency 0 ms; median (min–max) of {repetitions} rounds")
    for name, sample in times.items():
        line(f"wall time: {name}", sample.show())
    targets.check("10,000 metric points: gateway ÷ stock Strawberry",
                  times["gateway"].over(times["stock Strawberry, from memory"]), 1.2)


async def cpu_per_request(session: aiohttp.ClientSession, server: servers.Gateway, key: str,
                          query: str, requests: int) -> float:
    """Server CPU seconds per request, `requests` sent by 4 clients at once."""
    remaining = requests

    async def client() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await answer(session, server.url, key, query)

    before = servers.cpu_seconds(server.pid)
    await asyncio.gather(*(client() for _ in range(4)))
    return (servers.cpu_seconds(server.pid) - before) / requests


async def small(upstream: servers.Upstream, cached: servers.Gateway, repetitions: int,
                requests: int, targets: Targets) -> None:
    """The gateway with its cache on (warm); stock Strawberry answers `{ __typename }`."""
    key = upstream.keys["alice"]
    upstream.latency(0)
    async with aiohttp.ClientSession() as session:
        with servers.stock() as stock:
            for server, query in ((cached, SMALL), (stock, TYPENAME)):  # warm
                await cpu_per_request(session, server, key, query, 50)
            upstream.clear()
            times = await interleaved({
                "gateway": lambda: cpu_per_request(session, cached, key, SMALL, requests),
                "stock Strawberry, { __typename }": lambda: cpu_per_request(
                    session, stock, key, TYPENAME, requests),
            }, repetitions, warm=False)
            calls = sum(upstream.counts().values())
    print(f"\nSmall query {SMALL}: server CPU per request over {requests} requests (4 at "
          f"once), cache on and warm ({calls} upstream calls); median (min–max) of "
          f"{repetitions} rounds")
    for name, sample in times.items():
        line(f"CPU a request: {name}", sample.show("ms", 1000, 2))
    targets.check("small query: gateway's CPU ÷ stock Strawberry's { __typename }",
                  times["gateway"].over(times["stock Strawberry, { __typename }"]), 1.0)


async def memory(upstream: servers.Upstream, repetitions: int, targets: Targets) -> None:
    """The large answer in a fresh gateway (defaults, but the cache off: what the answers it
    keeps take is its own budget's, COMET_GATEWAY_CACHE_MAX_BYTES), warmed with a small one of
    the same shape: the peak it adds (VmHWM), and the resident memory left a second later."""
    key = upstream.keys["alice"]
    upstream.latency(0)
    added, left, again, count = [], [], [], 0
    for _ in range(repetitions):
        with servers.gateway(upstream.url, defaults=True, log_level=None,
                             COMET_GATEWAY_CACHE="false", **servers.RATE_LIMITS_OFF) as gw:
            async with aiohttp.ClientSession() as session:
                for _ in range(3):
                    await large_answer(session, gw.url, key, 0.01)
                peak, resident = servers.peak_rss_kib(gw.pid), servers.rss_kib(gw.pid)
                _, bodies = await large_answer(session, gw.url, key)
                count = large_size(bodies)[1]
                added.append((servers.peak_rss_kib(gw.pid) - peak) / 1024)
                del bodies
                for _ in range(3):
                    await large_answer(session, gw.url, key, 0.01)
                await asyncio.sleep(1)
                after = servers.rss_kib(gw.pid)
                left.append((after - resident) / 1024)
                await large_answer(session, gw.url, key)
                await large_answer(session, gw.url, key, 0.01)
                await asyncio.sleep(1)
                again.append((servers.rss_kib(gw.pid) - after) / 1024)
    print(f"\nMemory of one large answer ({count} objects, its pages asked together) in a fresh "
          "gateway, warmed with the same query for 2 × 2 experiments; median (min–max) of "
          f"{repetitions} processes")
    targets.check("large answer: peak memory added", Sample(tuple(added)), 20, "MiB")
    stays = Sample(tuple(left))
    targets.fact("large answer: resident memory left 1 s later", stays.show("MiB", digits=1),
                 "≤ 2 MiB", stays.median <= 2)
    line("(a second large answer adds to that, 1 s later)",
         Sample(tuple(again)).show("MiB", digits=1))
