"""Live metrics: one poller per (key, experiments, metrics, interval), shared by subscribers.

Every interval the poller makes one multi-metric-chart call (in batches of the chart batch
size) for all its subscribers, and hands each of them only the points logged since the last
poll. The first poll sets the baseline: a subscriber receives what is logged after it joined, a
metric's first points too when it had none at the baseline.
The poller stops when its last subscriber leaves. With Redis, one process of the fleet polls a
feed and the others receive its points (see `live_fleet`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .upstream import ApiKey, CometClient, Transport, errors
from .upstream.models import ChartMetric

if TYPE_CHECKING:
    from .live_fleet import Fleet

log = logging.getLogger("gateway.live")


@dataclass(frozen=True)
class NewPoints:
    """Points of one metric of one experiment that the last poll found."""

    experiment_key: str
    metric: ChartMetric


Feed = tuple[str, tuple[str, ...], tuple[str, ...], float]  # fingerprint, keys, metrics, every


class Poller:
    def __init__(self, client: CometClient, keys: tuple[str, ...], metrics: tuple[str, ...],
                 interval: float, batch_size: int) -> None:
        self._client, self._keys, self._metrics = client, keys, metrics
        self._interval, self._batch = interval, batch_size
        self.subscribers: set[asyncio.Queue[list[NewPoints] | BaseException]] = set()
        self._last: dict[tuple[str, str], int] = {}  # (key, metric) → last step seen
        # After the baseline, a (key, metric) without a last step had no point then: all of
        # its points are new (a running experiment's first value of a metric is pushed).
        self._polled = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _poll(self) -> list[NewPoints]:
        fresh: list[NewPoints] = []
        baseline = not self._polled
        for i in range(0, len(self._keys), self._batch):
            chart = await self._client.get_multi_metric_chart(
                self._keys[i:i + self._batch], self._metrics, full=True)
            for key, entry in (chart.experiments or {}).items():
                for m in entry.metrics:
                    last = self._last.get((key, m.metric_name))
                    keep = [j for j, step in enumerate(m.steps)
                            if step is not None and (last is None or step > last)]
                    steps = [s for s in m.steps if s is not None]
                    if steps:
                        previous = [] if last is None else [last]
                        self._last[(key, m.metric_name)] = max(steps + previous)
                    if not baseline and keep:
                        fresh.append(NewPoints(key, _subset(m, keep)))
        self._polled = True
        return fresh

    async def _run(self) -> None:
        while True:
            try:
                fresh = await self._poll()
            except errors.UpstreamError as exc:
                log.info("live poll failed: %s", type(exc).__name__)
                if isinstance(exc, errors.Unauthenticated | errors.Forbidden):
                    for queue in self.subscribers:
                        queue.put_nowait(exc)
                    return
            else:
                if fresh:
                    for queue in self.subscribers:
                        queue.put_nowait(fresh)
            await asyncio.sleep(self._interval)


def _subset(m: ChartMetric, keep: list[int]) -> ChartMetric:
    def pick(values: tuple[object, ...]) -> tuple[object, ...]:
        return tuple(values[j] for j in keep if j < len(values))

    return ChartMetric(metric_name=m.metric_name, steps=pick(m.steps),  # type: ignore[arg-type]
                       values=pick(m.values), timestamps=pick(m.timestamps),  # type: ignore
                       durations=pick(m.durations), epochs=pick(m.epochs))  # type: ignore


class LiveHub:
    """The pollers of one application."""

    def __init__(self, transport: Transport, batch_size: int, fleet: Fleet | None = None
                 ) -> None:
        self._transport = transport
        self._batch = batch_size
        self._fleet = fleet
        self._pollers: dict[Feed, Poller] = {}

    @contextlib.asynccontextmanager
    async def subscribe(self, key: ApiKey, keys: tuple[str, ...], metrics: tuple[str, ...],
                        interval: float
                        ) -> AsyncIterator[asyncio.Queue[list[NewPoints] | BaseException]]:
        feed: Feed = (key.fingerprint, tuple(sorted(set(keys))), tuple(sorted(set(metrics))),
                      interval)
        poller = self._pollers.get(feed)
        if poller is None:
            # Never from the response cache: a poll is for what was logged since the last one.
            client = CometClient(self._transport, key, cached=False)
            if self._fleet is None:
                poller = Poller(client, feed[1], feed[2], interval, self._batch)
            else:
                from .live_fleet import FleetPoller  # it imports this module

                poller = FleetPoller(self._fleet, feed, client, self._batch)
            self._pollers[feed] = poller
            poller.start()
        queue: asyncio.Queue[list[NewPoints] | BaseException] = asyncio.Queue()
        poller.subscribers.add(queue)
        try:
            yield queue
        finally:
            poller.subscribers.discard(queue)
            if not poller.subscribers and self._pollers.get(feed) is poller:
                del self._pollers[feed]
                await poller.stop()

    async def close(self) -> None:
        for poller in list(self._pollers.values()):
            await poller.stop()
        self._pollers.clear()
        if self._fleet is not None:
            await self._fleet.close()
