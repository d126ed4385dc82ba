"""Context beside the targets: resident memory over many small requests, and where the CPU of
the large answer goes (cProfile, the gateway in this process)."""

from __future__ import annotations

import asyncio
import contextlib
import cProfile
import io
import pstats

import aiohttp

from . import servers
from .answers import answer, large_answer
from .queries import DASHBOARD, EXPERIMENT
from .stats import line


async def requests(session: aiohttp.ClientSession, gw: servers.Gateway, key: str,
                   variables: dict[str, str], total: int) -> None:
    remaining = total

    async def client() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await answer(session, gw.url, key, EXPERIMENT, variables)

    await asyncio.gather(*(client() for _ in range(8)))


async def soak(upstream: servers.Upstream, cached: servers.Gateway, total: int) -> None:
    key = upstream.keys["alice"]
    async with aiohttp.ClientSession() as session:
        _, listing = await answer(session, cached.url, key, DASHBOARD, {"n": 2})
        keys = [e["node"]["key"] for e in listing["data"]["project"]["experiments"]["edges"]]
        await requests(session, cached, key, {"key": keys[0]}, 500)
        before = servers.rss_kib(cached.pid)
        started = asyncio.get_running_loop().time()
        await requests(session, cached, key, {"key": keys[1]}, total)
        rate = total / (asyncio.get_running_loop().time() - started)
    after = servers.rss_kib(cached.pid)
    print(f"\nMemory over {total} small requests ({rate:.0f}/s, 8 at once), cache on")
    line("RSS after warm-up -> after", f"{before / 1024:.1f} MiB -> {after / 1024:.1f} MiB "
                                       f"({(after - before) / 1024:+.1f} MiB, "
                                       f"{(after - before) * 1024 / total:+.0f} B/request)")
    line("peak RSS", f"{servers.peak_rss_kib(cached.pid) / 1024:.1f} MiB")


async def profile(upstream_url: str, key: str) -> None:
    """The large answer, cache warm, three times, from a gateway served in this process: only
    the public app factory and server configuration are used, so that the gateway's insides
    may change freely."""
    import uvicorn

    from gateway.app import create_app
    from gateway.server import server_config
    from gateway.settings import Settings

    port = servers.free_port()
    settings = Settings(upstream_url=upstream_url, port=port, host="127.0.0.1", cache=True,
                        rate_limit_per_second=0, upstream_rate_per_key=0)
    server = uvicorn.Server(server_config(create_app(settings), settings,
                                          configure_logs=False))
    serving = asyncio.ensure_future(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.05)
        url = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as session:
            await large_answer(session, url, key)
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(3):
                await large_answer(session, url, key)
            profiler.disable()
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await serving
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(12)
    print("\nCPU profile of the large answer (3 runs, cache warm, the gateway and its client in "
          "one process), top entries by own time")
    for text in out.getvalue().splitlines():
        if text.strip() and ("{" in text or "/" in text or "ncalls" in text):
            print("  " + text.strip()[:150])
