"""The dashboard loaded again, with the cache at its defaults: what a refresh costs.

Every round starts a gateway at its defaults (the cache on, in process: so the first load
meets a cold cache), loads a dashboard of another project untimed (warm code, a grown window
for the key), then times the dashboard three times: the first load; the same at once; and a
refresh once the running experiments' data has expired (`COMET_GATEWAY_CACHE_TTL_RUNNING`,
5 s), within the listing's and tags' lifetimes. One experiment in twenty of the dashboard is
set running through the demo's state knob. The same first load through the cache-off gateway
(the dashboard cells') is timed in each round too: what the cache costs a cold load.

With `--redis`, the cache is in Redis (`COMET_GATEWAY_REDIS_URL`): emptied at each round's
start, and the second loads wait until the first load's writes (behind the answers) landed.
"""

from __future__ import annotations

import asyncio
import json
import re
import statistics
import time
import urllib.request

import aiohttp

from tools.redis_command import address_of, redis_command

from . import servers
from .dashboard import post
from .queries import DASHBOARD, PAGE, PROJECT, WS, cursor
from .stats import Sample, Targets, line

RUNNING_EVERY = 20  # one experiment in this many is set running
WARM_PROJECT = "object-detection"  # the same workspace: the dashboard's shape, other entries
LATENCY_MS = 25.0


def first_keys(upstream: servers.Upstream, n: int) -> list[str]:
    """The first `n` experiments of the dashboard's project, in the listing's order."""
    request = urllib.request.Request(
        f"{upstream.url}/api/rest/v2/experiments?workspaceName={WS}&projectName={PROJECT}",
        headers={"Authorization": upstream.keys["alice"]})
    with urllib.request.urlopen(request, timeout=60) as answer:
        listed = json.loads(answer.read())["experiments"]
    return [e["experimentKey"] for e in listed[:n]]


def running_settings() -> float:
    from gateway.settings import Settings

    return Settings().cache_ttl_running


def cache_budget() -> int:
    from gateway.settings import Settings

    return Settings().cache_max_bytes


