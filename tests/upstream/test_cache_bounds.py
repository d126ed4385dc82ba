"""The caches' bounds, with an injected clock: bytes, not entries; expired entries freed without
being looked up; values over the cap never kept; a key trusted only while Comet accepts it; a
circuit breaker that probes once per cooldown."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable

import pytest

from gateway.upstream import ApiKey, CometClient, Transport, errors
from gateway.upstream.breaker import CircuitBreaker
from gateway.upstream.largest import Largest
from gateway.upstream.memory_cache import ENTRY_OVERHEAD, MemoryCache
from gateway.upstream.recent_keys import KNOWN_FOR, REFUSED_FOR, RecentKeys
from tests.demo_server import DemoServer
from tests.upstream.conftest import config_for


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def cost(key: str, value: bytes) -> int:
    return len(key) + len(value) + ENTRY_OVERHEAD


async def test_the_memory_cache_is_bounded_in_bytes_least_recent_first() -> None:
    entry = cost("k0", b"x" * 1000)
    cache = MemoryCache(1000, max_bytes=3 * entry, max_value_bytes=10_000)
    for i in range(3):
        await cache.set(f"k{i}", b"x" * 1000, 60)
    assert cache.usage() == (3 * entry, 3)
    assert await cache.get("k0") is not None  # k1 is now the least recently used
    await cache.set("k3", b"x" * 1000, 60)
    assert cache.usage() == (3 * entry, 3)
    assert await cache.get("k1") is None
    assert all([await cache.get(k) for k in ("k0", "k2", "k3")])
    # one large value pushes out as many small ones as it needs
    await cache.set("big", b"y" * 2000, 60)
    assert cache.usage() == (cost("big", b"y" * 2000) + entry, 2)
    assert await cache.get("k3") is not None and await cache.get("k0") is None


async def test_the_byte_count_follows_replacements() -> None:
    cache = MemoryCache(10, max_bytes=100_000)
    await cache.set("k", b"a" * 5000, 60)
    await cache.set("k", b"b" * 10, 60)
    assert cache.usage() == (cost("k", b"b" * 10), 1)
    assert await cache.get("k") == b"b" * 10


async def test_the_entry_count_is_a_second_bound() -> None:
    cache = MemoryCache(2, max_bytes=10**9)
    for key in "abc":
        await cache.set(key, b"1", 60)
    assert cache.usage()[1] == 2 and await cache.get("a") is None


async def test_a_value_over_the_cap_is_not_kept_nor_an_older_one() -> None:
    cache = MemoryCache(10, max_bytes=16_000)  # the cap: 1/16 of the budget
    await cache.set("k", b"a" * 1000, 60)
    assert await cache.get("k") == b"a" * 1000
    await cache.set("k", b"b" * 1001, 60)
    assert await cache.get("k") is None and cache.usage() == (0, 0)
    explicit = MemoryCache(10, max_bytes=10**6, max_value_bytes=10)
    await explicit.set("k", b"a" * 11, 60)
    assert explicit.usage() == (0, 0)


async def test_expired_entries_are_freed_without_being_looked_up() -> None:
    clock = Clock()
    cache = MemoryCache(1000, max_bytes=10**9, clock=clock)
    for i in range(100):
        await cache.set(f"short{i}", b"x" * 100, 10)
    await cache.set("long", b"y" * 100, 300)
    clock.now += 11
    # nothing looked up: the entries go when time passes, as the gauges show
    assert cache.usage() == (cost("long", b"y" * 100), 1)
    clock.now += 300
    assert cache.usage() == (0, 0)


async def test_the_expiry_of_a_replaced_entry_is_its_new_one() -> None:
    clock = Clock()
    cache = MemoryCache(10, max_bytes=10**6, clock=clock)
    await cache.set("k", b"old", 10)
    await cache.set("k", b"new", 100)
    clock.now += 50
    assert await cache.get("k") == b"new"
    clock.now += 51
    assert await cache.get("k") is None and cache.usage() == (0, 0)


async def test_the_expiry_heap_stays_bounded_under_rewrites() -> None:
    cache = MemoryCache(10, max_bytes=10**6)
    for _ in range(10_000):
        await cache.set("k", b"v", 3600)
    assert len(cache._expiries) <= 2 * len(cache) + 64


def test_a_key_is_served_from_cache_only_while_comet_accepts_it() -> None:
    clock = Clock()
    keys = RecentKeys(60, max_keys=2, clock=clock)
    alice, bob, carol = ApiKey("a"), ApiKey("b"), ApiKey("c")
    assert not keys.vouched(alice)
    keys.accepted(alice)
    clock.now += 59
    assert keys.vouched(alice)
    clock.now += 1
    assert not keys.vouched(alice)
    keys.accepted(alice)
    keys.rejected(alice)
    assert not keys.vouched(alice)
    for key in (alice, bob, carol):  # bounded: the least recently accepted is forgotten
        keys.accepted(key)
    assert len(keys) == 2 and not keys.vouched(alice) and keys.vouched(carol)


def test_an_invented_key_is_refused_for_a_while_a_known_one_is_asked_again() -> None:
    clock = Clock()
    keys = RecentKeys(60, clock=clock)
    invented, real = ApiKey("invented"), ApiKey("real")
    assert not keys.known(invented) and not keys.refused(invented)
    keys.rejected(invented)  # never accepted: refused without asking, for REFUSED_FOR
    assert keys.refused(invented) and not keys.known(invented)
    clock.now += REFUSED_FOR + 1
    assert not keys.refused(invented)
    keys.accepted(real)
    assert keys.known(real)
    keys.rejected(real)  # revoked, maybe restored soon: asked again, not refused here
    assert not keys.refused(real) and keys.known(real) and not keys.vouched(real)
    clock.now += KNOWN_FOR + 1
    assert not keys.known(real)


def test_the_breaker_probes_once_per_cooldown_and_logs_changes_only(
        caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    log = logging.getLogger("test.breaker")
    breaker = CircuitBreaker("thing", 5.0, log, clock)
    caplog.set_level(logging.DEBUG, "test.breaker")
    assert breaker.closed and not breaker.take_probe()
    for _ in range(100):
        breaker.failed("TimeoutError")
    assert not breaker.closed and not breaker.take_probe()
    clock.now += 5
    assert breaker.take_probe() and not breaker.take_probe()  # one probe at a time
    breaker.failed("TimeoutError")
    assert not breaker.take_probe()
    clock.now += 5
    assert breaker.take_probe()
    breaker.abstain()  # a probe cancelled: the next caller may probe
    assert breaker.take_probe()
    breaker.succeeded()
    assert breaker.closed
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == ["thing failed (TimeoutError): skipped, and probed every 5 s until it "
                        "answers", "thing answers again"]


async def test_a_keys_share_frees_its_own_oldest_entries_and_counts_every_byte() -> None:
    clock = Clock()
    cache = MemoryCache(100, max_bytes=100_000, key_share=0.25, clock=clock)
    await cache.set("cgw:v1:alice:a", b"x" * 1000, 10)
    for i in range(100):  # bob's, over his share of 25,000 bytes and 25 entries
        await cache.set(f"cgw:v1:bob:{i}", b"y" * 2000, 5 + i % 10)
    assert await cache.get("cgw:v1:alice:a") == b"x" * 1000
    assert await cache.get("cgw:v1:bob:90") is not None
    assert await cache.get("cgw:v1:bob:89") is None  # his oldest went
    assert cache._owners is not None
    held = sum(o.bytes for o in cache._owners.values())
    assert held == cache.usage()[0] <= 100_000 and len(cache) == 1 + 10  # 10 of his fit in 25,000
    clock.now += 100  # all expired: every share's bytes freed with them
    assert cache.usage() == (0, 0) and cache._owners == {}


async def test_a_full_cache_evicts_from_the_key_holding_the_most() -> None:
    """Two keys, each within its half, fill the cache together: the victim's 40 entries stay,
    the largest holder's least recently used go (before, the globally oldest went: the
    victim's, all 40)."""
    cache = MemoryCache(1_000, max_bytes=200_000, key_share=0.5, clock=Clock())
    victim = [f"cgw:v1:alice:{i}" for i in range(40)]
    for key in victim:
        await cache.set(key, b"v" * 1000, 60)
    for i in range(200):
        for who in ("mallory", "trudy"):
            await cache.set(f"cgw:v1:{who}:{i}", b"m" * 1000, 60)
    assert [await cache.get(k) for k in victim] == [b"v" * 1000] * 40
    assert cache.usage()[0] <= 200_000


