"""RedisCache against a real redis-server that is frozen (SIGSTOP): writes wait for nobody and
stay bounded, a burst of them goes in a few pipelines, a full pool is a miss rather than a
queue, a failure opens the breaker, and the per-entry cap holds. Commands get a long timeout
here, so that nothing below passes by timing out: what returns, returns without waiting on
Redis."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence

import orjson
import pytest

from gateway.upstream.cache import DEFAULT_MAX_BYTES, VALUE_SHARE
from gateway.upstream.chart_cache import ChartAsk, ChartCache
from gateway.upstream.config import ApiKey
from gateway.upstream.lifetimes import Lifetimes, TimesToLive
from gateway.upstream.lookup_batches import MGET_BYTES
from gateway.upstream.observer import NullObserver
from gateway.upstream.redis_cache import (
    REDIS_PENDING_WRITES,
    REDIS_POOL_SIZE,
    REDIS_QUEUED_WRITES,
    RedisCache,
)
from tests.redis_server import RedisServer, redis_server

PATIENT = 60.0  # seconds per command: far more than any test here runs


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


async def settled(tasks: list[asyncio.Task[bytes | None]], count: int) -> None:
    """Until `count` of the tasks are done (a guard of 30 s, not a measurement)."""
    async with asyncio.timeout(30):
        while sum(t.done() for t in tasks) < count:
            await asyncio.sleep(0.01)


async def test_writes_run_after_the_answer_and_stay_bounded(redis: RedisServer) -> None:
    cache = RedisCache(redis.url, timeout=PATIENT, max_value_bytes=1000)
    try:
        redis.freeze()
        async with asyncio.timeout(30):
            for i in range(2000):
                await cache.set(f"k{i}", b"v", 60)  # returns with Redis frozen
        assert len(cache._tasks) == 1  # one task writes them all
        assert len(cache._queue) == REDIS_QUEUED_WRITES  # the other writes were dropped
        await asyncio.sleep(0.1)  # the writer takes its first pipeline, and waits on Redis
        for i in range(100):  # large values: bounded in bytes too
            await cache.set(f"large{i}", b"x" * 1000, 60)
        assert cache._queued_bytes <= REDIS_PENDING_WRITES * 1000
    finally:
        await cache.close()


async def test_a_burst_of_writes_goes_in_a_few_pipelines(redis: RedisServer) -> None:
    cache = RedisCache(redis.url, timeout=PATIENT)
    try:
        before = redis.connections_received()
        for i in range(300):  # a dashboard's answers, one by one as they come
            await cache.set(f"k{i}", b"v" * 1000, 60)
        await asyncio.gather(*cache._tasks)
        assert await cache.get_many([f"k{i}" for i in range(300)]) == [b"v" * 1000] * 300
        assert redis.connections_received() - before < 10  # not one a write
    finally:
        await cache.close()


async def test_lookups_past_the_pool_wait_together_rather_than_miss(
        redis: RedisServer) -> None:
    cache = RedisCache(redis.url, timeout=PATIENT, write_behind=False)
    try:
        await cache.set_many([(f"k{i}", b"v%d" % i, 60) for i in range(1000)])
        before = redis.connections_received()
        # A dashboard's lookups, all at once: far more than the pool's connections.
        found = await asyncio.gather(*(cache.get(f"k{i}") for i in range(1000)),
                                     cache.get_many([f"k{i}" for i in range(1000)]))
        assert list(found[:1000]) == [b"v%d" % i for i in range(1000)]
        assert found[1000] == [b"v%d" % i for i in range(1000)]
        # In MGETs of at most 128 keys, over at most half the pool's connections.
        assert redis.connections_received() - before <= REDIS_POOL_SIZE // 2
        assert mget_calls(redis) == -(-2000 // 128)
    finally:
        await cache.close()


async def test_lookups_in_a_frozen_redis_are_misses_after_a_timeout(
        redis: RedisServer) -> None:
    cache = RedisCache(redis.url, timeout=0.2)
    try:
        await cache.set_many([("k", b"v", 60)])
        await asyncio.gather(*cache._tasks)
        redis.freeze()
        async with asyncio.timeout(30):  # a guard, not a measurement
            found = await asyncio.gather(*(cache.get("k") for _ in range(1000)))
            await asyncio.gather(*cache._tasks)  # the PING the slow lookup asked for
        assert found == [None] * 1000
        assert not cache._breaker.closed  # and the lookups after them skip Redis
    finally:
        await cache.close()


async def test_after_a_failure_redis_is_skipped_and_probed_in_the_background(
        redis: RedisServer) -> None:
    cache = RedisCache(redis.url, timeout=0.2, cooldown=0.0, write_behind=False)
    try:
        await cache.set("k", b"v", 60)
        assert await cache.get("k") == b"v"
        redis.freeze()
        assert await cache.get("k") is None  # one timeout, and a PING
        await asyncio.gather(*cache._tasks)  # which times out too: the breaker opens
        assert not cache._breaker.closed
        redis.thaw()
        # Redis holds the value and answers again, but the lookup does not ask it: it starts a
        # probe in the background and misses.
        assert await cache.get("k") is None
        await asyncio.gather(*cache._tasks)
        assert await cache.get("k") == b"v"  # the probe got an answer: Redis is used again
    finally:
        await cache.close()


async def test_a_value_over_the_cap_is_not_written(redis: RedisServer) -> None:
    cache = RedisCache(redis.url, max_value_bytes=10, write_behind=False)
    try:
        await cache.set("small", b"x" * 10, 60)
        await cache.set("large", b"x" * 11, 60)
        assert await cache.get("small") == b"x" * 10
        assert await cache.get("large") is None
        assert b"large" not in redis.command(b"KEYS *\r\n")
    finally:
        await cache.close()


async def test_many_values_go_in_one_write_and_come_back_in_one_lookup(
        redis: RedisServer) -> None:
    cache = RedisCache(redis.url, max_value_bytes=10, timeout=PATIENT)
    try:
        await cache.set_many([("a", b"1", 60), ("b", b"22", 60), ("big", b"x" * 11, 60),
                              ("gone", b"3", 0)])
        await asyncio.gather(*cache._tasks)
        assert await cache.get_many(["b", "a", "nothing", "big", "gone"]) == [
            b"22", b"1", None, None, None]
        redis.freeze()
        for i in range(1000):  # queued as single writes are, and bounded alike: here by
            await cache.set_many([(f"k{i}", b"v", 60), (f"l{i}", b"v", 60)])  # bytes
        assert len(cache._tasks) == 1 and len(cache._queue) == REDIS_PENDING_WRITES * 10
    finally:
        await cache.close()


async def test_many_lookups_in_a_redis_that_is_down_are_misses() -> None:
    from tests.demo_server import free_port

    cache = RedisCache(f"redis://127.0.0.1:{free_port()}/0")
    try:
        assert await cache.get_many(["a", "b"]) == [None, None]
        await cache.set_many([("a", b"1", 60)])  # dropped: the breaker is open
        assert cache._tasks == set()
    finally:
        await cache.close()


async def test_a_charts_parts_are_looked_up_in_commands_of_about_a_megabyte(
        redis: RedisServer) -> None:
    """100 experiments' parts of a sampled chart of two metrics (~50 KB each, as guessed by a
    cache that never saw them): in a few MGETs of ~1 MiB, not one of 5 MB. The cache that wrote
    them knows they weigh ~8 KB, but the caller's guess is a floor (what was seen can be
    another moment's, and a chart's parts grow): as many MGETs."""
    cache = RedisCache(redis.url, timeout=PATIENT)
    fresh = RedisCache(redis.url, timeout=PATIENT)
    charts = ChartCache(cache, Lifetimes(TimesToLive(), 1000), NullObserver(), lambda _: True)
    ask = ChartAsk(("loss", "accuracy"), (), independent=True, full=False)
    key, experiments = ApiKey("a" * 32), [f"e{i:03d}" for i in range(100)]
    points = {"steps": list(range(500)), "values": [0.5] * 500}
    answer = orjson.dumps({"empty": False, "experiments": {e: {
        "experimentKey": e, "metrics": [{"metricName": m, **points} for m in ask.metrics]}
        for e in experiments}})

    async def fetch(asked: Sequence[str]) -> bytes:
        return answer

    try:
        first = await charts.chart(key, experiments, ask, fetch)
        await asyncio.gather(*cache._tasks)
        mgets = mget_calls(redis)
        unseen = ChartCache(fresh, Lifetimes(TimesToLive(), 1000), NullObserver(),
                            lambda _: True)
        assert await unseen.held(key, experiments, ask) == first.experiments
        per_command = MGET_BYTES // ask.part_bytes()
        assert per_command < 25  # (that is what this test is about)
        assert mget_calls(redis) - mgets == -(-100 // per_command)
        mgets = mget_calls(redis)
        assert len(answer) < MGET_BYTES
        assert await charts.held(key, experiments, ask) == first.experiments
        assert mget_calls(redis) - mgets == -(-100 // per_command)
    finally:
        await fresh.close()
        await cache.close()


def mget_calls(redis: RedisServer) -> int:
    stats = redis.command(b"INFO commandstats\r\n").decode()
    return int(stats.split("cmdstat_mget:calls=")[1].split(",")[0]) \
        if "cmdstat_mget:" in stats else 0


async def test_a_write_that_waited_lives_what_is_left_of_its_lifetime(
        redis: RedisServer) -> None:
    now = [1000.0]
    cache = RedisCache(redis.url, timeout=PATIENT, clock=lambda: now[0])
    try:
        await cache.set_many([("waited", b"v", 60), ("expired", b"v", 10)])
        now[0] += 15  # what they waited in the queue (a burst of writes ahead of them)
        await asyncio.gather(*cache._tasks)
        assert await cache.get("waited") == b"v"
        assert 40_000 < int(redis.command(b"PTTL waited\r\n")[1:]) <= 45_000
        assert await cache.get("expired") is None  # its lifetime passed: never written
        assert redis.command(b"EXISTS expired\r\n") == b":0\r\n"
    finally:
        await cache.close()


def answer_key(endpoint: str, i: int, owner: str = "f" * 16) -> str:
    """A key shaped as the transport's (`cache_key`): what `value_sizes` tells kinds by."""
    return f"cgw:v1:{owner}:{endpoint}:{i:064d}"


