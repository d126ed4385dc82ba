"""Multi-metric charts cached per experiment, each part for as long as its experiment's state
allows (see `lifetimes`).

A chart batch holds up to a hundred experiments, ended and running together: cached whole, it
would live as briefly as its liveliest experiment, and a dashboard's refresh would fetch every
ended experiment's series again with the running one's. So each experiment's part of an answer
is kept on its own (keyed, as every entry, by the API key, and by what was asked: metrics,
params, sampled or full, independent or not), and a chart is put together from the parts the
cache holds and one call for the experiments it lacks. A refresh thus costs one chart call
per batch of running experiments, carrying only their series.

A chart's parts are looked up together, but never in one command of megabytes: each part's
size is guessed from what was asked (metrics, sampled or full), so that the cache sends them in
commands of about a megabyte each (see `lookup_batches`). One command of a whole dashboard's
parts would take longer than a lookup's timeout where the same in smaller ones would not, and
its timeout would open the breaker for every key.

A part is kept as the upstream sent it: the answer is decoded whole, as without a cache, and
split into its experiments' JSON unread (msgspec's `Raw`, a scan with no objects made), so
that keeping the parts costs a cold load no encoding. A part read back is decoded by the same
rules as a whole answer (`decoding`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import msgspec

from . import errors
from .cache import VERSION, ResponseCache
from .config import ApiKey
from .decoding import one
from .endpoints import MULTI_METRIC_CHART
from .lifetimes import Lifetimes
from .models import ChartExperiment, MultiMetricChart
from .observer import Observer

FAMILY = "metrics"  # what the lookups count as, on /metrics
# A part's size, guessed: Comet samples a metric to about 500 points, or sends it whole (up to
# 15,000); a point is about 45 bytes of JSON (value, step, timestamp, epoch, duration).
SAMPLED_POINTS = 500
FULL_POINTS = 15_000
POINT_BYTES = 48
PARAM_BYTES = 64
NONE = b"null"  # the part of an experiment the chart had no entry for
_ENCODE = msgspec.json.Encoder()


class _Unread(msgspec.Struct, frozen=True, gc=False):
    """A chart answer with its experiments' JSON left unread."""

    experiments: dict[str, msgspec.Raw] | None = None


_UNREAD = msgspec.json.Decoder(_Unread, strict=False)


@dataclass(frozen=True, slots=True)
class ChartAsk:
    """What a chart call asks of each experiment (everything but the experiments)."""

    metrics: tuple[str, ...]
    params: tuple[str, ...]
    independent: bool
    full: bool

    def part_bytes(self) -> int:
        """What one experiment's part of the answer is expected to weigh (a guess, for how
        many parts one lookup command carries)."""
        points = FULL_POINTS if self.full else SAMPLED_POINTS
        return 256 + len(self.metrics) * points * POINT_BYTES + len(self.params) * PARAM_BYTES

    def digest(self) -> str:
        text = json.dumps([self.metrics, self.params, self.independent, self.full],
                          separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:32]


