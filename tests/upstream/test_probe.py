"""The version probe behind /readyz: one request at a time, each answer reused a while."""

from __future__ import annotations

import asyncio

import pytest

from gateway.upstream import errors
from gateway.upstream.probe import VersionProbe


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_concurrent_checks_share_one_probe_and_its_answer_is_reused() -> None:
    asked = 0
    gate = asyncio.Event()

    async def fetch() -> str:
        nonlocal asked
        asked += 1
        await gate.wait()
        return "3.58.0"

    clock = Clock()
    probe = VersionProbe(fetch, ttl=2.0, clock=clock)
    waiting = [asyncio.ensure_future(probe.check()) for _ in range(50)]
    await asyncio.sleep(0)
    gate.set()
    assert await asyncio.gather(*waiting) == ["3.58.0"] * 50
    clock.now += 1.9
    assert await probe.check() == "3.58.0"
    assert asked == 1
    clock.now += 0.2
    assert await probe.check() == "3.58.0"
    assert asked == 2


async def test_failures_are_reused_too_without_growing() -> None:
    asked = 0

    async def fetch() -> str:
        nonlocal asked
        asked += 1
        raise errors.BadResponse("is_alive: HTTP 404", endpoint="is_alive", status=404)

    probe = VersionProbe(fetch, ttl=2.0, clock=Clock())
    depths = []
    for _ in range(20):
        with pytest.raises(errors.BadResponse) as caught:
            await probe.check()
        tb, depth = caught.value.__traceback__, 0
        while tb is not None:
            tb, depth = tb.tb_next, depth + 1
        depths.append(depth)
    assert asked == 1 and len(set(depths[1:])) == 1  # no traceback piles up on the error


async def test_one_checker_giving_up_does_not_cancel_the_others() -> None:
    gate = asyncio.Event()

    async def fetch() -> str:
        await gate.wait()
        return "1.0"

    probe = VersionProbe(fetch, clock=Clock())
    first = asyncio.ensure_future(probe.check())
    second = asyncio.ensure_future(probe.check())
    await asyncio.sleep(0)
    first.cancel()
    gate.set()
    assert await second == "1.0"
