"""Cache lookups gathered into a few commands: the lookups asked in one turn of the event loop
go together, in MGETs bounded in keys and in expected bytes, over at most a few connections.

A dashboard asks hundreds of lookups at once. One command each would need hundreds of
connections; past the pool's they would be misses, and a warm dashboard would cost as many
upstream calls as a cold one. Gathered, they cost a few round trips; and lookups asked while
every connection is busy wait for the next free one, in the next commands, rather than miss.

Fair between API keys: each key's lookups wait in a queue of its own, and a command takes a
key from each queue in turn, so that one request of fifteen thousand lookups delays another
key's by a command, not by a hundred, and ten thousand keys' single lookups still share
commands of `MGET_KEYS`.

Bounded everywhere: a lookup waits at most `wait` seconds (a connection, then its command's
answer), then is a miss; at most `max_waiting` lookups are under way, and at most a
`KEY_SHARE`th of them one API key's (past them a lookup is a miss at once; a lookup given up
stops counting at once, and is never sent); no command carries more than `MGET_KEYS`
distinct keys or, by the callers' guess of each value's size, `MGET_BYTES` bytes, so that a
large request's lookups are no likelier to time out than a small one's. A guess can be wrong
(a worker that never saw a kind, another key's values in the same command): a command of
several keys that was too slow (`SLOW`) sends its keys again within what is left of their
wait: each owner's as a command of their own when it held several owners' (the owners whose
values are small hit; the one whose are large is slow alone), else one key to a command (a
key alone that is too slow is a miss). Nor does one owner's large value end a command: an
owner whose next key does not fit is passed over, first in the next command.
"""

from __future__ import annotations

import asyncio
import collections
import enum
from collections.abc import Awaitable, Callable, Sequence
from typing import Literal

MGET_KEYS = 128  # keys one command carries at most
MGET_BYTES = 1024 * 1024  # ... and expected bytes, unless one value alone is expected larger
EXPECTED_BYTES = 4096  # a value's size, for a lookup whose caller made no guess
MAX_WAITING = 16_384  # lookups under way; past them a lookup is a miss
KEY_SHARE = 4  # one API key's lookups under way: at most this fraction of them



class Slow(enum.Enum):
    SLOW = "slow"


SLOW = Slow.SLOW  # a command of several keys slower than its timeout, Redis still answering

# The command of a batch of keys: their values in order; None when Redis failed, refused, was
# slower than its timeout or is skipped (each a miss; the breaker is the command's); `SLOW`
# when it timed out with several keys (each sent again alone).
Answer = Sequence[bytes | None] | Literal[Slow.SLOW] | None
Fetch = Callable[[list[str]], Awaitable[Answer]]
Waiters = dict[str, list[asyncio.Future[bytes | None]]]
# A lookup waiting: its key, expected bytes, whether that size was guessed without a value of
# its kind seen, and its caller's waiter.
Entry = tuple[str, int, bool, asyncio.Future[bytes | None]]


