"""Fields over data that may already be at hand.

A resolver that gives a plain value is completed by graphql-core at once; one that is a
coroutine costs a coroutine, and a task as soon as its object has two such fields. So a field
over something its object usually holds (an experiment's metadata from the listing, a
panel's details, a model's versions) is a plain function that reads it, and only when it is
not held gives a coroutine that loads it first. Such a field names its GraphQL type with
`graphql_type`: its Python type is `AwaitableOrValue[...]`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from graphql.pyutils import AwaitableOrValue

M = TypeVar("M")
R = TypeVar("R")


def pick(known: M | None, load: Callable[[], Awaitable[M | None]],
         use: Callable[[M], R]) -> AwaitableOrValue[R | None]:
    """`use(known)` now; without `known`, a coroutine: `use` of what `load` gives, or None."""
    if known is not None:
        return use(known)
    return _loaded(load, use)


async def _loaded(load: Callable[[], Awaitable[M | None]], use: Callable[[M], R]) -> R | None:
    found = await load()
    return None if found is None else use(found)