async def test_an_entry_just_read_survives_its_owners_eviction() -> None:
    cache = MemoryCache(1_000, max_bytes=100_000, key_share=0.5, clock=Clock())
    for i in range(30):  # within his share of 50,000 bytes
        await cache.set(f"cgw:v1:bob:{i}", b"b" * 1000, 60)
    assert await cache.get("cgw:v1:bob:0") is not None  # his oldest, read: now his newest
    for i in range(30, 50):  # past his share: his least recently used go
        await cache.set(f"cgw:v1:bob:{i}", b"b" * 1000, 60)
    assert await cache.get("cgw:v1:bob:0") == b"b" * 1000
    assert await cache.get("cgw:v1:bob:1") is None


class CountedCache(MemoryCache):
    """A memory cache that counts its lookups (each would be a Redis command)."""

    def __init__(self) -> None:
        super().__init__(1000)
        self.lookups = 0

    async def get(self, key: str) -> bytes | None:
        self.lookups += 1
        return await super().get(key)


async def test_a_key_comet_has_not_vouched_for_costs_no_cache_lookup(demo: DemoServer) -> None:
    """Invented keys go upstream (refused there) without a cache lookup each; a real key's
    first call goes upstream too (it vouches), and only then is the cache looked up."""
    cache = CountedCache()
    async with Transport(config_for(demo), cache, {"workspace": 60}) as transport:
        for i in range(20):
            with pytest.raises(errors.Unauthenticated):
                await CometClient(transport, ApiKey(f"invented-{i:04d}")).get_workspaces()
        assert cache.lookups == 0
        carol = CometClient(transport, ApiKey(demo.keys["carol"]))
        assert await carol.get_workspaces() == ("carol",)
        assert cache.lookups == 0
        assert await carol.get_workspaces() == ("carol",)
        assert cache.lookups == 1
    assert demo.counts()["GET workspaces"] == 21


