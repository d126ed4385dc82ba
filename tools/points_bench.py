"""The benchmark's 10,000-point query (`bench.queries.POINTS`) in process: the gateway's schema
against stock Strawberry's (`bench.stock`) returning the same objects, without HTTP.

The demo upstream's answers are fetched once over loopback and then replayed, as bytes, by a
transport that does nothing else; so the gateway's time is its client's decoding, its loaders
and GraphQL's execution, and the answer's encoding (orjson, as the view does), as stock
Strawberry's is its execution and encoding (json, its default). CPU time of this process,
median (min–max) of many runs; `--profile` prints a cProfile of the gateway's runs.

    PYTHONPATH=$PWD python -m tools.points_bench [--runs 30] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import pstats
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

import demo_upstream
from gateway.upstream import ApiKey, CometClient, Transport
from gateway.upstream.endpoints import Endpoint

from .decoding_bench import spread, timed


class Replay:
    """A transport that answers each call with the bytes recorded for the same request."""

    def __init__(self, real: Transport | None = None) -> None:
        self.real = real
        self.answers: dict[str, bytes] = {}
        self.charts = None  # no cache: every chart is one call

    def saw_experiments(self, key: ApiKey, experiments: Any) -> None:
        return None

    async def call(self, endpoint: Endpoint, key: ApiKey, **kw: Any) -> bytes:
        request = orjson.dumps([endpoint.name, kw.get("params"), kw.get("body"),
                                kw.get("path_params")], option=orjson.OPT_SORT_KEYS).decode()
        if self.real is not None:
            self.answers[request] = await self.real.call(endpoint, key, **kw)
        return self.answers[request]


async def main(runs: int, profile: bool) -> None:
    from bench import stock
    from bench.queries import POINTS, points
    from gateway.context import Context, WebsocketOperations
    from gateway.introspection import IntrospectionAnswers
    from gateway.loaders import Loaders
    from gateway.observability import Metrics, OperationMetrics
    from gateway.rate_limits import RateLimits
    from gateway.schema import build_schema
    from gateway.settings import Settings

    app = demo_upstream.make_app(scale=1)
    runner = await demo_upstream.serve(app, "127.0.0.1", 0)
    port = runner.addresses[0][1]
    key = ApiKey(demo_upstream.keys(app)["alice"])
    settings = Settings(upstream_url=f"http://127.0.0.1:{port}")
    # as `app.create_app` builds it: the same extensions
    schema = build_schema(settings.document_limits(),
                          [WebsocketOperations, lambda: OperationMetrics(Metrics()),
                           IntrospectionAnswers(RateLimits(settings)).extension()],
                          settings.max_operations)
    replay = Replay()

    async def gateway() -> Any:
        client = CometClient(replay, key)  # type: ignore[arg-type]
        context = Context(client=client, loaders=Loaders(client, settings.chart_batch_size),
                          settings=settings, request_id="bench", base_url="http://x/")
        result = await schema.execute(POINTS, context_value=context)
        assert not result.errors, result.errors
        context.loaders.close()
        return orjson.dumps({"data": result.data})

    try:
        async with Transport(settings.upstream()) as transport:
            replay.real = transport
            answer = orjson.loads(await gateway())
            replay.real = None
    finally:
        await runner.cleanup()

    path = "/tmp/points_answer.json"
    with open(path, "wb") as file:
        file.write(orjson.dumps(answer))
    stock.PROJECT = stock.load(path)
    theirs = stock.strawberry.Schema(query=stock.Query, config=stock.StrawberryConfig(
        scalar_map=stock.SCALARS))

    async def stock_strawberry() -> Any:
        result = await theirs.execute(POINTS)
        assert not result.errors, result.errors
        return json.dumps({"data": result.data}).encode()

    assert orjson.loads(await stock_strawberry()) == answer
    cases: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
        ("gateway (replayed upstream)", gateway),
        ("stock Strawberry, from memory", stock_strawberry)]
    gc.collect()
    print(f"POINTS in process: {points(answer):,} points; CPU, median (min–max) of {runs} runs")
    for name, job in cases:
        print(f"  {name:40} {spread(await timed(runs, job, time.process_time))}")
    if profile:
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(runs):
            await gateway()
        profiler.disable()
        stats = pstats.Stats(profiler)
        stats.sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats(40)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m tools.points_bench", description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    asyncio.run(main(args.runs, args.profile))
