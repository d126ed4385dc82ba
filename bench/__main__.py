"""`python -m bench`: the gateway at its defaults against the floor (the same upstream calls
made by hand, every call of a wave at once), a hand-written client under the gateway's cap,
stock Strawberry and GraphQL Mesh (when `bench/mesh` is installed), in one run.

The cells that compare with the floor measure cold loads: their gateway runs with the response
cache off, or every round after the first would be answered from memory. The `cached` cell
shows the cache at its defaults: a first load on a cold cache, and the loads after it.

The demo upstream is warmed first (it builds experiments on first use). Every timed cell runs
each system once untimed, then interleaves them over the rounds, rotating their order, and
prints medians with min–max. Each of the issue's targets is printed as a ratio measured in this
run, beside its limit, and again in a table at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from collections.abc import Iterator

from . import (
    answers,
    cache_faults,
    dashboard,
    deferred,
    handwritten,
    mesh,
    second_load,
    servers,
    soak,
)
from .queries import LARGE_PATHS, PROJECT, WS
from .stats import Targets

COLD = "COMET_GATEWAY_CACHE=false"  # what the cells against the floor set (see above)
CELLS = ("dashboard", "cached", "defer", "large", "points", "small", "memory", "soak", "profile")


def defaults() -> tuple[int, int]:
    """The gateway's per-key cap and chart batch, as its settings give them today."""
    from gateway.settings import Settings

    settings = Settings()
    return (getattr(settings, "max_concurrency_per_key", 16),
            getattr(settings, "chart_batch_size", 100))


async def warm(upstream: servers.Upstream, n: int) -> None:
    """One full pass over every experiment the cells read, so that none is built while timed."""
    async with handwritten.client(upstream.url, upstream.keys["alice"], 64) as client:
        await client.dashboard(WS, PROJECT, n, 100)
        await client.fetch(WS, PROJECT, 500, LARGE_PATHS)
        await client.fetch(WS, PROJECT, 20, ("experiment/metrics/get-all",))


async def main_async(args: argparse.Namespace) -> None:
    only = set(args.only.split(",")) if args.only else set(CELLS)
    if unknown := only - set(CELLS):
        raise SystemExit(f"--only: unknown cells {sorted(unknown)}; known: {', '.join(CELLS)}")
    rounds = 3 if args.quick else args.rounds
    cap, batch = defaults()
    mesh_ready = "dashboard" in only and not args.skip_mesh and mesh.available()
    if "dashboard" in only and not mesh_ready and not args.skip_mesh:
        print("(GraphQL Mesh is not installed: `make bench-mesh` installs it; skipping it)")
    print("The gateway runs at its defaults: only COMET_GATEWAY_UPSTREAM_URL is set, and "
          f"{', '.join(f'{k}={v}' for k, v in servers.RATE_LIMITS_OFF.items())} so that the "
          "benchmark's repeated requests (one address, one key) are not refused. The cells "
          "against the floor (dashboard, large, points) measure cold loads: their gateway also "
          f"has {COLD}, since each round repeats the same query. The small query's gateway "
          "and the `cached` cell keep the cache at its defaults (on).")
    print(f"(same-cap client: {cap} calls in flight, the gateway's default per-key cap; the "
          f"floor and GraphQL Mesh have no cap; {rounds} rounds per cell)")
    sizes = [int(n) for n in args.sizes.split(",")]
    targets = Targets()
    started = time.perf_counter()
    # image-classifier has 120 experiments per unit of scale, a few of them archived
    largest = max(*sizes, 500)
    with servers.upstream(-(-largest // 110)) as up:
        await warm(up, largest)
        with servers.gateway(up.url, defaults=True, log_level=None,
                             **servers.RATE_LIMITS_OFF, **dict([COLD.split("=")])) as gw:
            if "dashboard" in only:
                with mesh.running(up.url) if mesh_ready else _nothing() as mesh_url:
                    for n in sizes:
                        for latency in (25.0, 0.0):
                            await dashboard.cell(up, gw, mesh_url, n, latency, cap, batch,
                                                 rounds, targets)
            if "defer" in only:
                for n in sizes:
                    await deferred.cell(up, gw, n, 25.0, rounds)
            if "large" in only:
                await answers.large(up, gw, rounds, targets)
            if "points" in only:
                await answers.metric_points(up, gw, rounds, targets)
            if "cached" in only:
                with redis_for(args.redis) as redis_url:
                    for n in sizes:
                        await second_load.cell(up, gw, n, rounds, targets, redis_url)
        if only & {"small", "soak"}:
            with servers.gateway(up.url, defaults=True, log_level=None,
                                 **servers.RATE_LIMITS_OFF) as cached:
                if "small" in only:
                    await answers.small(up, cached, rounds, 300 if args.quick else 1000,
                                        targets)
                if "soak" in only:
                    await soak.soak(up, cached, 2000 if args.quick else 10_000)
        if "memory" in only:
            await answers.memory(up, rounds, targets)
        if "profile" in only:
            try:
                await soak.profile(up.url, up.keys["alice"])
            except Exception as exc:  # it reaches into the gateway's factory; the rest stands
                print(f"\n(CPU profile skipped: {type(exc).__name__}: {exc})")
    targets.report()
    print(f"\n(the whole run took {time.perf_counter() - started:.0f} s)")


@contextlib.contextmanager
def redis_for(asked: str | None) -> Iterator[str | None]:
    """The Redis the `cached` cell uses: none, the URL given, or one of its own ("own")."""
    if asked != "own":
        yield asked
        return
    with cache_faults.redis() as (_, port):
        yield f"redis://127.0.0.1:{port}/0"


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3 rounds per cell, fewer requests")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per cell (default 5)")
    parser.add_argument("--skip-mesh", action="store_true", help="leave GraphQL Mesh out")
    parser.add_argument("--only", help=f"comma-separated cells to run: {', '.join(CELLS)}")
    parser.add_argument("--redis", nargs="?", const="own", metavar="URL",
                        help="the `cached` cell with the cache in Redis: at URL (emptied at "
                             "each round), or alone a redis-server of its own")
    parser.add_argument("--sizes", default="12,100,1000",
                        help="experiments per dashboard (default 12,100,1000)")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
