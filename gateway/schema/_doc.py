"""Field helpers shared by the schema modules."""

from __future__ import annotations

from typing import Any

import strawberry


def d(text: str) -> Any:
    """A plain field with a description (GraphiQL users read them)."""
    return strawberry.field(description=text)
