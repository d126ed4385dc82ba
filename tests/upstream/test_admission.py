"""A key's calls begun at once: at most `size`, the rest waiting their turn in order, and
nothing left behind (by calls that end, fail or are cancelled)."""

from __future__ import annotations

import asyncio

from gateway.upstream import ApiKey
from gateway.upstream.admission import Admission

KEY, OTHER = ApiKey("alice-key"), ApiKey("bob-key")


async def test_a_key_begins_at_most_size_calls_and_the_next_in_turn() -> None:
    admission = Admission(2)
    gate = admission.gate(KEY)
    await gate.acquire()
    await gate.acquire()
    order: list[int] = []

    async def waits(i: int) -> None:
        await gate.acquire()
        order.append(i)

    waiting = [asyncio.ensure_future(waits(i)) for i in range(3)]
    await asyncio.sleep(0)
    assert order == [] and admission.begun(KEY.fingerprint) == 2
    await admission.gate(OTHER).acquire()  # another key has room of its own
    gate.release()
    await asyncio.sleep(0)
    assert order == [0]
    gate.release()
    gate.release()
    await asyncio.sleep(0)
    assert order == [0, 1, 2]
    await asyncio.gather(*waiting)
    for _ in range(2):
        gate.release()
    admission.gate(OTHER).release()
    assert admission.begun(KEY.fingerprint) == 0 and not admission._keys


async def test_a_cancelled_waiter_leaves_nothing_and_passes_its_room_on() -> None:
    admission = Admission(1)
    gate = admission.gate(KEY)
    await gate.acquire()
    first = asyncio.ensure_future(gate.acquire())
    second = asyncio.ensure_future(gate.acquire())
    await asyncio.sleep(0)
    first.cancel()  # cancelled while it waits: it leaves the queue
    await asyncio.sleep(0)
    gate.release()  # room goes to the second
    await second
    third = asyncio.ensure_future(gate.acquire())
    await asyncio.sleep(0)
    gate.release()  # room handed to the third...
    third.cancel()  # ...as it is cancelled: given back, not lost
    await asyncio.gather(third, return_exceptions=True)
    assert admission.begun(KEY.fingerprint) == 0 and not admission._keys