async def test_a_slow_lookup_of_one_key_does_not_open_the_breaker(redis: RedisServer) -> None:
    """One value of 2 MB looked up alone, in a command slower than its timeout (made so:
    Redis answers, but a millisecond is too short for 2 MB): a miss and a PING, not a Redis
    counted as down at once (every lookup a miss for the cooldown)."""
    big = DEFAULT_MAX_BYTES // VALUE_SHARE - 100
    setup = RedisCache(redis.url, timeout=PATIENT, write_behind=False)
    try:
        await setup.set_many([(answer_key("output", 0), b"x" * big, 600),
                              (answer_key("tags", 0), b"small", 600)])
    finally:
        await setup.close()
    cache = RedisCache(redis.url, timeout=0.001, write_behind=False)
    try:
        assert await cache.get(answer_key("output", 0)) is None
        # Not counted as a failure: what the PING (under way) answers decides.
        assert cache._breaker.closed
    finally:
        await cache.close()


async def test_lookups_of_large_values_at_once_do_not_open_the_breaker(
        redis: RedisServer) -> None:
    """100 values near the cap, looked up at once by a cache that never saw them (its guess
    of their size is small: MGETs of hundreds of megabytes, which time out): misses, not a
    Redis counted as down, so a small lookup right after still hits."""
    near_cap = DEFAULT_MAX_BYTES // VALUE_SHARE - 100
    setup = RedisCache(redis.url, timeout=PATIENT, write_behind=False)
    try:
        await setup.set_many([(answer_key("output", i), b"x" * near_cap, 600)
                              for i in range(100)])
        await setup.set(answer_key("tags", 0), b"small", 600)
    finally:
        await setup.close()
    cache = RedisCache(redis.url)  # the default timeout
    try:
        await asyncio.gather(*(cache.get(answer_key("output", i)) for i in range(100)))
        await asyncio.gather(*cache._tasks)  # the PING the slow MGET asked for
        assert cache._breaker.closed
        assert await cache.get(answer_key("tags", 0)) == b"small"
    finally:
        await cache.close()


