"""How long a cached answer lives: by what it is about, and by its experiment's state.

What an experiment logged (metrics, summaries, parameters, others, system details, assets,
models, code, graph, git, output) no longer changes once the experiment ended: it is kept for
long (`TimesToLive.ended`, a day by default; the cache's byte budget bounds it anyway). While
the experiment runs it lives seconds (`running`). Everything else lives its family's time
(`families`), and experiment lists and metadata, which say whether an experiment runs, their
own (`state`).

The state costs no call: `ExperimentStates` remembers, per API key and experiment, what the
last experiment list or metadata the gateway decoded for that key said (running, or ended at
some time). An ended experiment's entries are keyed by that end time, so that an experiment
resumed (running again, or with a new end time) misses them and is fetched afresh. An
experiment whose state is unknown, or was last seen longer than `state` seconds ago, counts as
running: the long lifetime is used only while a recent answer, fetched with the same key, says
the experiment ended, so a key that can no longer see the experiment stops being served its
long-lived entries too.

An experiment that ended moments ago counts as running until it has been ended for `settle`
seconds (60 by default): Comet may still be landing its last points, and what is read then
would otherwise be kept a day as it was. The time since it ended is the upstream's: its end
time (Comet's clock) against Comet's own now, as the Date header of its latest answers shows
it (`UpstreamTime`; the gateway's clock only until an answer came), so that a gateway whose
clock runs ahead of Comet's does not cut the settling short. The Date header has whole seconds
and comes after the answer was made: the settling is exact to a second or two. Only answers
of Comet's own origin are read (not a redirect's elsewhere), a header that does not parse is
ignored, and so is one further than `MAX_SKEW` from the gateway's clock (a caching proxy's old
Date, a clock that is plainly wrong: trusted, it would make every ended experiment count as
running, or settle none): then the gateway's own clock is used, with one warning logged.

How stale an ended experiment's entry can be once it resumed: the list that says "ended" may
have been cached for up to `state` seconds, and what it said is trusted for `state` seconds
after it was last read; so at most twice `state` (20 s by default). Within one request a
dashboard reads the list first and then the experiments' data, so the data follows the list
it came with.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from .config import ApiKey
from .endpoints import Endpoint, Lifetime
from .largest import Largest
from .models import ExperimentMetadata

RUNNING = -1  # a remembered state: running (an end time is never negative)
MAX_SKEW = 3600.0  # seconds Comet's clock may be off the gateway's and still be believed
log = logging.getLogger("gateway.cache")


@dataclass(frozen=True)
class TimesToLive:
    """Seconds answers stay cached (0: not cached), by what they are about."""

    ended: float = 86_400.0  # what an ended experiment logged
    running: float = 5.0  # what a running experiment (or one of unknown state) logged
    state: float = 10.0  # experiment lists and metadata; how long a state seen is trusted
    settle: float = 60.0  # how long an experiment that ended still counts as running
    families: Mapping[str, float] = field(default_factory=dict)  # everything else

    def any(self) -> bool:
        return any(v > 0 for v in (self.ended, self.running, self.state,
                                   *self.families.values()))


@dataclass(frozen=True, slots=True)
class Kept:
    """How one answer is cached: its seconds, and what its key adds (the state it belongs to)."""

    ttl: float
    tag: str = ""


class UpstreamTime:
    """The upstream's clock, as the Date headers of its answers show it: the wall clock plus
    the offset the latest header read showed (a header is read at most once a second, by
    `clock`; one unreadable, or off by more than `MAX_SKEW`, is ignored)."""

    def __init__(self, wall: Callable[[], float] = time.time,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._wall = wall
        self._clock = clock
        self._offset = 0.0
        self._next_read: float | None = None
        self._warned = False

    def heard(self, date: str | None) -> None:
        """An answer's Date header (None: it had none). Never raises."""
        if date is None:
            return
        ticks = self._clock()
        if self._next_read is not None and ticks < self._next_read:
            return
        self._next_read = ticks + 1.0
        try:
            said = email.utils.parsedate_tz(date)
            # The header has whole seconds, truncated: the middle of its second is nearest.
            offset = email.utils.mktime_tz(said) + 0.5 - self._wall() if said else None
        except (ValueError, OverflowError, TypeError, IndexError):
            offset = None  # a year 99999, a day 0, ...: not a time
        if offset is None:
            return
        if abs(offset) > MAX_SKEW:
            if not self._warned:
                self._warned = True
                log.warning("Comet's Date header is %.0f s off this gateway's clock, more than "
                            "%.0f s: the gateway's own clock times how long experiments have "
                            "been ended", offset, MAX_SKEW)
            self._offset = 0.0
            return
        self._offset = offset

    def millis(self) -> int:
        """The upstream's now, in milliseconds since the epoch."""
        return int((self._wall() + self._offset) * 1000)


