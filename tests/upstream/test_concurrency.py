"""Each key's window of upstream calls: it grows against an upstream that takes the calls, and
shrinks, honouring Retry-After, against one that answers 429 or 503 (see upstream.concurrency).
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Sequence

import pytest

from gateway.dataloader import gated
from gateway.upstream import ApiKey, CometClient, Transport
from gateway.upstream.admission import SPARE, Admission
from gateway.upstream.concurrency import MAX_PAUSE, AdaptiveSlots, Outcome, Window
from tests.demo_server import DemoServer
from tests.upstream.conftest import config_for

TAGS, PARAMETERS, SUMMARY = "experiment/tags", "experiment/parameters", "experiment/metrics/summary"


def most_at_once(spans: Sequence[tuple[float, float]]) -> int:
    return max(sum(1 for a, b in spans if a <= t < b) for t, _ in spans)


async def experiment_keys(client: CometClient) -> list[str]:
    return [e.experiment_key for e in await client.get_experiments("vision-lab",
                                                                     "image-classifier")]


async def many_calls(client: CometClient, keys: list[str]) -> list[object]:
    """Three distinct calls per experiment, all at once (identical ones would share a flight)."""
    return list(await asyncio.gather(*(call(k) for k in keys for call in (
        client.get_tags, client.get_parameters, client.get_metrics_summary))))


async def many_calls_outcomes(client: CometClient, keys: list[str]) -> list[object]:
    return list(await asyncio.gather(*(call(k) for k in keys for call in (
        client.get_tags, client.get_parameters, client.get_metrics_summary)),
        return_exceptions=True))


def spans(demo: DemoServer) -> list[tuple[float, float]]:
    return [(r["at"], r["ended"]) for r in demo.requests()
            if r["endpoint"] in (TAGS, PARAMETERS, SUMMARY)]


async def test_the_window_grows_against_an_upstream_that_takes_the_calls(
        demo: DemoServer) -> None:
    config = config_for(demo, initial_concurrency_per_key=8, max_concurrency_per_key=128)
    async with Transport(config) as transport:
        alice = CometClient(transport, ApiKey(demo.keys["alice"]))
        keys = await experiment_keys(alice)
        assert len(keys) >= 40
        demo.clear_log()
        demo.latency(50)
        answers = await many_calls(alice, keys[:40])
        first = most_at_once(spans(demo))
        demo.clear_log()
        await many_calls(alice, keys[:40])  # the same key's next request starts where it was
        second = most_at_once(spans(demo))
        grown = transport._queries.limit_of(ApiKey(demo.keys["alice"]))
    assert len(answers) == 120
    assert 8 < first < 120  # it started at 8 and grew as the calls came back
    assert second > first and grown > 60


async def test_the_window_shrinks_against_a_strict_upstream(demo: DemoServer) -> None:
    """An upstream that takes 6 calls of a key at once and answers 429 past them: every call
    still succeeds (retried after Retry-After), the window settles near what it allows, and
    the 429s stop being many once it has."""
    config = config_for(demo, initial_concurrency_per_key=32, max_concurrency_per_key=256,
                        deadline=20.0)
    async with Transport(config) as transport:
        alice = CometClient(transport, ApiKey(demo.keys["alice"]))
        keys = (await experiment_keys(alice))[:40]
        demo.latency(20)
        demo.fault("experiment/*", "crowd", size=6, status=429, retry_after="0.05")
        demo.clear_log()
        answers = await many_calls(alice, keys)
        refused = sum(1 for r in demo.requests() if r["status"] == 429)
        settled = transport._queries.limit_of(ApiKey(demo.keys["alice"]))
        demo.clear_log()
        await many_calls(alice, keys)  # a second request, once the window has learned
        again = sum(1 for r in demo.requests() if r["status"] == 429)
    assert len(answers) == 120 and all(a is not None for a in answers)
    assert settled <= 12
    assert refused < 60  # without the window, the first wave alone had 26 refusals per retry
    assert again <= 12


@pytest.mark.parametrize("status", [503, 502, 504])
async def test_an_overloaded_upstream_shrinks_the_window_too(demo: DemoServer,
                                                              status: int) -> None:
    """A 503, or a proxy's 502 or 504: the window shrinks rather than grows, and the calls
    mostly get through (without the window, about 9 in 10 failed against this upstream)."""
    config = config_for(demo, initial_concurrency_per_key=32, max_concurrency_per_key=256)
    async with Transport(config) as transport:
        alice = CometClient(transport, ApiKey(demo.keys["alice"]))
        keys = (await experiment_keys(alice))[:40]
        demo.latency(20)
        demo.fault("experiment/*", "crowd", size=6, status=status)
        answers = await many_calls_outcomes(alice, keys)
        window = transport._queries.limit_of(ApiKey(demo.keys["alice"]))
    failed = sum(1 for a in answers if isinstance(a, BaseException))
    assert window < 16
    assert failed < 40


async def test_one_keys_window_is_not_anothers(demo: DemoServer) -> None:
    config = config_for(demo, initial_concurrency_per_key=16)
    async with Transport(config) as transport:
        alice = CometClient(transport, ApiKey(demo.keys["alice"]))
        keys = (await experiment_keys(alice))[:12]
        demo.latency(20)
        demo.fault(TAGS, "crowd", size=2, status=429, retry_after="0.01")
        await asyncio.gather(*(alice.get_tags(k) for k in keys))
        assert transport._queries.limit_of(ApiKey(demo.keys["alice"])) < 16
        assert transport._queries.limit_of(ApiKey(demo.keys["bob"])) == 16


# --- the window alone ----------------------------------------------------------------------

async def test_a_window_is_cut_once_per_round_trip() -> None:
    window = Window(initial=8, ceiling=64, clock=lambda: 0.0)
    tickets = [await window.acquire() for _ in range(8)]
    for epoch, full in tickets:  # every call of the wave says slow down
        window.release(epoch, full, Outcome.SLOW_DOWN)
    assert window.limit == 4  # halved once, not eight times


async def test_after_a_cut_the_window_grows_by_one_call_per_round_trip() -> None:
    window = Window(initial=8, ceiling=64, clock=lambda: 0.0)
    ticket = await window.acquire()
    window.release(*ticket, Outcome.SLOW_DOWN)
    assert window.limit == 4
    for _ in range(4):  # four round trips, each a full window of calls
        tickets = [await window.acquire() for _ in range(int(window.limit))]
        for epoch, _full in tickets:
            window.release(epoch, True, Outcome.OK)
    assert 7 < window.limit < 8.5  # about +1 per round trip, not doubling (that would be 64)


async def test_a_window_does_not_grow_while_it_holds_nothing_back() -> None:
    window = Window(initial=8, ceiling=64, clock=lambda: 0.0)
    for _ in range(100):  # one call at a time: the window is never what limits it
        window.release(*(await window.acquire()), Outcome.OK)
    assert window.limit == 8


async def test_retry_after_holds_the_keys_new_calls() -> None:
    now = [0.0]
    window = Window(initial=4, ceiling=64, clock=lambda: now[0])
    window.release(*(await window.acquire()), Outcome.SLOW_DOWN, 0.05)
    assert window.try_acquire() is None  # paused: even with room
    now[0] = 0.06
    waiter = asyncio.ensure_future(window.acquire())
    await asyncio.sleep(0)
    assert waiter.done()


async def test_a_cancelled_waiter_gives_its_room_back() -> None:
    window = Window(initial=1, ceiling=1, clock=lambda: 0.0)
    held = await window.acquire()
    waiting = asyncio.ensure_future(window.acquire())
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    window.release(*held, Outcome.OK)
    assert window.in_flight == 0 and window.try_acquire() is not None


async def test_idle_windows_of_many_keys_are_forgotten() -> None:
    slots = AdaptiveSlots(total=8, initial=4, ceiling=8, max_idle_keys=3)
    for i in range(50):
        async with slots.hold(ApiKey(f"invented-{i}")) as report:
            report(Outcome.OK, None)
    assert len(slots._windows) <= 4


async def test_a_call_made_during_a_pause_starts_when_it_ends() -> None:
    """Retry-After with nothing in flight: no release will come to wake the call up."""
    window = Window(initial=4, ceiling=64, clock=time.monotonic)
    window.release(*(await window.acquire()), Outcome.SLOW_DOWN, 0.05)
    async with asyncio.timeout(5):
        await window.acquire()
    assert window.in_flight == 1


async def test_a_long_retry_after_is_the_refused_calls_own() -> None:
    window = Window(initial=4, ceiling=64, clock=lambda: 0.0)
    window.release(*(await window.acquire()), Outcome.SLOW_DOWN, MAX_PAUSE + 1)
    assert window.try_acquire() is not None and window.limit == 2


async def test_a_third_key_gets_its_share_while_two_fill_the_total() -> None:
    slots = AdaptiveSlots(total=8, initial=8, ceiling=8)
    release = asyncio.Event()
    started: list[str] = []

    async def call(key: str) -> None:
        async with slots.hold(ApiKey(key), 5) as report:
            started.append(key)
            await release.wait()
            report(Outcome.OK, None)

    busy = [asyncio.ensure_future(call(k)) for k in ("a", "b") for _ in range(8)]
    await asyncio.sleep(0)
    assert sorted(started) == ["a"] * 8  # a filled the total before b came
    third = asyncio.ensure_future(call("c"))
    await asyncio.sleep(0)
    release.set()
    await asyncio.gather(*busy, third)
    # Once a's calls ended, the total was shared: b and c both got in before a's share ran out.
    assert started.index("c") < len(started) - 1


async def test_a_new_keys_window_is_not_forgotten_as_it_is_made() -> None:
    slots = AdaptiveSlots(total=64, initial=1, ceiling=1, max_idle_keys=2)
    release = asyncio.Event()
    running = collections.Counter[str]()
    most = 0

    async def call(key: str) -> None:
        nonlocal most
        async with slots.hold(ApiKey(key), 5):
            running[key] += 1
            most = max(most, running["c"])
            await (release.wait() if key != "c" else asyncio.sleep(0.001))
            running[key] -= 1

    busy = [asyncio.ensure_future(call(k)) for k in ("a", "b")]
    await asyncio.sleep(0)
    calls = [asyncio.ensure_future(call("c")) for _ in range(10)]
    await asyncio.sleep(0.01)
    release.set()
    await asyncio.gather(*busy, *calls)
    assert most == 1  # c's calls went one at a time: its window (of 1) held


async def test_room_handed_to_a_waiter_that_is_cancelled_is_passed_on() -> None:
    window = Window(initial=1, ceiling=1, clock=lambda: 0.0)
    held = await window.acquire()
    first = asyncio.ensure_future(window.acquire())
    second = asyncio.ensure_future(window.acquire())
    await asyncio.sleep(0)
    window.release(*held, Outcome.OK)  # the room goes to `first`...
    first.cancel()  # ...which is cancelled before it resumes
    with pytest.raises(asyncio.CancelledError):
        await first
    await asyncio.sleep(0)
    assert second.done() and window.in_flight == 1


async def test_a_small_request_waits_behind_a_round_trip_of_a_large_one_not_all_of_it() -> None:
    """Calls are begun as the key's window stands, not as its ceiling allows: a one-key
    request that comes after a 200-key one of the same key is sent after at most the calls
    already waiting in the window (a quarter of it, and a few), not after the 200."""
    slots = AdaptiveSlots(total=64, initial=8, ceiling=8)
    admission = Admission.following(slots.room_of)
    gate = admission.gate(ApiKey("k"))
    sent: list[object] = []

    async def fetch(item: object) -> object:
        async with slots.hold(ApiKey("k"), 5) as report:
            sent.append(item)
            await asyncio.sleep(0.002)
            report(Outcome.OK, None)
        return item

    large = asyncio.ensure_future(gated(fetch, list(range(200)), gate))
    await asyncio.sleep(0.01)
    arrived = len(sent)
    assert await gated(fetch, ["small"], gate) == ["small"]
    await large
    assert sent.index("small") - arrived <= 8 // 4 + SPARE + 2