async def held(session: aiohttp.ClientSession, url: str) -> float:
    """Bytes the gateway's response cache holds (`cgw_cache_bytes` on /metrics)."""
    async with session.get(f"{url}/metrics") as answer:
        text = await answer.text()
    found = re.search(r'^cgw_cache_bytes\{store="responses"\} (\S+)$', text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


async def load(session: aiohttp.ClientSession, url: str, key: str, n: int,
               project: str = PROJECT) -> float:
    """One dashboard of `n` experiments (pages asked together); its wall time."""
    query = DASHBOARD.replace(f'name: "{PROJECT}"', f'name: "{project}"')
    pages = [{"n": min(PAGE, n - start), "after": cursor(start - 1) if start else None}
             for start in range(0, n, PAGE)]
    started = time.perf_counter()
    answers = await asyncio.gather(*(post(session, url, key, query, page) for page in pages))
    took = time.perf_counter() - started
    for _, body in answers:
        if body.get("errors"):
            raise RuntimeError(f"the gateway's dashboard: {body['errors']}"[:500])
    return took


async def written(url: str) -> int:
    """Once Redis's keys stopped growing (the writes behind the answers landed): how many."""
    size, before = -1, -2
    while size != before:
        before = size
        await asyncio.sleep(0.2)
        size = int(redis_command(address_of(url), b"DBSIZE")[1:])
    return size


async def cell(upstream: servers.Upstream, cold: servers.Gateway, n: int, rounds: int,
               targets: Targets, redis_url: str | None = None) -> None:
    key = upstream.keys["alice"]
    running = first_keys(upstream, n)[RUNNING_EVERY // 2::RUNNING_EVERY]
    for experiment in running:
        upstream.admin("PUT", f"experiments/{experiment}/state", {"running": True})
    wait = running_settings() + 0.3
    pages = -(-n // PAGE)
    times: dict[str, list[float]] = {k: [] for k in ("first", "again", "refresh", "off")}
    cpu: dict[str, list[float]] = {"first": [], "off": []}  # the server's, of the first load
    kept, warmed = [], []  # bytes the cache holds after the first load, after the warm-up
    keys: list[int] = []  # with Redis: its keys after the first load
    calls: dict[str, list[int]] = {k: [] for k in ("first", "again", "refresh")}
    upstream.latency(LATENCY_MS)
    try:
        async with aiohttp.ClientSession() as session:
            await load(session, cold.url, key, n)  # the cache-off gateway, warm
            for _ in range(rounds):
                if redis_url:
                    redis_command(address_of(redis_url), b"FLUSHDB")
                with servers.gateway(upstream.url, defaults=True, log_level=None,
                                     **servers.RATE_LIMITS_OFF,
                                     **({"COMET_GATEWAY_REDIS_URL": redis_url}
                                        if redis_url else {})) as gw:
                    # At most 100: what it leaves in the cache takes the budget's room.
                    await load(session, gw.url, key, min(n, 100), WARM_PROJECT)
                    warm = await held(session, gw.url)
                    for name in ("first", "again", "refresh"):
                        if name == "refresh":
                            await asyncio.sleep(wait)
                        elif name == "again" and redis_url:
                            keys.append(await written(redis_url))
                        upstream.clear()
                        used = servers.cpu_seconds(gw.pid)
                        times[name].append(await load(session, gw.url, key, n))
                        if name == "first":
                            cpu[name].append(servers.cpu_seconds(gw.pid) - used)
                            kept.append(await held(session, gw.url))
                            warmed.append(warm)
                        calls[name].append(sum(upstream.counts().values()))
                used = servers.cpu_seconds(cold.pid)
                times["off"].append(await load(session, cold.url, key, n))
                cpu["off"].append(servers.cpu_seconds(cold.pid) - used)
    finally:
        upstream.latency(0)
        upstream.admin("DELETE", "experiments/states")

    print(f"\nDashboard query, {n} experiments, loaded again with the cache at its defaults"
          f"{' in Redis' if redis_url else ''} ({len(running)} of them running, upstream "
          f"latency {LATENCY_MS:.0f} ms); median (min–max) of {rounds} rounds, each on a "
          "gateway started cold")
    shown = {"first": "first load (cache cold)", "again": "second load at once",
             "refresh": f"second load {wait:.1f} s later (running data expired)"}
    for name, label in shown.items():
        line(f"{label}: wall time", Sample(tuple(times[name])).show())
        line(f"{label}: upstream calls", f"{statistics.median(calls[name]):.0f}")
    if redis_url:
        line("Redis's keys after the first load (the warm-up's included)",
             f"{statistics.median(keys):.0f}")
    else:
        line("the cache after the first load (after the warm-up)",
             f"{statistics.median(kept) / 2**20:.1f} MiB "
             f"({statistics.median(warmed) / 2**20:.1f}) of its "
             f"{cache_budget() / 2**20:.0f} MiB")
    line("first load, cache off (the dashboard cells' gateway)",
         Sample(tuple(times["off"])).show())
    line("first load: cache on ÷ cache off, wall time",
         Sample(tuple(times["first"])).over(Sample(tuple(times["off"]))).show("", digits=2))
    line("first load: server CPU, cache on / cache off",
         f"{Sample(tuple(cpu['first'])).show('ms', 1000, 0)} / "
         f"{Sample(tuple(cpu['off'])).show('ms', 1000, 0)}")
    # What a refresh may cost: each page's project and listing (when they have expired),
    # and the running experiments' own calls: summary and parameters each, one chart per page.
    bound = 2 * pages + 2 * len(running) + min(pages, len(running))
    refresh = statistics.median(calls["refresh"])
    if not redis_url and statistics.median(kept) > 0.95 * cache_budget():
        print("  (the cache is full: this dashboard's answers take more than its budget, "
              "COMET_GATEWAY_CACHE_MAX_BYTES, and the least recently used go)")
    targets.fact(f"dashboard {n} exp.: refresh's upstream calls ≤ listing + running's",
                 f"{refresh:.0f} ≤ {bound} (first load: {statistics.median(calls['first']):.0f})",
                 f"≤ {bound}", refresh <= bound)

