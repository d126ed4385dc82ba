"""Which API keys Comet accepted lately: what lets the cache serve a key without asking Comet.

A cached answer proves the key was valid when the answer was fetched, not now. So the transport
serves a key from the cache only while Comet answered one of its calls 200 within `recheck`
seconds; past that, its next call goes upstream, which either vouches for it again or, with a
401, shows it revoked, and then nothing cached reaches it until Comet accepts it again. A revoked
key thus stops getting cached answers within `recheck` seconds, per process, whatever the TTLs.

Memory is bounded: the `max_keys` most recently accepted keys are kept (by fingerprint); a key
forgotten is one whose next call goes upstream, the safe side.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from .config import ApiKey

MAX_KEYS = 10_000


class RecentKeys:
    def __init__(self, recheck: float, max_keys: int = MAX_KEYS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._recheck = recheck
        self._max = max_keys
        self._clock = clock
        self._accepted_at: OrderedDict[str, float] = OrderedDict()

    def accepted(self, key: ApiKey) -> None:
        """Comet answered a call of this key 200."""
        self._accepted_at[key.fingerprint] = self._clock()
        self._accepted_at.move_to_end(key.fingerprint)
        while len(self._accepted_at) > self._max:
            self._accepted_at.popitem(last=False)

    def rejected(self, key: ApiKey) -> None:
        """Comet answered a call of this key 401."""
        self._accepted_at.pop(key.fingerprint, None)

    def vouched(self, key: ApiKey) -> bool:
        """Whether a cached answer may be served to this key now."""
        at = self._accepted_at.get(key.fingerprint)
        return at is not None and self._clock() - at < self._recheck

    def __len__(self) -> int:
        return len(self._accepted_at)
