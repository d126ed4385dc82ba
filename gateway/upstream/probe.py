"""Comet's version probe (`{root}/clientlib/isAlive/ver`), asked sparingly.

`/readyz` and the start-up check ask it. However often they are asked, one request at a time
goes upstream, and its answer (good or bad) is reused for `ttl` seconds: a flood of `/readyz`
costs the upstream at most one probe per `ttl`.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from . import errors
from .shared import SingleFlight

READY_TTL = 2.0  # seconds a probe's answer is reused


class VersionProbe:
    """`check()`: Comet's version, or the UpstreamError that says why there is none."""

    def __init__(self, fetch: Callable[[], Awaitable[str]], ttl: float = READY_TTL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._fetch = fetch
        self._ttl = ttl
        self._clock = clock
        self._answer: tuple[float, str | errors.UpstreamError] | None = None
        self._flights: SingleFlight[str | errors.UpstreamError] = SingleFlight()

    async def check(self) -> str:
        if self._answer is None or self._answer[0] <= self._clock():
            answer = await self._flights.run("probe", self._ask)
            self._answer = (self._clock() + self._ttl, answer)
        return self._unwrap(self._answer[1])

    async def _ask(self) -> str | errors.UpstreamError:
        try:
            return await self._fetch()
        except errors.UpstreamError as exc:
            return exc

    @staticmethod
    def _unwrap(answer: str | errors.UpstreamError) -> str:
        if isinstance(answer, errors.UpstreamError):
            raise answer.with_traceback(None)  # raised again and again: keep no old frames
        return answer