class RevokingCache(MemoryCache):
    """A cache during whose lookups Comet is heard refusing the key (as a Redis lookup
    waits, other calls of the key land)."""

    def __init__(self) -> None:
        super().__init__(1000)
        self.revoke: Callable[[], None] | None = None

    async def get(self, key: str) -> bytes | None:
        found = await super().get(key)
        if self.revoke is not None:
            self.revoke()
        return found


async def test_a_key_refused_while_it_is_looked_up_is_not_served_the_hit(
        demo: DemoServer) -> None:
    cache = RevokingCache()
    async with Transport(config_for(demo), cache, {"workspace": 60}) as transport:
        carol = ApiKey(demo.keys["carol"])
        client = CometClient(transport, carol)
        assert await client.get_workspaces() == ("carol",)  # vouched, and cached
        cache.revoke = lambda: transport._recent_keys.rejected(carol)
        assert await client.get_workspaces() == ("carol",)  # asked upstream again
    assert demo.counts()["GET workspaces"] == 2


async def test_a_fair_eviction_among_thousands_of_keys_costs_little_cpu() -> None:
    """5,000 keys' entries and one dashboard's; 2 MB answers of new keys, each evicting about
    a thousand of the largest holder's entries: finding the largest holder is O(log keys) per
    eviction (a scan of every key each was ~0.15 s of CPU per answer)."""
    def key(owner: int, i: int) -> str:
        return f"cgw:v1:{owner:032x}:get_metrics:{i:064d}"

    cache = MemoryCache(10_000, max_bytes=32 * 1024 * 1024, key_share=0.5)
    for o in range(5_000):
        await cache.set(key(o, 0), b"v" * 5000, 600)
    for i in range(4_900):
        await cache.set(key(99_999, i), b"d" * 1500, 600)
    cpu = time.process_time()
    for i in range(4):
        await cache.set(key(77_777 + i, 0), b"x" * 2_000_000, 600)
    assert time.process_time() - cpu < 0.2  # generous: ~0.02 s
    assert await cache.get(key(0, 0)) is not None  # the small holders kept theirs


def test_largest_is_the_largest_holder_as_holders_grow_and_shrink() -> None:
    """Largest against brute force: 300 holders growing (told) and shrinking (not told,
    as an eviction does), in a seeded random order; every answer is a largest holder."""
    rng = random.Random(1)
    sizes: dict[str, int] = {}
    largest = Largest(lambda holder: sizes.get(holder, 0))
    for step in range(30_000):
        holder = f"h{rng.randrange(300)}"
        if rng.random() < 0.6:
            sizes[holder] = sizes.get(holder, 0) + rng.randrange(1, 100)
            largest.grew(holder, sizes[holder], len(sizes))
        elif holder in sizes:
            sizes[holder] = max(0, sizes[holder] - rng.randrange(1, 100))
            if not sizes[holder]:
                del sizes[holder]
        if step % 7 == 0:
            found = largest.largest()
            assert (sizes.get(found, 0) if found is not None else 0) == \
                max(sizes.values(), default=0)