async def test_what_values_weigh_bounds_the_bytes_of_a_lookup_command(
        redis: RedisServer) -> None:
    """Values of ~400 KB written: looked up in commands of about a megabyte (2 values each),
    as the sizes seen say, not 128 to a command as a guess of 4 KB would."""
    cache = RedisCache(redis.url, timeout=PATIENT, write_behind=False)
    try:
        await cache.set_many([(answer_key("output", i), b"x" * 400_000, 600)
                              for i in range(20)])
        mgets = mget_calls(redis)
        found = await asyncio.gather(*(cache.get(answer_key("output", i)) for i in range(20)))
        assert found == [b"x" * 400_000] * 20
        assert mget_calls(redis) - mgets == 10
    finally:
        await cache.close()


async def test_no_lookup_command_starts_after_the_cache_closed(redis: RedisServer) -> None:
    """A lookup asked just before close() (its command scheduled, not started): a miss, and
    no command (nor connection) starts after the close."""
    cache = RedisCache(redis.url, timeout=PATIENT, write_behind=False)
    await cache.set("a", b"1", 60)
    first = asyncio.ensure_future(cache.get_many(["a"]))
    await asyncio.sleep(0)
    await asyncio.sleep(0)  # its command started
    second = asyncio.ensure_future(cache.get_many(["a"]))
    await asyncio.sleep(0)  # asked: its command is scheduled
    await cache.close()
    assert await second == [None]
    assert await first in ([None], [b"1"])
    await asyncio.sleep(0)
    assert cache._lookups._tasks == set()


