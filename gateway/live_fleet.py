"""Live metrics across processes: one poller per feed for every worker and replica that uses
the same Redis, so that N processes do not poll Comet N times for the same feed.

Each process with subscribers to a feed runs a `FleetPoller`. Every interval it tries to hold
the feed's lock (a Redis key with an expiry, set if absent or renewed if its own); the holder
polls Comet, hands the new points to its own subscribers and publishes them on the feed's
channel, and the others hand on what they receive there. The holder also keeps the last steps
it saw in Redis, so that whoever takes the lock over (the holder left, or died and its lock
expired) goes on from there rather than from a new baseline.

A feed's names in Redis hold a hash of the feed (key fingerprint, experiments, metrics,
interval), never a key: only subscribers with the same key share points. When Redis fails,
each process polls on its own (as without Redis) until Redis answers again.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import secrets
from collections.abc import Callable
from typing import Any

from .live import Feed, NewPoints, Poller
from .upstream import CometClient, errors
from .upstream.models import ChartMetric

log = logging.getLogger("gateway.live")

PREFIX = "cgw:live:v1:"
# Set if absent, renewed if ours: 1 when the caller holds the lock.
HOLD = """
local v = redis.call('GET', KEYS[1])
if v == false then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
return 0
"""
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
REFUSALS = {"Unauthenticated": errors.Unauthenticated, "Forbidden": errors.Forbidden}
Deliver = Callable[[dict[str, Any]], None]


def feed_name(feed: Feed) -> str:
    return PREFIX + hashlib.sha256(repr(feed).encode()).hexdigest()[:40]


def lock_ms(interval: float) -> int:
    """How long a lock outlives its holder's last renewal: two intervals and some slack, so
    that a slow poll does not hand the feed over, and a dead holder's feed moves within it."""
    return int((2 * interval + 5) * 1000)


class Fleet:
    """This process's connection to the others: one Redis client, and one pub/sub connection
    whose messages are handed to the pollers by channel."""

    def __init__(self, redis_url: str, timeout: float) -> None:
        import redis.asyncio as redis  # only needed when Redis is configured

        self.redis = redis.Redis.from_url(redis_url, socket_timeout=timeout,
                                          socket_connect_timeout=timeout)
        self.me = secrets.token_hex(8)  # this process's messages, to skip on the way back
        # Its own connection, without the commands' short timeout: it waits for messages.
        self._listener = redis.Redis.from_url(redis_url, socket_connect_timeout=timeout)
        self._pubsub = self._listener.pubsub(ignore_subscribe_messages=True)
        self._channels: dict[str, Deliver] = {}
        self._reader: asyncio.Task[None] | None = None

    async def listen(self, channel: str, deliver: Deliver) -> None:
        self._channels[channel] = deliver
        await self._pubsub.subscribe(channel)
        if self._reader is None:
            self._reader = asyncio.ensure_future(self._read())

    async def leave(self, channel: str) -> None:
        self._channels.pop(channel, None)
        with contextlib.suppress(Exception):
            await self._pubsub.unsubscribe(channel)

    async def _read(self) -> None:
        while True:
            try:
                message = await self._pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - Redis gone: the pollers poll on their own
                log.info("live pub/sub failed: %s", type(exc).__name__)
                await asyncio.sleep(1.0)
                continue
            if message is None or message.get("type") != "message":
                continue
            channel = message["channel"].decode()
            deliver = self._channels.get(channel)
            with contextlib.suppress(ValueError, KeyError, TypeError):
                body = json.loads(message["data"])
                if deliver is not None and body["from"] != self.me:
                    deliver(body)

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        with contextlib.suppress(Exception):
            await self._pubsub.aclose()  # type: ignore[no-untyped-call]
        await self._listener.aclose()
        await self.redis.aclose()


class FleetPoller(Poller):
    """A poller that polls only while it holds its feed's lock (see the module's docstring)."""

    def __init__(self, fleet: Fleet, feed: Feed, client: CometClient, batch_size: int) -> None:
        super().__init__(client, feed[1], feed[2], feed[3], batch_size)
        self._fleet, self._name = fleet, feed_name(feed)
        self._held = False

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._listen_then_run())

    async def _listen_then_run(self) -> None:
        try:
            await self._fleet.listen(self._name, self._received)
        except Exception as exc:  # noqa: BLE001 - no Redis: polls on its own meanwhile
            log.info("live pub/sub failed: %s", type(exc).__name__)
        await self._run()

    async def stop(self) -> None:
        await super().stop()
        await self._fleet.leave(self._name)
        if self._held:
            with contextlib.suppress(Exception):
                await self._fleet.redis.eval(RELEASE, 1, self._name + ":lock",
                                             self._fleet.me)

    async def _run(self) -> None:
        while True:
            if await self._hold():
                try:
                    fresh = await self._poll()
                except errors.UpstreamError as exc:
                    log.info("live poll failed: %s", type(exc).__name__)
                    if isinstance(exc, errors.Unauthenticated | errors.Forbidden):
                        await self._publish({"error": type(exc).__name__})
                        self._hand_on(exc)
                        return
                else:
                    if fresh:
                        self._hand_on(fresh)
                        await self._publish({"points": [_encode(p) for p in fresh]})
                    await self._save()
            await asyncio.sleep(self._interval)

    async def _hold(self) -> bool:
        """Whether this process polls now: it holds the lock, or Redis does not answer."""
        redis = self._fleet.redis
        try:
            held = bool(await redis.eval(HOLD, 1, self._name + ":lock",
                                         self._fleet.me, lock_ms(self._interval)))
            if held and not self._held:  # taken over: go on from the last holder's steps
                saved = await redis.get(self._name + ":last")
                if saved:
                    self._last = {(k, m): s for k, m, s in json.loads(saved)}
                    self._polled = True  # the baseline is the last holder's
        except Exception as exc:  # noqa: BLE001 - Redis down: poll as one process would
            log.info("live lock failed: %s", type(exc).__name__)
            held = True
        self._held = held
        return held

    async def _save(self) -> None:
        with contextlib.suppress(Exception):
            await self._fleet.redis.set(
                self._name + ":last", json.dumps([[k, m, s] for (k, m), s in self._last.items()]),
                px=lock_ms(self._interval) * 10)

    async def _publish(self, body: dict[str, Any]) -> None:
        with contextlib.suppress(Exception):
            await self._fleet.redis.publish(self._name, json.dumps({"from": self._fleet.me,
                                                                   **body}))

    def _hand_on(self, item: list[NewPoints] | BaseException) -> None:
        for queue in self.subscribers:
            queue.put_nowait(item)

    def _received(self, body: dict[str, Any]) -> None:
        if self._held:
            return  # a former holder's late message: this process polls now
        refusal = REFUSALS.get(str(body.get("error")))
        if refusal is not None:
            self._hand_on(refusal("the upstream refused the key"))
            return
        self._hand_on([_decode(p) for p in body.get("points", [])])


def _encode(points: NewPoints) -> dict[str, Any]:
    m = points.metric
    return {"key": points.experiment_key, "name": m.metric_name, "steps": m.steps,
            "values": m.values, "timestamps": m.timestamps, "durations": m.durations,
            "epochs": m.epochs}


def _decode(raw: dict[str, Any]) -> NewPoints:
    return NewPoints(str(raw["key"]), ChartMetric(
        metric_name=str(raw["name"]), steps=tuple(raw["steps"]), values=tuple(raw["values"]),
        timestamps=tuple(raw["timestamps"]), durations=tuple(raw["durations"]),
        epochs=tuple(raw["epochs"])))
