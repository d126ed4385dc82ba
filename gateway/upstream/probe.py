"""Comet's version probe (`{root}/clientlib/isAlive/ver`), asked sparingly.

`/readyz` and the start-up check ask it. However often they are asked, one request at a time
goes upstream, and its answer (good or bad) is reused for `ttl` seconds: a flood of `/readyz`
costs the upstream at most one probe per `ttl`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable

import aiohttp

from . import errors
from .config import UpstreamConfig
from .mapping import map_transport_errors
from .retries import RETRYABLE_STATUS
from .shared import SingleFlight

READY_TTL = 2.0  # seconds a probe's answer is reused
ANSWER_LIMIT = 64 * 1024  # bytes of the probe's answer read


async def ask_version(session: aiohttp.ClientSession, config: UpstreamConfig) -> str:
    """Ask the probe once: the version Comet reports; Unavailable when it does not answer,
    BadResponse when what answers is not Comet (not a 200, not Comet's `{"version": ...}`)."""
    with map_transport_errors("is_alive"):
        async with session.get(config.probe_url, allow_redirects=False,
                               timeout=aiohttp.ClientTimeout(total=config.timeout)) as resp:
            status = resp.status
            body = await resp.content.read(ANSWER_LIMIT)
    if status in RETRYABLE_STATUS:
        raise errors.Unavailable(f"is_alive: HTTP {status}", endpoint="is_alive", status=status)
    if status != 200:
        raise errors.BadResponse(f"is_alive: HTTP {status} to Comet's version probe",
                                 endpoint="is_alive", status=status)
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    version = data.get("version") if isinstance(data, dict) else None
    if not isinstance(version, str) or not version:
        raise errors.BadResponse("is_alive: the version probe's answer is not Comet's "
                                 '`{"version": ...}`', endpoint="is_alive", status=status)
    return version[:64]


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
