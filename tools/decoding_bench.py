"""How long the client takes to turn big upstream answers into typed models, in process.

Real answers of the demo upstream (1,000 experiments) are fetched once, as bytes; then each is
handed to `CometClient` through a transport that only returns those bytes, so that what is timed
is the client's own work on an answer (decoding and typing it), nothing of HTTP. Then the
benchmark's large query (`bench.queries.LARGE`) runs in process, cache warm, as `python -m bench`
profiles it (the upstream is not called: the demo runs in this process, but the cache
answers; the CPU time is the less noisy figure on a busy machine). Medians with min–max of
many runs:

    PYTHONPATH=$PWD python -m tools.decoding_bench [--runs 200] [--large-runs 15]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

import demo_upstream
from gateway.upstream import ApiKey, CometClient, Transport
from gateway.upstream import endpoints as ep
from gateway.upstream.endpoints import Endpoint
from gateway.upstream.lifetimes import TimesToLive
from gateway.upstream.memory_cache import MemoryCache


class Replay:
    """A transport that answers every call with the bytes it was given, nothing else."""

    def __init__(self, answers: dict[str, bytes]) -> None:
        self.answers = answers
        self.charts = None  # no cache: every chart is one call

    def saw_experiments(self, key: ApiKey, experiments: Any) -> None:
        return None

    async def call(self, endpoint: Endpoint, key: ApiKey, **kw: Any) -> bytes:
        return self.answers[endpoint.name]

    async def call_json(self, endpoint: Endpoint, key: ApiKey, **kw: Any) -> Any:
        return orjson.loads(self.answers[endpoint.name])  # what the transport did before


def spread(samples: list[float]) -> str:
    ms = [s * 1000 for s in samples]
    return f"{statistics.median(ms):8.3f} ms  ({min(ms):.3f}–{max(ms):.3f})"


async def timed(runs: int, job: Callable[[], Awaitable[Any]],
                clock: Callable[[], float] = time.perf_counter) -> list[float]:
    await job()
    samples = []
    for _ in range(runs):
        start = clock()
        await job()
        samples.append(clock() - start)
    return samples


async def main(runs: int, large_runs: int) -> None:
    from bench.queries import LARGE
    from gateway.context import Context
    from gateway.loaders import Loaders
    from gateway.schema import build_schema
    from gateway.settings import Settings

    app = demo_upstream.make_app(scale=9)
    runner = await demo_upstream.serve(app, "127.0.0.1", 0)
    port = runner.addresses[0][1]
    key = ApiKey(demo_upstream.keys(app)["alice"])
    settings = Settings(upstream_url=f"http://127.0.0.1:{port}")
    try:
        async with Transport(settings.upstream()) as transport:
            live = CometClient(transport, key)
            project = await live.get_project(workspace="vision-lab",
                                             project_name="image-classifier")
            experiments = await live.get_experiments(project_id=project.project_id)
            keys = [e.experiment_key for e in experiments]
            call = transport.call
            chart_body = {"targetedExperiments": keys[:15], "metrics": ["loss", "accuracy"],
                          "params": [], "independentMetrics": True, "fetchFull": True}
            answers = {
                ep.EXPERIMENTS.name: await call(ep.EXPERIMENTS, key,
                                                params={"projectId": project.project_id}),
                ep.MULTI_METRIC_CHART.name: await call(ep.MULTI_METRIC_CHART, key,
                                                       body=chart_body),
                ep.PARAMETERS.name: await call(ep.PARAMETERS, key,
                                               params={"experimentKey": keys[0]}),
                ep.METRICS_SUMMARY.name: await call(ep.METRICS_SUMMARY, key,
                                                    params={"experimentKey": keys[0]}),
                ep.SYSTEM_DETAILS.name: await call(ep.SYSTEM_DETAILS, key,
                                                   params={"experimentKey": keys[0]}),
            }
        replay = CometClient(Replay(answers), key)  # type: ignore[arg-type]
        chart = await replay.get_multi_metric_chart(keys[:15], ["loss", "accuracy"])
        points = sum(len(m.values) for e in (chart.experiments or {}).values()
                     for m in e.metrics)
        cases: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
            (f"experiments ({len(experiments)}, {len(answers['experiments']):,} B)",
             lambda: replay.get_experiments(project_id="p")),
            (f"multi-metric chart ({points:,} points, "
             f"{len(answers['multi_metric_chart']):,} B)",
             lambda: replay.get_multi_metric_chart(keys[:15], ["loss", "accuracy"])),
            (f"parameters ({len(answers['parameters']):,} B)",
             lambda: replay.get_parameters("k")),
            (f"metrics summary ({len(answers['metrics_summary']):,} B)",
             lambda: replay.get_metrics_summary("k")),
            (f"system details ({len(answers['system_details']):,} B)",
             lambda: replay.get_system_details("k")),
        ]
        print(f"decoding one answer, median (min–max) of {runs} runs")
        for name, job in cases:
            print(f"  {name:48} {spread(await timed(runs, job))}")

        schema = build_schema()
        forever = TimesToLive(ended=3600, running=3600, state=3600,
                              families={f: 3600 for f in settings.ttls()})
        async with Transport(settings.upstream(), MemoryCache(100_000), forever) as transport:
            async def large() -> None:
                client = CometClient(transport, key)
                context = Context(client=client, loaders=Loaders(client, 100),
                                  settings=settings, request_id="bench", base_url="http://x/")
                result = await schema.execute(LARGE, variable_values={"n": 500},
                                              context_value=context)
                assert not result.errors, result.errors

            gc.collect()
            print(f"large query in process, cache warm, median (min–max) of {large_runs} runs")
            print(f"  {'bench.LARGE, wall':48} {spread(await timed(large_runs, large))}")
            print(f"  {'bench.LARGE, CPU of this process':48} "
                  f"{spread(await timed(large_runs, large, time.process_time))}")
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m tools.decoding_bench", description=__doc__)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--large-runs", type=int, default=15)
    args = parser.parse_args()
    asyncio.run(main(args.runs, args.large_runs))
