"""`Loader[K, V]`: aiodataloader's `DataLoader`, typed the way Strawberry's own
`DataLoader(Generic[K, T])` is, by composition, its batch function a value; and the parts
batch functions are made of.

Running upstream calls together takes a task each (`asyncio.gather` makes them); nothing
here makes more: a batch of one key, or a chart of one batch, is awaited in the dispatching
task, and `load_many` gathers futures, not coroutines. A batch of many keys begins its calls
as its key's `Gate` lets it (`gated`), so that thousands of keys are not thousands of calls
waiting at once (see `upstream.admission`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from typing import Any, Generic, Protocol, TypeVar, cast

from aiodataloader import DataLoader

from .upstream import errors

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
T = TypeVar("T")

BatchHook = Callable[[str, int], None]  # (loader name, keys in the batch)
# One outcome per key, in key order: its value, None (not found), or the exception that fails
# that key alone.
BatchFn = Callable[[list[K]], Awaitable[list[V | None | Exception]]]


class Gate(Protocol):
    """Room to begin one call (`upstream.admission.Gate`)."""

    async def acquire(self) -> None: ...

    def release(self) -> None: ...


class Loader(Generic[K, V]):
    """A key's value for one GraphQL request, `None` where the upstream has none; every key
    asked for in a tick is loaded by one call of the batch function, each key once."""

    def __init__(self, batch: BatchFn[K, V], name: str = "",
                 on_batch: BatchHook | None = None) -> None:
        # A closure, not a bound method: the DataLoader must not refer back to this object,
        # so that a request's loaders go by reference counting once it is answered.
        async def dispatch(keys: list[K]) -> list[V | None | Exception]:
            if on_batch is not None:
                on_batch(name, len(keys))
            return await batch(keys)

        # aiodataloader annotates a batch's outcomes as values only; at run time an exception
        # among them fails its own key alone, which is what every batch here relies on.
        self._loader: DataLoader[K, V | None] = DataLoader(
            cast("Callable[[list[K]], Any]", dispatch))

    def load(self, key: K) -> asyncio.Future[V | None]:
        """The key's value (the same future for the same key, all request long)."""
        return self._loader.load(key)

    def load_many(self, keys: Iterable[K]) -> asyncio.Future[list[V | None]]:
        """The keys' values in order, from futures alone: no task per key."""
        return self._loader.load_many(keys)

    def prime(self, key: K, value: V) -> None:
        """What another call already said about `key`: not fetched again (kept if known)."""
        self._loader.prime(key, value)

    def clear(self) -> None:
        """Forget every value loaded (what `Loaders.close` does at the request's end)."""
        self._loader.clear_all()


def tracked(loading: set[asyncio.Task[Any]], on_batch: BatchHook | None) -> BatchHook:
    """`on_batch`, which also keeps each batch's task in `loading` while it runs (aiodataloader
    runs a batch in a task of its own, which nothing else holds). A closure: the loaders'
    owner is not referred to."""
    def hook(name: str, size: int) -> None:
        task = asyncio.current_task()
        if task is not None:
            loading.add(task)
            task.add_done_callback(loading.discard)
        if on_batch is not None:
            on_batch(name, size)

    return hook


def chunks(items: Sequence[T], size: int) -> list[Sequence[T]]:
    """`items` in order, cut into runs of at most `size`: the chart's batches."""
    return [items[i:i + size] for i in range(0, len(items), size)]


async def together(calls: Sequence[Awaitable[T]]) -> list[T | Exception]:
    """Every call's outcome, in order, all in flight together. Running them together takes a
    task each (`gather` makes them); a single call needs none, and is awaited here."""
    if len(calls) == 1:
        try:
            return [await calls[0]]
        except Exception as error:
            return [error]
    outcomes: list[T | Exception] = []
    for result in await asyncio.gather(*calls, return_exceptions=True):
        if isinstance(result, BaseException) and not isinstance(result, Exception):
            raise result  # a cancellation is the caller's, not one call's failure
        outcomes.append(result)
    return outcomes


def outcome(result: T | Exception) -> T | None | Exception:
    """A call's outcome as a batch reports it: NotFound is `None`, an error fails its key."""
    return None if isinstance(result, errors.NotFound) else result


async def gated(fetch: Callable[[K], Awaitable[T]], keys: Sequence[K],
                gate: Gate) -> list[T | Exception]:
    """`fetch(key)`'s outcome for every key, in order, each call begun once `gate` has room
    for it and all in flight together as the gate allows: a key waiting its turn is an item
    of `keys`, not a call."""
    if len(keys) == 1:
        await gate.acquire()
        try:
            return await together([fetch(keys[0])])
        finally:
            gate.release()

    def over(_: object) -> None:
        # A callback, not a `finally` in the call: a task cancelled before it starts never
        # runs its coroutine's body.
        gate.release()

    calls: list[asyncio.Future[T]] = []
    try:
        for key in keys:
            await gate.acquire()
            try:
                begun = asyncio.ensure_future(fetch(key))
            except BaseException:
                gate.release()
                raise
            begun.add_done_callback(over)
            calls.append(begun)
    except BaseException:  # cancelled while waiting: the calls begun go too
        for call in calls:
            call.cancel()
        raise
    return await together(calls)


def each(fetch: Callable[[K], Awaitable[V]], gate: Gate | None = None) -> BatchFn[K, V]:
    """The batch function of an endpoint without a batch form: one call per key (begun as
    `gate` allows, when there is one)."""
    async def batch(keys: list[K]) -> list[V | None | Exception]:
        calls = (await together([fetch(k) for k in keys]) if gate is None
                 else await gated(fetch, keys, gate))
        return [outcome(r) for r in calls]

    return batch
