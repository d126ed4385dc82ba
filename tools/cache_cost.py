"""What the response cache costs a cold load: the benchmark's dashboard (`bench.queries.DASHBOARD`)
in process, through a transport with the cache off and one with an empty cache at its defaults
(what it adds: a key and a write per call, each chart answer split into its experiments'
parts), interleaved. The demo upstream runs in a process of its own, so that the CPU time of
this process is the gateway's alone; the collector is tuned as `serve` tunes it. Median
(min–max) of many runs:

    PYTHONPATH=$PWD python -m tools.cache_cost [--experiments 100] [--runs 40]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import subprocess
import sys
import time

from bench.queries import DASHBOARD
from bench.servers import free_port, wait_for
from gateway import collector
from gateway.context import Context
from gateway.loaders import Loaders
from gateway.schema import build_schema
from gateway.settings import Settings
from gateway.upstream import ApiKey, CometClient, Transport
from gateway.upstream.memory_cache import MemoryCache


async def main(n: int, runs: int) -> None:
    port = free_port()
    with subprocess.Popen([sys.executable, "-m", "gateway", "demo-upstream", "--port",
                           str(port), "--scale", str(-(-n // 110))],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as demo:
        try:
            wait_for(f"http://127.0.0.1:{port}/clientlib/isAlive/ver")
            settings = Settings(upstream_url=f"http://127.0.0.1:{port}")
            key = ApiKey("demoAliceKey7Hq2Zp9Lm4Xw1")
            schema = build_schema()
            collector.tune(settings.gc_threshold)

            async def load(cached: bool) -> float:
                cache = MemoryCache(settings.cache_max_entries,
                                    max_bytes=settings.cache_max_bytes) if cached else None
                async with Transport(settings.upstream(), cache, settings.times_to_live(),
                                     max_states=settings.cache_max_entries) as transport:
                    client = CometClient(transport, key)
                    context = Context(client=client, loaders=Loaders(client, 100),
                                      settings=settings, request_id="cost",
                                      base_url="http://x/")
                    gc.collect()
                    started = time.process_time()
                    result = await schema.execute(DASHBOARD, variable_values={"n": n},
                                                  context_value=context)
                    took = time.process_time() - started
                    assert not result.errors, result.errors
                    return took

            for cached in (False, True, False, True):  # warm: the demo's experiments too
                await load(cached)
            off: list[float] = []
            on: list[float] = []
            for i in range(runs):
                for cached in (True, False) if i % 2 else (False, True):
                    (on if cached else off).append(await load(cached))
        finally:
            demo.terminate()

    def shown(samples: list[float]) -> str:
        ms = [s * 1000 for s in samples]
        return f"{statistics.median(ms):.1f} ms ({min(ms):.1f}–{max(ms):.1f})"

    print(f"the dashboard of {n} experiments, cold, CPU of this process, {runs} runs each")
    print(f"  cache off            {shown(off)}")
    print(f"  cache on, empty      {shown(on)}")
    print(f"  on ÷ off             {statistics.median(on) / statistics.median(off):.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m tools.cache_cost", description=__doc__)
    parser.add_argument("--experiments", type=int, default=100, help="1 to 500 (one page)")
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    if not 1 <= args.experiments <= 500:
        parser.error("--experiments: 1 to 500, the most one page holds")
    asyncio.run(main(args.experiments, args.runs))
