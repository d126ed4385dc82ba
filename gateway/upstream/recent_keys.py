"""Which API keys Comet accepted lately: what lets the cache serve a key without asking Comet.

A cached answer proves the key was valid when the answer was fetched, not now. So the transport
serves a key from the cache only while Comet answered one of its calls 200 within `recheck`
seconds; past that, its next call goes upstream, which either vouches for it again or, with a
401, shows it revoked, and then nothing cached reaches it until Comet accepts it again. A revoked
key thus stops getting cached answers within `recheck` seconds, per process, whatever the TTLs.

The same record bounds what a key Comet does not accept can cost it (an invented key is free
to make): a key Comet has not accepted within `KNOWN_FOR` makes one call at a time until it is
(the transport's probation), and a key Comet refused (401) without ever having accepted it is
refused here without asking again for `REFUSED_FOR` seconds. An invented key thus costs Comet
one call per request that carries it, however many fields the request asks for.

Memory is bounded: the `max_keys` most recently accepted keys, and as many refused ones, are
kept (by fingerprint); a key forgotten is one whose next call goes upstream, the safe side.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from .config import ApiKey

MAX_KEYS = 10_000
KNOWN_FOR = 3600.0  # seconds after Comet accepted a key that its calls skip the probation
REFUSED_FOR = 10.0  # seconds after Comet refused a key that it is refused without asking
FRESH = 1.0  # seconds within which an acceptance is not recorded again


class RecentKeys:
    def __init__(self, recheck: float, max_keys: int = MAX_KEYS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._recheck = recheck
        self._max = max_keys
        self._clock = clock
        self._accepted_at: OrderedDict[str, float] = OrderedDict()  # vouched, unless refused
        self._known_at: OrderedDict[str, float] = OrderedDict()  # accepted, refused or not
        self._refused_at: OrderedDict[str, float] = OrderedDict()  # refused, never accepted

    def accepted(self, key: ApiKey) -> None:
        """Comet answered a call of this key 200."""
        at = self._accepted_at.get(key.fingerprint)
        if at is not None and self._clock() - at < FRESH and key.fingerprint not in \
                self._refused_at:
            return  # said a moment ago: a dashboard's thousand calls need not say it again
        self._remember(self._accepted_at, key)
        self._remember(self._known_at, key)
        self._refused_at.pop(key.fingerprint, None)

    def rejected(self, key: ApiKey) -> None:
        """Comet answered a call of this key 401. A key it accepted within `KNOWN_FOR` (revoked,
        maybe restored soon) is asked again at its next call; one it never accepted is not, for
        `REFUSED_FOR` seconds."""
        self._accepted_at.pop(key.fingerprint, None)
        if not self.known(key):
            self._remember(self._refused_at, key)

    def _remember(self, record: OrderedDict[str, float], key: ApiKey) -> None:
        record[key.fingerprint] = self._clock()
        record.move_to_end(key.fingerprint)
        while len(record) > self._max:
            record.popitem(last=False)

    def known(self, key: ApiKey) -> bool:
        """Whether Comet accepted this key lately enough that its calls need no probation."""
        at = self._known_at.get(key.fingerprint)
        return at is not None and self._clock() - at < KNOWN_FOR

    def refused(self, key: ApiKey) -> bool:
        """Whether Comet refused this key so lately that it is refused without asking."""
        at = self._refused_at.get(key.fingerprint)
        return at is not None and self._clock() - at < REFUSED_FOR

    def vouched(self, key: ApiKey) -> bool:
        """Whether a cached answer may be served to this key now."""
        at = self._accepted_at.get(key.fingerprint)
        return at is not None and self._clock() - at < self._recheck

    def __len__(self) -> int:
        return len(self._accepted_at)