async def test_another_keys_small_values_leave_a_keys_guess_as_it_was(
        redis: RedisServer) -> None:
    """A victim's chart parts of 600 KB, seen; another key's 256 tiny parts of the same chart,
    read after: the victim's lookups still go one part to a command (the sizes are per API
    key), not all 20 in one MGET of 12 MB (which a cache's default timeout would not wait
    for: every load a miss)."""
    ask = "0123456789abcdef0123456789abcdef"

    def part(owner: str, e: int) -> str:
        return f"cgw:v1:{owner}:chart:{ask}:{e:032x}:ended 1"

    cache = RedisCache(redis.url, timeout=PATIENT, write_behind=False)
    try:
        await cache.set_many([(part("a" * 16, e), b"x" * 600_000, 600) for e in range(20)])
        await cache.set_many([(part("b" * 16, e), b"[]", 600) for e in range(256)])
        assert await cache.get_many([part("b" * 16, e) for e in range(256)], 10_000) == \
            [b"[]"] * 256
        mgets = mget_calls(redis)
        found = await cache.get_many([part("a" * 16, e) for e in range(20)], 10_000)
        assert found == [b"x" * 600_000] * 20
        assert mget_calls(redis) - mgets == 20
    finally:
        await cache.close()


async def test_a_fresh_cache_reading_large_values_hits_by_its_second_load(
        redis: RedisServer) -> None:
    """100 values of 2 MB, looked up at once by a cache that never saw them (its guess: 4 KB
    each, one MGET of 200 MB that times out): the command's keys go again one to a command,
    and the sizes they show are kept, so that the second load hits, not every load misses."""
    setup = RedisCache(redis.url, timeout=PATIENT, write_behind=False)
    try:
        await setup.set_many([(answer_key("get_asset_list", i), b"x" * (2 << 20), 600)
                              for i in range(100)])
    finally:
        await setup.close()
    cache = RedisCache(redis.url)  # the default timeout
    key = answer_key("get_asset_list", 0)
    try:
        hits = []
        for _ in range(3):
            found = await asyncio.gather(*(cache.get(answer_key("get_asset_list", i))
                                           for i in range(100)))
            hits.append(sum(v is not None for v in found))
            if len(hits) == 1:  # the first load's resent keys taught it what they weigh
                assert cache._sizes.guess(key) >= 1 << 20
        # All hit by the second load on an idle machine; bounded loosely for a busy one
        # (each 2 MB read has 0.25 s): without the sizes learnt every load hits none.
        assert max(hits[1:]) >= 50, hits
        assert cache._breaker.closed
    finally:
        await cache.close()


async def test_another_keys_large_unseen_values_leave_a_keys_lookups_hits(
        redis: RedisServer) -> None:
    """Four keys' dashboards of small values this worker saw, looked up at once with another
    key's 256 lookups of 2 MB values it never saw (its guess: 4 KB each): the other key's go
    in commands of its own, so every one of the four keys' lookups hits, not the few that
    shared no command with a 2 MB value."""
    big = DEFAULT_MAX_BYTES // VALUE_SHARE - 100
    setup = RedisCache(redis.url, timeout=PATIENT, write_behind=False)
    try:
        for i in range(64):
            await setup.set(answer_key("output", i, "a" * 16), b"x" * big, 600)
    finally:
        await setup.close()
    cache = RedisCache(redis.url, write_behind=False)  # the default timeout
    victims = [answer_key("get_metrics", i, f"{v:016x}") for v in range(4) for i in range(300)]
    try:
        await cache.set_many([(k, b"v" * 1000, 600) for k in victims])
        for _ in range(2):
            other = asyncio.gather(*(cache.get(answer_key("output", i % 64, "a" * 16))
                                     for i in range(256)))
            found = await asyncio.gather(*(cache.get(k) for k in victims))
            await other
            assert found == [b"v" * 1000] * len(victims)
    finally:
        await cache.close()
