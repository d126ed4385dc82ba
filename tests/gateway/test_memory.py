"""The memory hand-back: after a wave of connections has gone, not under steady traffic."""

from __future__ import annotations

import asyncio

import pytest

from gateway import memory


@pytest.fixture
def trims(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    monkeypatch.setattr(memory, "MALLOC_TRIM", lambda pad: calls.append(pad) or 1)
    monkeypatch.setattr(memory, "EVERY", 0.2)
    return calls


async def test_a_wave_that_goes_is_handed_back_once(trims: list[int]) -> None:
    connections: set[int] = set()
    watcher = memory.MemoryReturn(connections, asyncio.get_running_loop())
    for i in range(150):  # a wave comes
        connections.add(i)
        watcher.observe()
    for i in range(150):  # and goes
        connections.discard(i)
        watcher.observe()
    assert trims == []  # not at once: a second later
    await asyncio.sleep(1.2)
    assert trims == [0] and watcher.trims == 1


async def test_steady_traffic_never_trims(trims: list[int]) -> None:
    connections: set[int] = set()
    watcher = memory.MemoryReturn(connections, asyncio.get_running_loop())
    for i in range(2000):  # connections come and go, 50 open at most
        connections.add(i)
        watcher.observe()
        if len(connections) >= 50:
            connections.discard(min(connections))
            watcher.observe()
    await asyncio.sleep(1.2)
    assert trims == []
