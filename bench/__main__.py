"""`python -m bench`: the gateway measured against the minimum, the critical path, a
hand-written asyncio client (and GraphQL Mesh, when `bench/mesh` is installed), in one run.

Everything printed is a ratio or a count measured in this run; absolute times are shown for
context only. Options: `--quick` (fewer repetitions), `--skip-mesh`.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import math
import pstats
import statistics
import time
from typing import Any

import aiohttp

from . import handwritten, mesh, servers

WS, PROJECT = "vision-lab", "image-classifier"
BATCH = 100  # the gateway's default: experiments per multi-metric-chart call
CAP = 16  # upstream calls in flight per key: the gateway's default, or --cap

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

SMALL = """query Small($key: ID!) { experiment(key: $key) { name tags } }"""
LARGE = """query Large { project(workspace: "vision-lab", name: "image-classifier") {
  experiments(first: 500) { edges { node {
    key name startTime git { branch }
    metricsSummary { name valueCurrent valueMin valueMax }
    parameters { name valueCurrent } others { name valueCurrent }
    systemDetails { hostname gpus { name } }
  } } } } }"""


def cursor(offset: int) -> str:
    from gateway.schema.pagination import encode_cursor

    return encode_cursor(offset)


def objects(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + sum(objects(v) for v in value.values())
    if isinstance(value, list):
        return sum(objects(v) for v in value)
    return 0


async def post(session: aiohttp.ClientSession, url: str, key: str, query: str,
               variables: dict[str, Any] | None = None) -> tuple[float, Any]:
    started = time.perf_counter()
    async with session.post(f"{url}/graphql", json={"query": query, "variables": variables},
                            headers={"Authorization": key}) as answer:
        body = await answer.json()
    return time.perf_counter() - started, body


def line(label: str, value: str) -> None:
    print(f"  {label:<58} {value}")


async def dashboard(upstream: servers.Upstream, gw: servers.Gateway, n: int, latency: float,
                    mesh_url: str | None) -> None:
    key = upstream.keys["alice"]
    upstream.latency(latency * 1000)
    pages = [{"n": min(PAGE, n - start), "after": cursor(start - 1) if start else None}
             for start in range(0, n, PAGE)]
    async with aiohttp.ClientSession() as session:
        await post(session, gw.url, key, DASHBOARD, {"n": 2})  # warm the connections
        upstream.clear()
        started = time.perf_counter()
        answers = await asyncio.gather(*(post(session, gw.url, key, DASHBOARD, page)
                                         for page in pages))
        took = time.perf_counter() - started
    got = 0
    for _, body in answers:
        assert "errors" not in body, body.get("errors")
        got += len(body["data"]["project"]["experiments"]["edges"])
    calls = sum(upstream.counts().values())
    # each page is one GraphQL request: its project and list page are its own two calls
    minimum = handwritten.minimum_calls(got, BATCH) + 2 * (len(pages) - 1)
    critical = handwritten.critical_path(got, BATCH, CAP, latency)
    upstream.clear()
    by_hand, hand_calls = await handwritten.dashboard(upstream.url, key, WS, PROJECT, got, CAP,
                                                      BATCH)
    print(f"\nDashboard query, {got} experiments ({len(pages)} page(s) of at most {PAGE}, "
          f"asked together), upstream latency {latency * 1000:.0f} ms")
    line("upstream calls / minimum", f"{calls} / {minimum} = {calls / minimum:.2f}")
    if latency:
        line("wall time / critical path", f"{took:.3f}s / {critical:.3f}s = "
                                          f"{took / critical:.2f}")
    line("wall time / hand-written asyncio (same calls, same cap)",
         f"{took:.3f}s / {by_hand:.3f}s = {took / by_hand:.2f}  ({hand_calls} calls)")
    if mesh_url:
        upstream.clear()
        mesh_took, mesh_body = await mesh.dashboard(mesh_url, key, n)
        mesh_calls = sum(upstream.counts().values())
        line("GraphQL Mesh: upstream calls / gateway's",
             f"{mesh_calls} / {calls} = {mesh_calls / calls:.2f}")
        line("GraphQL Mesh: wall time / gateway's",
             f"{mesh_took:.3f}s / {took:.3f}s = {mesh_took / took:.2f}")
        if mesh_body.get("errors"):
            line("GraphQL Mesh errors", str(mesh_body["errors"])[:200])


async def throughput(gw: servers.Gateway, key: str, query: str, variables: dict[str, Any],
                     total: int, clients: int) -> tuple[float, list[float], Any]:
    latencies: list[float] = []
    last: Any = None
    remaining = total

    async def client(session: aiohttp.ClientSession) -> None:
        nonlocal remaining, last
        while remaining > 0:
            remaining -= 1
            took, last = await post(session, gw.url, key, query, variables)
            latencies.append(took)

    async with aiohttp.ClientSession() as session:
        started = time.perf_counter()
        await asyncio.gather(*(client(session) for _ in range(clients)))
        elapsed = time.perf_counter() - started
    return total / elapsed, latencies, last


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1)]


async def overhead(upstream: servers.Upstream, gw: servers.Gateway, quick: bool) -> None:
    """At 0 ms upstream latency, with the cache warm: what the gateway itself costs."""
    key = upstream.keys["alice"]
    upstream.latency(0)
    async with aiohttp.ClientSession() as session:
        _, listing = await post(session, gw.url, key, DASHBOARD, {"n": 1})
    experiment = listing["data"]["project"]["experiments"]["edges"][0]["node"]["key"]
    print("\nGateway overhead, upstream latency 0 ms, cache warm")
    for name, query, variables, total in (("small", SMALL, {"key": experiment}, 400 if quick
                                           else 2000),
                                          ("large", LARGE, {}, 10 if quick else 30)):
        await throughput(gw, key, query, variables, 5, 1)  # warm the cache
        rate, latencies, last = await throughput(gw, key, query, variables, total, 8)
        count = objects(last.get("data"))
        line(f"{name} query ({count} objects): requests/s", f"{rate:.0f}")
        line(f"{name} query: p50 / p99",
             f"{percentile(latencies, 50) * 1000:.1f} ms / "
             f"{percentile(latencies, 99) * 1000:.1f} ms")
        if name == "large":
            single = statistics.median(
                [(await throughput(gw, key, query, variables, 1, 1))[1][0] for _ in range(5)])
            line("large query alone, median of 5", f"{single * 1000:.0f} ms "
                                                   f"(target < 1000 ms)")


async def memory(upstream: servers.Upstream, gw: servers.Gateway, quick: bool) -> None:
    key = upstream.keys["alice"]
    async with aiohttp.ClientSession() as session:
        _, listing = await post(session, gw.url, key, DASHBOARD, {"n": 50})
    keys = [e["node"]["key"] for e in listing["data"]["project"]["experiments"]["edges"]]
    total = 2000 if quick else 10_000
    await throughput(gw, key, SMALL, {"key": keys[0]}, 500, 8)
    before = servers.rss_kib(gw.pid)
    rate, _, _ = await throughput(gw, key, SMALL, {"key": keys[1]}, total, 8)
    after = servers.rss_kib(gw.pid)
    print(f"\nMemory over {total} requests ({rate:.0f}/s)")
    line("RSS after warm-up -> after", f"{before / 1024:.1f} MiB -> {after / 1024:.1f} MiB "
                                       f"({(after - before) / 1024:+.1f} MiB, "
                                       f"{(after - before) * 1024 / total:+.0f} B/request)")
    line("peak RSS", f"{servers.peak_rss_kib(gw.pid) / 1024:.1f} MiB")


async def profile(upstream_url: str, key: str) -> None:
    """The large query executed in this process, cache warm, under cProfile."""
    from gateway.context import Context
    from gateway.loaders import Loaders
    from gateway.schema import build_schema
    from gateway.settings import Settings
    from gateway.upstream import ApiKey, CometClient, Transport
    from gateway.upstream.cache import MemoryCache

    settings = Settings(upstream_url=upstream_url)
    schema = build_schema()

    async def run() -> pstats.Stats:
        async with Transport(settings.upstream(), MemoryCache(100_000),
                             {f: 3600 for f in settings.ttls()}) as transport:
            async def once() -> None:
                client = CometClient(transport, ApiKey(key))
                context = Context(client=client, loaders=Loaders(client, 100),
                                  settings=settings, request_id="bench", base_url="http://x/")
                result = await schema.execute(LARGE, context_value=context)
                assert not result.errors, result.errors

            await once()
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(3):
                await once()
            profiler.disable()
            return pstats.Stats(profiler)

    stats = await run()
    out = io.StringIO()
    stats.stream = out  # type: ignore[attr-defined]
    stats.sort_stats("tottime").print_stats(12)
    print("\nCPU profile of the large query (3 runs, cache warm), top entries by own time")
    for text in out.getvalue().splitlines():
        if text.strip() and ("{" in text or "/" in text or "ncalls" in text):
            print("  " + text.strip()[:150])


async def main_async(args: argparse.Namespace) -> None:
    mesh_ready = not args.skip_mesh and mesh.available()
    if not mesh_ready and not args.skip_mesh:
        print("(GraphQL Mesh is not installed: `make bench-mesh` installs it; skipping it)")
    global CAP
    CAP = args.cap
    print(f"(upstream calls in flight per API key, gateway and hand-written client: {CAP}; "
          "GraphQL Mesh has no such cap)")
    capped = {"COMET_GATEWAY_MAX_CONCURRENCY_PER_KEY": str(CAP),
              "COMET_GATEWAY_MAX_CONCURRENCY": str(max(CAP, 64))}
    for n, scale in ((100, 1), (1000, 9)):
        with servers.upstream(scale) as up, servers.gateway(up.url, **capped) as gw:
            with mesh.running(up.url) if mesh_ready else _nothing() as mesh_url:
                for latency in (0.0, 0.025):
                    await dashboard(up, gw, n, latency, mesh_url)
            if n == 1000:
                with servers.gateway(up.url, COMET_GATEWAY_CACHE="true",
                                     COMET_GATEWAY_CACHE_TTLS=",".join(
                                         f"{f}=3600" for f in ("workspace", "project",
                                                               "registry", "panel",
                                                               "experiment", "metrics"))
                                     ) as cached:
                    await overhead(up, cached, args.quick)
                    await memory(up, cached, args.quick)
                await profile(up.url, up.keys["alice"])


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--skip-mesh", action="store_true", help="leave GraphQL Mesh out")
    parser.add_argument("--cap", type=int, default=16,
                        help="upstream calls in flight per key (the gateway's default: 16)")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
