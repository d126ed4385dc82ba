"""How many upstream requests one caller (a GraphQL operation) may still make."""

from __future__ import annotations

import asyncio

from . import errors
from .endpoints import Endpoint

DEFAULT_FULL_SERIES_BYTES = 16 * 1024 * 1024


class Budget:
    """Upstream requests one operation may make: every call it issues is spent when issued,
    and every retry of one when it is sent, so that retries never multiply the load past
    `limit`. (A call answered from the cache or shared with another call in flight is spent
    too: the budget bounds an operation's work, not only its traffic.)"""

    def __init__(self, calls: int, full_series_bytes: int = DEFAULT_FULL_SERIES_BYTES) -> None:
        self.limit = calls
        self.spent = 0
        # Full metric series are what one operation can ask the most of (4 metrics of 15,000
        # points are some 2.4 MB an experiment in Comet's JSON, ten times that once decoded):
        # an operation's chart calls for them run one at a time, and none begins once it has
        # read this many bytes of them.
        self.full_series_bytes = full_series_bytes
        self.full_series_read = 0
        self.full_series_turn = asyncio.Lock()

    def spend(self, endpoint: Endpoint) -> None:
        """Count one request; BudgetExceeded (nothing sent) when none is left."""
        if self.spent >= self.limit:
            raise errors.BudgetExceeded(
                f"{endpoint.name}: not sent; this operation has made its {self.limit} "
                "upstream calls", endpoint=endpoint.name)
        self.spent += 1

    def check_full_series(self, endpoint: Endpoint) -> None:
        """BudgetExceeded (nothing sent) once the full series read reach their bound."""
        if self.full_series_read >= self.full_series_bytes:
            raise errors.BudgetExceeded(
                f"{endpoint.name}: not sent; this operation has read {self.full_series_read:,} "
                "bytes of full metric series, its bound: ask for fewer experiments or metrics "
                "at once (or raise COMET_GATEWAY_MAX_FULL_SERIES_BYTES)", endpoint=endpoint.name)

    def try_spend(self) -> bool:
        """Count one retry when the budget has room for it; False (nothing counted) if not."""
        if self.spent >= self.limit:
            return False
        self.spent += 1
        return True
