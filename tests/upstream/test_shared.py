"""Single flight and the operation's deadline (upstream.shared)."""

from __future__ import annotations

import asyncio
import gc
import weakref

import pytest

from gateway.upstream import ApiKey, CometClient, Transport, errors
from gateway.upstream.shared import Deadline, SingleFlight
from tests.demo_server import DemoServer
from tests.upstream.conftest import config_for


async def test_an_operations_calls_share_one_timer() -> None:
    loop = asyncio.get_running_loop()
    deadline = Deadline(loop.time() + 0.05)
    flights: SingleFlight[str] = SingleFlight()
    release = asyncio.Event()

    async def slow(i: int) -> str:
        await release.wait()
        return f"answer {i}"

    waiting = [asyncio.ensure_future(flights.run(i, lambda i=i: slow(i), deadline, "tags"))
               for i in range(20)]
    await asyncio.sleep(0)
    timers = [h for h in loop._scheduled if not h.cancelled()]  # type: ignore[attr-defined]
    assert len(timers) == 1  # one for the operation, not one per call
    answers = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(a, errors.DeadlineExceeded) for a in answers)
    await asyncio.sleep(0)
    assert len(flights) == 0  # nobody waits for them any more: cancelled


async def test_a_waiter_past_its_deadline_leaves_the_others_their_answer() -> None:
    loop = asyncio.get_running_loop()
    flights: SingleFlight[str] = SingleFlight()
    release = asyncio.Event()

    async def slow() -> str:
        await release.wait()
        return "answer"

    hurried = asyncio.ensure_future(flights.run("k", slow, Deadline(loop.time() + 0.02), "x"))
    patient = asyncio.ensure_future(flights.run("k", slow, Deadline(loop.time() + 5), "x"))
    with pytest.raises(errors.DeadlineExceeded):
        await hurried
    release.set()
    assert await patient == "answer"


async def test_no_timer_is_left_once_the_operations_calls_are_answered() -> None:
    loop = asyncio.get_running_loop()
    deadline = Deadline(loop.time() + 60)
    flights: SingleFlight[int] = SingleFlight()

    async def quick(i: int) -> int:
        await asyncio.sleep(0)
        return i

    assert await asyncio.gather(*(flights.run(i, lambda i=i: quick(i), deadline)
                                  for i in range(5))) == list(range(5))
    assert deadline._timer is None


async def test_a_clients_calls_end_at_its_operations_deadline(demo: DemoServer) -> None:
    async with Transport(config_for(demo)) as transport:
        loop = asyncio.get_running_loop()
        alice = CometClient(transport, ApiKey(demo.keys["alice"]), deadline=loop.time() + 0.3)
        keys = [e.experiment_key for e in await alice.get_experiments(
            "vision-lab", "image-classifier")][:5]
        demo.fault("experiment/tags", "delay", delay=30)
        try:
            answers = await asyncio.gather(*(alice.get_tags(k) for k in keys),
                                           return_exceptions=True)
        finally:
            demo.clear_faults()
    assert all(isinstance(a, errors.DeadlineExceeded) for a in answers)


async def test_a_deadline_error_keeps_nothing_of_the_call_alive() -> None:
    """graphql-core keeps a field's error, and its traceback, in a cycle with the frame that
    caught it: the shared call (and its answer, up to many MB) must not hang off it."""
    loop = asyncio.get_running_loop()
    flights: SingleFlight[bytes] = SingleFlight()
    release = asyncio.Event()

    async def slow() -> bytes:
        await release.wait()
        return b"x" * 1000

    gc.disable()
    try:
        waiting = asyncio.ensure_future(flights.run("k", slow, Deadline(loop.time() + 0.01)))
        await asyncio.sleep(0)
        call = weakref.ref(flights._flights["k"])
        try:
            await waiting
        except errors.DeadlineExceeded as exc:
            kept = exc  # as a GraphQL error keeps it
        release.set()
        await asyncio.sleep(0.01)
        del waiting
        assert kept.__traceback__ is not None and call() is None
    finally:
        gc.enable()


async def test_a_shared_call_runs_on_while_anyone_waits_and_stops_when_none_does() -> None:
    loop = asyncio.get_running_loop()
    flights: SingleFlight[str] = SingleFlight()
    release = asyncio.Event()
    cancelled = asyncio.Event()

    async def slow() -> str:
        try:
            await release.wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "answer"

    hurried = asyncio.ensure_future(flights.run("k", slow, Deadline(loop.time() + 0.01)))
    patient = asyncio.ensure_future(flights.run("k", slow, Deadline(loop.time() + 0.05)))
    with pytest.raises(errors.DeadlineExceeded):
        await hurried
    assert len(flights) == 1 and not cancelled.is_set()  # `patient` still waits
    with pytest.raises(errors.DeadlineExceeded):
        await patient
    await asyncio.sleep(0)
    assert cancelled.is_set() and len(flights) == 0