class LookupBatches:
    """Lookups of one cache, gathered (see the module's docstring)."""

    def __init__(self, fetch: Fetch, *, in_flight: int, wait: float,
                 max_waiting: int = MAX_WAITING,
                 owner_of: Callable[[str], str] = lambda _: "") -> None:
        """`owner_of`: the API key (its fingerprint) a cache key belongs to."""
        self._fetch = fetch
        self._max_in_flight = in_flight
        self._wait = wait
        self._max_waiting = max_waiting
        self._per_owner = max(1, max_waiting // KEY_SHARE)
        self._owner_of = owner_of
        # Per owner, in turn (the next command's first): its lookups (`Entry`),
        # a waiter each, so that one giving up (its deadline, a disconnect) cancels nobody
        # else's lookup of the same key. Given up ones are skipped when reached.
        self._queues: collections.OrderedDict[str, collections.deque[Entry]] = \
            collections.OrderedDict()
        self._asked: collections.Counter[str] = collections.Counter()  # under way, per owner
        self._under_way = 0
        self._in_flight = 0
        self._scheduled = False
        # Slow commands' keys, an owner's to a command (see `_again`): sent before the queues.
        self._resent: collections.deque[Waiters] = collections.deque()
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    async def get_many(self, keys: Sequence[str], expected_bytes: int = 0, *,
                       unseen: bool = False) -> list[bytes | None]:
        """Each key's value (None for a miss), with the other lookups of this moment.
        `unseen`: `expected_bytes` is a guess, no value of their kind seen; a command that
        holds other owners' keys then holds one of them at most (see `_take`)."""
        if not keys:
            return []
        loop = asyncio.get_running_loop()
        owner, count = self._owner_of(keys[0]), len(keys)  # one caller's: one owner's
        if self._closed or self._under_way + count > self._max_waiting or \
                self._asked[owner] + count > self._per_owner:
            return [None] * count
        expected = expected_bytes or EXPECTED_BYTES
        queue = self._queues.get(owner)
        if queue is None:
            queue = self._queues[owner] = collections.deque()
        waiters: list[asyncio.Future[bytes | None]] = []
        for key in keys:
            waiter: asyncio.Future[bytes | None] = loop.create_future()
            queue.append((key, expected, unseen, waiter))
            waiters.append(waiter)
        self._asked[owner] += count
        self._under_way += count
        if not self._scheduled:
            # After every task of this turn has asked its lookups: they go together.
            self._scheduled = True
            loop.call_soon(self._send)
        try:
            async with asyncio.timeout(self._wait):
                return [await w for w in waiters]
        except TimeoutError:
            return [w.result() if w.done() and not w.cancelled() else None for w in waiters]
        finally:
            for w in waiters:  # given up: left out of the commands still to be sent
                w.cancel()
            self._given_up(owner, count)

    def _given_up(self, owner: str, count: int) -> None:
        """A caller's lookups are over (answered or given up): they stop counting, and what
        is left of them in the queue goes when it outnumbers what still waits."""
        self._under_way -= count
        left = self._asked[owner] - count
        if left:
            self._asked[owner] = left
        else:
            del self._asked[owner]
        queue = self._queues.get(owner)
        if queue is not None and len(queue) > 2 * left + 64:
            kept = [entry for entry in queue if not entry[3].done()]
            if kept:
                self._queues[owner] = collections.deque(kept)
            else:
                del self._queues[owner]

    def _send(self) -> None:
        """Start commands for what waits, while connections are free."""
        self._scheduled = False
        if self._closed:  # scheduled before close(): nothing may start after it
            return
        while (self._queues or self._resent) and self._in_flight < self._max_in_flight:
            batch = self._resent.popleft() if self._resent else self._take()
            for key in [k for k, ws in batch.items() if all(w.done() for w in ws)]:
                del batch[key]  # their callers gave up
            if batch:
                self._in_flight += 1
                task = asyncio.ensure_future(self._answer(batch))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    def _take(self) -> Waiters:
        """The next command's keys, each once with its waiters: a key from each owner's queue
        in turn (the order asked within each), bounded in keys and expected bytes. An owner
        whose next key does not fit is passed over, not the end of the command (one owner's
        large values would end every command after a key, every other owner's lookups in
        commands of one key each, into misses), and is first in the next command."""
        batch: Waiters = {}
        size = 0
        queues = self._queues
        passed: list[tuple[str, collections.deque[Entry]]] = []
        # Values of a size never seen are a guess, maybe far too small: an owner with several
        # of them waiting has commands of its own (first in turn, the command is its; else it
        # is passed over), so that its unknown large values slow its own lookups, not a
        # command of everyone's. One such lookup alone (ten thousand keys' single lookups of
        # a fresh worker) still shares a command.
        alone: str | None = None  # the owner whose command it is
        while queues and len(passed) < MGET_KEYS:
            owner, waiting = next(iter(queues.items()))
            while waiting and waiting[0][3].done():  # their callers gave up
                waiting.popleft()
            if not waiting:
                del queues[owner]
                continue
            key, expected, unseen, waiter = waiting[0]
            same = batch.get(key)
            if not batch and unseen and len(waiting) > 1:
                alone = owner
            if same is None:
                if len(batch) >= MGET_KEYS:  # full (a key in it still takes more waiters)
                    break
                if batch and (size + expected > MGET_BYTES or alone not in (None, owner) or
                              unseen and alone is None and len(waiting) > 1):
                    if owner == alone:  # its command is full
                        break
                    passed.append((owner, queues.pop(owner)))
                    continue
                same = batch[key] = []
                size += expected
            waiting.popleft()
            same.append(waiter)
            if waiting:
                if alone is None:
                    queues.move_to_end(owner)  # the next key is the next owner's
            else:
                del queues[owner]
                if alone is not None:
                    break
        if alone is not None and alone in queues:
            queues.move_to_end(alone)  # the next command is the next owner's
        for owner, waiting in reversed(passed):  # first in the next command, in their order
            queues[owner] = waiting
            queues.move_to_end(owner, last=False)
        return batch

    async def _answer(self, batch: Waiters) -> None:
        values: Answer = None
        try:
            values = await self._fetch(list(batch))
        finally:  # cancelled (the cache closing) too: its waiters are misses, not errors
            self._in_flight -= 1
            if values is SLOW and len(batch) > 1 and not self._closed:
                self._again(batch)
                values = []
            elif not isinstance(values, Sequence) or len(values) != len(batch):
                values = [None] * len(batch)
            for waiters, value in zip(batch.values(), values, strict=False):
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_result(value)
            if (self._queues or self._resent) and not self._scheduled and not self._closed:
                self._scheduled = True
                asyncio.get_running_loop().call_soon(self._send)

    def _again(self, batch: Waiters) -> None:
        """A slow command's keys, sent again before what waits. Of several owners: each
        owner's keys as a command of their own, so that the owners whose values are small
        hit, and only the one whose values are large (its kind unseen, grown) is slow again.
        Of one owner: each key alone, first in its owner's queue, expected to fill a command
        (a key alone that is too slow is a miss)."""
        owners: dict[str, Waiters] = {}
        for key, waiters in batch.items():
            owners.setdefault(self._owner_of(key), {})[key] = waiters
        if len(owners) > 1:
            self._resent.extend(owners.values())
            return
        for key, waiters in reversed(batch.items()):
            owner = self._owner_of(key)
            queue = self._queues.get(owner)
            if queue is None:
                queue = self._queues[owner] = collections.deque()
                self._queues.move_to_end(owner, last=False)
            for waiter in waiters:
                if not waiter.done():
                    queue.appendleft((key, MGET_BYTES, False, waiter))

    async def close(self) -> None:
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for batch in self._resent:
            for waiters in batch.values():
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_result(None)
        self._resent.clear()
        for waiting in self._queues.values():
            for _, _, _, waiter in waiting:
                if not waiter.done():
                    waiter.set_result(None)
        self._queues.clear()
