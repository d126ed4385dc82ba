"""An operation's answer in parts (`@defer`): the first part, the parts after it, and the
operation held open until the last of them is out.

graphql-core answers an operation with deferred fragments with its first result and an async
iterator of the results after it; Strawberry ends the operation (every extension's
`on_operation`: the error codes, the metrics, the trace) once it has the first, and leaves the
later results' errors as they are, without codes. Here the operation lasts as long as its
answer: `HoldUntilDelivered`, the innermost extension, hands the parts over (`PartsChannel`) to
whoever sends them, waits until they are out (or the client left), and leaves the whole
answer's errors in the operation's result, for the extensions around it to count as they count
any answer. Every part's errors get their codes (`errors.map_errors`, which logs them) as they
go out.

Only an HTTP operation alone in its request, from a client that reads `multipart/mixed`, has a
channel (see `view`); every other operation is answered whole, its `@defer` ignored (see
`deferring`), which the directive allows.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from graphql import (
    ExecutionResult,
    ExperimentalIncrementalExecutionResults,
    GraphQLError,
    InitialIncrementalExecutionResult,
    SubsequentIncrementalExecutionResult,
)
from strawberry.extensions import SchemaExtension

from .errors import map_errors

_END: Any = object()  # what the reader queues once graphql-core has no more parts


class Parts:
    """An answer in parts: `first`, then `rest()`, every error with its code. The operation
    that made it ends at `close()`, which whoever sends the parts calls once they are out, or
    once nobody will read them (the work still pending is cancelled then)."""

    def __init__(self, results: ExperimentalIncrementalExecutionResults,
                 context: object) -> None:
        self._context = context
        self.first: InitialIncrementalExecutionResult = results.initial_result
        if self.first.errors:
            self.first.errors = map_errors(self.first.errors, context)
        self.errors: list[GraphQLError] = list(self.first.errors or ())
        self._over = asyncio.Event()
        # One part read ahead, by a task of its own: graphql-core cancels the work still
        # pending only as its iterator closes, and an iterator never started has nothing to
        # close. Read from the start, it is always closed by cancelling this task.
        self._queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=1)
        self._reader = asyncio.ensure_future(self._read(results.subsequent_results))

    async def _read(self, results: AsyncGenerator[SubsequentIncrementalExecutionResult, None]
                    ) -> None:
        try:
            async for result in results:
                for part in (*(result.incremental or ()), *(result.completed or ())):
                    if part.errors:
                        part.errors = map_errors(part.errors, self._context)
                        self.errors.extend(part.errors)
                await self._queue.put(result)
        except Exception as error:  # graphql-core's own failure: the sender's to answer
            await self._queue.put(error)
            return
        finally:
            await results.aclose()  # cancelled while queueing: the pending work goes too
        await self._queue.put(_END)

    async def rest(self) -> AsyncIterator[SubsequentIncrementalExecutionResult]:
        """The parts after the first, as they come."""
        while (result := await self._queue.get()) is not _END:
            if isinstance(result, Exception):
                raise result
            yield result

    async def close(self) -> None:
        """Nothing more goes out: the work still pending is cancelled, the operation ends."""
        self._reader.cancel()
        try:
            await asyncio.wait((self._reader,))
        finally:
            self._over.set()

    async def delivered(self) -> None:
        """Wait until `close()`."""
        await self._over.wait()

    def whole(self) -> ExecutionResult:
        """What the operation answered, all parts together, as extensions read a result: the
        first part's data (the rest's is not merged in: no extension reads it) and every
        part's errors."""
        return ExecutionResult(self.first.data, self.errors or None)


class PartsChannel:
    """Where an operation allowed to answer in parts hands them over: to the view, which
    waits for either the parts or the operation's whole answer (`parts_or_none`)."""

    def __init__(self) -> None:
        self._parts: asyncio.Future[Parts] = asyncio.get_running_loop().create_future()

    def hand_over(self, parts: Parts) -> None:
        self._parts.set_result(parts)

    async def parts_or_none(self, operation: asyncio.Future[Any]) -> Parts | None:
        """The parts, once the operation hands them over; None once it is over without
        (answered whole, or failed: its result says which)."""
        await asyncio.wait((operation, self._parts), return_when=asyncio.FIRST_COMPLETED)
        return self._parts.result() if self._parts.done() else None


def channel_of(context: object) -> PartsChannel | None:
    """The operation's channel, when its answer may come in parts."""
    channel = getattr(context, "parts", None)
    return channel if isinstance(channel, PartsChannel) else None


class HoldUntilDelivered(SchemaExtension):
    """Holds an operation answered in parts open until its last part is out (see the module's
    docstring). The innermost extension: every other one ends after it."""

    async def on_operation(self) -> AsyncIterator[None]:
        yield
        context = self.execution_context
        results = context.result
        channel = channel_of(context.context)
        if not isinstance(results, ExperimentalIncrementalExecutionResults) or channel is None:
            return
        parts = Parts(results, context.context)
        channel.hand_over(parts)
        await parts.delivered()
        context.result = parts.whole()
