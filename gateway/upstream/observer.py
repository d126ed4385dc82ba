"""What the transport reports as it calls the upstream, for metrics and traces (the
application's `observability.Metrics` is one such observer; tests and tools use none)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Protocol

from . import errors
from .endpoints import Endpoint


class CallRecord(Protocol):
    status: str


class Observer(Protocol):
    """What the transport reports, for metrics and traces (see gateway.observability)."""

    def upstream_call(self, endpoint: str,
                      method: str) -> contextlib.AbstractContextManager[CallRecord]: ...

    def retry(self, endpoint: str) -> None: ...

    def cache_lookup(self, family: str, hit: bool) -> None: ...


class _Record:
    status = "error"


class NullObserver:
    def upstream_call(self, endpoint: str,
                      method: str) -> contextlib.AbstractContextManager[CallRecord]:
        return contextlib.nullcontext(_Record())

    def retry(self, endpoint: str) -> None:
        return None

    def cache_lookup(self, family: str, hit: bool) -> None:
        return None


@contextlib.contextmanager
def observed(observer: Observer, endpoint: Endpoint) -> Iterator[CallRecord]:
    """One upstream attempt, reported with its HTTP status or the error that ended it."""
    with observer.upstream_call(endpoint.name, endpoint.method) as record:
        try:
            yield record
        except errors.UpstreamError as exc:
            if exc.status is None:
                record.status = type(exc).__name__
            raise
