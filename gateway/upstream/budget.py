"""How many upstream requests one caller (a GraphQL operation) may still make."""

from __future__ import annotations

from . import errors
from .endpoints import Endpoint


class Budget:
    """Upstream requests one operation may make: every call it issues is spent when issued,
    and every retry of one when it is sent, so that retries never multiply the load past
    `limit`. (A call answered from the cache or shared with another call in flight is spent
    too: the budget bounds an operation's work, not only its traffic.)"""

    def __init__(self, calls: int) -> None:
        self.limit = calls
        self.spent = 0

    def spend(self, endpoint: Endpoint) -> None:
        """Count one request; BudgetExceeded (nothing sent) when none is left."""
        if self.spent >= self.limit:
            raise errors.BudgetExceeded(
                f"{endpoint.name}: not sent; this operation has made its {self.limit} "
                "upstream calls", endpoint=endpoint.name)
        self.spent += 1

    def try_spend(self) -> bool:
        """Count one retry when the budget has room for it; False (nothing counted) if not."""
        if self.spent >= self.limit:
            return False
        self.spent += 1
        return True