class ExperimentStates:
    """The state each experiment had in the last list or metadata decoded, per API key.

    A bounded LRU: at most `max_entries` (key, experiment) pairs, the least recently seen
    forgotten first (forgotten is unknown: running, the safe side); each is trusted `trust`
    seconds after it was last seen. Seeing refreshes, so the order is also the order of age.
    One API key's pairs are at most `key_share` of them: past it, its own least recently seen
    go; and when all are taken, the least recently seen of the key holding the most go (max-min
    fair), so that neither one key listing many experiments nor a few keys together can make
    another's dashboard unknown.
    An experiment that ended less than `settle` seconds ago (by `upstream`) is seen running.
    """

    def __init__(self, max_entries: int, trust: float,
                 clock: Callable[[], float] = time.monotonic, key_share: float = 1.0,
                 settle: float = 0.0, upstream: UpstreamTime | None = None) -> None:
        self._max = max_entries
        self._settle_ms = int(settle * 1000)
        self.upstream = upstream or UpstreamTime()
        self._per_key = max(1, int(max_entries * key_share))
        self._trust = trust
        self._clock = clock
        # (key's fingerprint, experiment key) -> (end time or RUNNING, when seen)
        self._seen: OrderedDict[tuple[str, str], tuple[int, float]] = OrderedDict()
        # Each key's experiments, least recently seen first (kept only under a share).
        self._keys: dict[str, OrderedDict[str, None]] | None = \
            {} if self._per_key < max_entries else None
        # Which key holds the most: in O(log keys) per eviction, not O(keys).
        self._most = Largest(lambda k: len(self._keys.get(k) or ()) if self._keys else 0)

    def saw(self, key: ApiKey, experiments: Iterable[ExperimentMetadata]) -> None:
        """Remember what an answer of `key`'s said of these experiments' states."""
        if self._trust <= 0:
            return
        now, seen, fingerprint = self._clock(), self._seen, key.fingerprint
        settled = self.upstream.millis() - self._settle_ms  # ended by then: ended for good
        mine = None if self._keys is None else self._keys.setdefault(fingerprint, OrderedDict())
        for e in experiments:
            end = e.end_time_millis
            state = RUNNING if e.running or end is None or end < 0 or end > settled else end
            pair = (fingerprint, e.experiment_key)
            seen[pair] = (state, now)
            seen.move_to_end(pair)
            if mine is not None:
                mine[e.experiment_key] = None
                mine.move_to_end(e.experiment_key)
                if len(mine) > self._per_key:
                    del seen[(fingerprint, mine.popitem(last=False)[0])]
        if mine:
            assert self._keys is not None
            self._most.grew(fingerprint, len(mine), len(self._keys))
        while len(seen) > self._max:
            owner = self._most.largest() if self._keys else None
            if owner is not None:  # the largest holder's least recently seen: max-min fair
                assert self._keys is not None
                theirs = self._keys[owner]
                del seen[(owner, theirs.popitem(last=False)[0])]
                if not theirs:
                    del self._keys[owner]
                continue
            seen.popitem(last=False)
        if self._keys is not None and not mine:  # nothing seen: no empty entry left
            self._keys.pop(fingerprint, None)

    def ended_at(self, key: ApiKey, experiment: str) -> int | None:
        """When the experiment ended, as last seen and still trusted; None while it runs, or
        when its state is unknown."""
        found = self._seen.get((key.fingerprint, experiment))
        if found is None or found[0] == RUNNING:
            return None
        if self._clock() - found[1] > self._trust:
            return None
        return found[0]

    def __len__(self) -> int:
        return len(self._seen)


class Lifetimes:
    """The lifetime of each cached answer (see the module's docstring)."""

    def __init__(self, ttls: TimesToLive, max_states: int,
                 clock: Callable[[], float] = time.monotonic, key_share: float = 1.0) -> None:
        self.ttls = ttls
        self.states = ExperimentStates(max_states, ttls.state, clock, key_share, ttls.settle)
        # Made once: the lookups below run for every upstream call.
        self._families = {f: Kept(t) for f, t in ttls.families.items() if t > 0}
        self._state = Kept(ttls.state) if ttls.state > 0 else None
        self._running = Kept(ttls.running, "running")

    def of(self, endpoint: Endpoint, key: ApiKey, experiment: str | None) -> Kept | None:
        """How an answer of `endpoint` for `experiment` (when it is about one) is kept;
        None when the transport keeps none (not cached, or kept per experiment)."""
        lifetime = endpoint.lifetime
        if lifetime is Lifetime.FAMILY:
            return self._families.get(endpoint.family)
        if lifetime is Lifetime.STATE:
            return self._state
        if lifetime is Lifetime.LOGGED and experiment is not None:
            kept = self.logged(key, experiment)
            return kept if kept.ttl > 0 else None
        return None

    def logged(self, key: ApiKey, experiment: str) -> Kept:
        """How what `experiment` logged is kept: by the end time last seen, or as running."""
        ended = self.states.ended_at(key, experiment)
        if ended is None:
            return self._running
        return Kept(self.ttls.ended, f"ended {ended}")
