"""The retry policy on its own clock: what it waits, and when it stops, with no real sleep."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Iterable

import pytest

from gateway.upstream import UpstreamConfig, errors
from gateway.upstream.budget import Budget
from gateway.upstream.endpoints import TAGS
from gateway.upstream.retries import RetryPolicy


class Clock:
    """A clock that moves only when the policy sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class Top(random.Random):
    def uniform(self, a: float, b: float) -> float:
        return b


def policy(clock: Clock, **config: float) -> RetryPolicy:
    settings = {"max_retries": 3, "backoff_base": 0.5, "backoff_max": 8.0, "deadline": 30.0,
                **config}
    return RetryPolicy(UpstreamConfig(**settings), rng=Top(),  # type: ignore[arg-type]
                       clock=clock, sleep=clock.sleep)


def failing(outcomes: Iterable[BaseException | str]
            ) -> tuple[Callable[[float], Awaitable[str]], list[float]]:
    left = list(outcomes)
    attempts: list[float] = []

    async def attempt(remaining: float) -> str:
        attempts.append(remaining)
        outcome = left.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    return attempt, attempts


def unavailable(status: int | None = 503) -> errors.Unavailable:
    return errors.Unavailable("down", endpoint="tags", status=status)


async def test_5xx_backs_off_exponentially_then_succeeds() -> None:
    clock = Clock()
    attempt, attempts = failing([unavailable(), unavailable(502), unavailable(None), "ok"])
    assert await policy(clock).run(TAGS, attempt) == "ok"
    assert clock.slept == [0.5, 1.0, 2.0] and len(attempts) == 4


async def test_the_backoff_is_capped() -> None:
    clock = Clock()
    attempt, _ = failing([unavailable()] * 3 + ["ok"])
    await policy(clock, backoff_base=4.0, backoff_max=5.0).run(TAGS, attempt)
    assert clock.slept == [4.0, 5.0, 5.0]


async def test_after_the_last_retry_the_failure_stands() -> None:
    clock = Clock()
    attempt, attempts = failing([unavailable()] * 4)
    with pytest.raises(errors.Unavailable):
        await policy(clock).run(TAGS, attempt)
    assert len(attempts) == 4


async def test_retry_after_is_honoured_and_never_sooner_than_the_backoff() -> None:
    clock = Clock()
    attempt, _ = failing([errors.RateLimited("slow", endpoint="tags", retry_after=3.0),
                          errors.RateLimited("slow", endpoint="tags", retry_after=0.0), "ok"])
    assert await policy(clock).run(TAGS, attempt) == "ok"
    assert clock.slept == [3.0, 1.0]  # 0 is no reason to hammer: the backoff (1.0) instead


async def test_a_wait_past_the_deadline_is_not_taken() -> None:
    clock = Clock()
    attempt, attempts = failing([errors.RateLimited("slow", endpoint="tags", retry_after=60.0)])
    with pytest.raises(errors.RateLimited):
        await policy(clock, deadline=30.0).run(TAGS, attempt)
    assert clock.slept == [] and len(attempts) == 1


async def test_each_attempt_gets_what_is_left_of_the_deadline() -> None:
    clock = Clock()
    attempt, attempts = failing([unavailable(), unavailable(), "ok"])
    await policy(clock, deadline=10.0).run(TAGS, attempt)
    assert attempts == [10.0, 9.5, 8.5]


async def test_what_is_not_retried() -> None:
    for final in (unavailable(501), errors.BadResponse("x", endpoint="tags"),
                  errors.NotFound("x", endpoint="tags"),
                  errors.RateLimited("no retry-after", endpoint="tags")):
        clock = Clock()
        attempt, attempts = failing([final, "ok"])
        with pytest.raises(type(final)):
            await policy(clock).run(TAGS, attempt)
        assert len(attempts) == 1 and clock.slept == []


async def test_retries_are_spent_from_the_budget() -> None:
    clock = Clock()
    budget = Budget(2)
    budget.spend(TAGS)  # the call itself
    attempt, attempts = failing([unavailable()] * 4)
    with pytest.raises(errors.Unavailable):
        await policy(clock).run(TAGS, attempt, budget)
    assert len(attempts) == 2 and budget.spent == 2


async def test_a_503s_retry_after_is_waited_out() -> None:
    clock = Clock()
    attempt, _ = failing([errors.Unavailable("busy", endpoint="tags", status=503,
                                             retry_after=5.0), "ok"])
    assert await policy(clock).run(TAGS, attempt) == "ok"
    assert clock.slept == [5.0]
    clock = Clock()
    attempt, attempts = failing([errors.Unavailable("busy", endpoint="tags", status=503,
                                                    retry_after=60.0), "ok"])
    with pytest.raises(errors.Unavailable):  # past the deadline: the 503 stands at once
        await policy(clock).run(TAGS, attempt)
    assert clock.slept == [] and len(attempts) == 1