class ChartCache:
    """The parts of multi-metric charts, in the response cache."""

    def __init__(self, cache: ResponseCache, lifetimes: Lifetimes, observer: Observer,
                 vouches_for: Callable[[ApiKey], bool]) -> None:
        self._cache = cache
        self._lifetimes = lifetimes
        self._observer = observer
        self._vouches_for = vouches_for

    @staticmethod
    def _prefix(key: ApiKey, ask: ChartAsk) -> str:
        """What every part's key of this chart for `key` begins with (the experiment and its
        state's tag follow)."""
        return f"cgw:{VERSION}:{key.fingerprint}:chart:{ask.digest()}:"

    async def held(self, key: ApiKey, experiments: Sequence[str], ask: ChartAsk
                   ) -> dict[str, ChartExperiment | None]:
        """The parts the cache holds for `key` (None: the chart had no entry for it), by
        experiment; an experiment missing is one to ask the upstream for."""
        wanted = list(dict.fromkeys(experiments))
        # A key is served from the cache only while Comet accepted it lately (`recent_keys`).
        if not wanted or not self._vouches_for(key):
            for _ in wanted:
                self._observer.cache_lookup(FAMILY, False)
            return {}
        prefix = self._prefix(key, ask)
        names = [_part(prefix, e, self._lifetimes.logged(key, e).tag) for e in wanted]
        parts: dict[str, ChartExperiment | None] = {}
        found_all = await self._cache.get_many(names, ask.part_bytes())
        for e, found in zip(wanted, found_all, strict=True):
            part = _decoded(found)
            self._observer.cache_lookup(FAMILY, part is not None)
            if part is not None:
                parts[e] = part[0]
        return parts

    async def chart(self, key: ApiKey, experiments: Sequence[str], ask: ChartAsk,
                    fetch: Callable[[Sequence[str]], Awaitable[bytes]], *,
                    lookup: bool = True) -> MultiMetricChart:
        """The chart of `experiments`: the parts cached for `key` (unless `lookup` is False:
        the caller asked `held` already), and `fetch` (one upstream call, its answer's bytes)
        for the rest, whose parts are then kept."""
        parts = await self.held(key, experiments, ask) if lookup else {}
        missing = [e for e in dict.fromkeys(experiments) if e not in parts]
        if not missing:
            return _together(experiments, parts)
        # How each part is kept is decided before the call: what was fetched while an
        # experiment ran is kept as running, even if its list says it ended meanwhile.
        kept = [self._lifetimes.logged(key, e) for e in missing]
        answer, sent = split(await fetch(missing))
        prefix = self._prefix(key, ask)
        writes = [(_part(prefix, e, k.tag), sent.get(e, NONE), k.ttl)
                  for e, k in zip(missing, kept, strict=True) if k.ttl > 0]
        if writes:
            await self._cache.set_many(writes)
        if not parts:
            return answer  # all of it fresh: as the upstream answered
        got = answer.experiments or {}
        return _together(experiments, {**parts, **{e: got.get(e) for e in missing}})


def _part(prefix: str, experiment: str, tag: str) -> str:
    """A part's key: the experiment by a hash of its id, which the caller chose (an id of a
    megabyte would otherwise be a key of one, past what the write queue counts)."""
    return f"{prefix}{hashlib.sha256(experiment.encode()).hexdigest()[:32]}:{tag}"


def split(content: bytes) -> tuple[MultiMetricChart, dict[str, bytes]]:
    """A chart answer, decoded (or refused) as without a cache, and each experiment's part of
    it as it was sent."""
    chart = one(MultiMetricChart).decode(content, MULTI_METRIC_CHART.name)
    try:
        unread = _UNREAD.decode(content)
    except msgspec.MsgspecError:  # a shape only the tolerant path reads: each part anew
        return chart, {e: _ENCODE.encode(p) for e, p in (chart.experiments or {}).items()}
    return chart, {e: bytes(raw) for e, raw in (unread.experiments or {}).items()}


def _decoded(found: bytes | None) -> tuple[ChartExperiment | None] | None:
    """A cached part (an experiment the chart had no entry for is a part too: `null`); None
    for a miss, or for what cannot be read (a miss as well)."""
    if found is None:
        return None
    if found == NONE:
        return (None,)
    try:
        return (one(ChartExperiment).decode(found, MULTI_METRIC_CHART.name),)
    except errors.BadResponse:
        return None


def _together(experiments: Sequence[str], parts: dict[str, ChartExperiment | None]
              ) -> MultiMetricChart:
    """One chart of the parts, in the order asked: empty, as Comet says it, when no
    experiment has any metric."""
    found = {e: part for e in dict.fromkeys(experiments)
             if (part := parts.get(e)) is not None}
    return MultiMetricChart(empty=not any(p.metrics for p in found.values()),
                            experiments=found)
