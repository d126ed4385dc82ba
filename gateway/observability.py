"""What the gateway tells its operators: Prometheus metrics, and the hooks the upstream layer
and the loaders report through (traces are the OpenTelemetry instrumentations': `tracing`).

Metrics live in a registry of their own per application (so that two apps in one process,
as in the tests, count apart).

Operation names come from clients, and every label value is a series kept for good, so a name
gets a label of its own only once an operation by that name ran with a key the upstream
accepted (one of its upstream calls answered 2xx, or was served from that key's cache); at
most `MAX_OPERATION_NAMES` names in all, and `MAX_NAMES_PER_KEY` introduced by any one key. The
rest count as "other" (and unnamed operations as "anonymous").

With `serve --workers N` (N > 1), `serve` sets `PROMETHEUS_MULTIPROC_DIR` (see `server`) and
prometheus-client keeps every value in a file per process there: a scrape, answered by any
worker, merges the files, so counters and histograms are the pod's. Two things do not cross
processes and are done otherwise:
- the stores' gauges (`cgw_cache_bytes`, `cgw_cache_entries`): a `set_function` is read by the
  process that is scraped only. Each worker writes its stores' usage every `STORE_REFRESH`
  seconds (and the scraped one at the scrape), and the scrape shows their sum over the live
  workers ('livesum'): the bytes the pod holds, up to `STORE_REFRESH` seconds old;
- the process, platform and GC collectors describe one process: they are registered in
  single-process mode only (a pod's memory and CPU are the container's metrics then).
Operation names are admitted as labels per process, so a pod has at most N times
`MAX_OPERATION_NAMES` of them.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import contextvars
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector
from strawberry.extensions import SchemaExtension

MAX_OPERATION_NAMES = 200  # distinct operation labels kept before the rest count as "other"
MAX_NAMES_PER_KEY = MAX_OPERATION_NAMES // 4  # of those, introduced by one key at most
STORE_REFRESH = 5.0  # seconds between a worker's writes of its stores' gauges (multiprocess)
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir() -> str | None:
    """The folder of prometheus-client's multiprocess mode, when it is on in this process."""
    return os.environ.get(MULTIPROCESS_DIR) or None


class KeyEvidence:
    """Filled in while an operation runs: whether the upstream accepted its key."""

    __slots__ = ("accepted",)

    def __init__(self) -> None:
        self.accepted = False


_EVIDENCE: contextvars.ContextVar[KeyEvidence | None] = contextvars.ContextVar(
    "key_evidence", default=None)


def _key_accepted() -> None:
    evidence = _EVIDENCE.get()
    if evidence is not None:
        evidence.accepted = True


class OperationLabels:
    """Which operation names are label values of their own (see the module's docstring)."""

    def __init__(self, limit: int = MAX_OPERATION_NAMES,
                 per_key: int = MAX_NAMES_PER_KEY) -> None:
        self.limit, self.per_key = limit, per_key
        self._names: set[str] = set()
        self._introduced: collections.Counter[str] = collections.Counter()

    def label(self, name: str | None, key: str | None, accepted: bool) -> str:
        """The label of `name`, run with the key of fingerprint `key`."""
        if not name:
            return "anonymous"
        name = name[:64]
        if name in self._names:
            return name
        if (not accepted or key is None or len(self._names) >= self.limit
                or self._introduced[key] >= self.per_key):
            return "other"
        self._names.add(name)
        self._introduced[key] += 1
        return name


class CallRecord:
    """Filled in by the transport while a call runs: its outcome."""

    status = "error"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        folder = multiprocess_dir()
        # What a scrape reads: this process's registry, or every worker's files.
        self.scraped = r
        if folder is None:
            ProcessCollector(registry=r)
            PlatformCollector(registry=r)
            GCCollector(registry=r)
        else:
            self.scraped = CollectorRegistry()
            MultiProcessCollector(self.scraped, path=folder)  # type: ignore[no-untyped-call]
        self.multiprocess = folder is not None
        self.requests = Counter("cgw_graphql_requests", "GraphQL operations by outcome",
                                ["operation", "outcome"], registry=r)
        self.latency = Histogram("cgw_graphql_request_duration_seconds",
                                 "Time to answer a GraphQL operation", ["operation"],
                                 registry=r)
        self.upstream = Counter("cgw_upstream_calls", "Upstream calls by endpoint and status",
                                ["endpoint", "status"], registry=r)
        self.upstream_latency = Histogram("cgw_upstream_call_duration_seconds",
                                          "Time of one upstream attempt", ["endpoint"],
                                          registry=r)
        self.retries = Counter("cgw_upstream_retries", "Upstream retries", ["endpoint"],
                               registry=r)
        self.cache = Counter("cgw_cache_lookups", "Response cache lookups", ["family", "result"],
                             registry=r)
        self.batches = Histogram("cgw_loader_batch_size", "Keys per loader batch", ["loader"],
                                 buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000),
                                 registry=r)
        self.rate_limited = Counter("cgw_rate_limited_requests", "Requests refused by the "
                                    "per-key rate limit", registry=r)
        self.store_bytes = Gauge("cgw_cache_bytes", "Bytes an in-process store holds, "
                                 "bookkeeping included (with workers: their sum)", ["store"],
                                 registry=r, multiprocess_mode="livesum")
        self.store_entries = Gauge("cgw_cache_entries", "Entries an in-process store holds "
                                   "(with workers: their sum)", ["store"], registry=r,
                                   multiprocess_mode="livesum")
        self._stores: list[tuple[str, Callable[[], tuple[int, int]]]] = []
        self.operation_labels = OperationLabels()
        self._calls: dict[tuple[str, str], Any] = {}
        self._call_times: dict[str, Any] = {}

    def watch_store(self, store: str, usage: Callable[[], tuple[int, int]]) -> None:
        """Report a store's (bytes, entries), read when the metrics are."""
        if not self.multiprocess:
            self.store_bytes.labels(store).set_function(lambda: usage()[0])
            self.store_entries.labels(store).set_function(lambda: usage()[1])
            return
        self._stores.append((store, usage))
        self.write_stores()

    def write_stores(self) -> None:
        """Write the stores' usage to this worker's file (multiprocess mode)."""
        for store, usage in self._stores:
            size, entries = usage()
            self.store_bytes.labels(store).set(size)
            self.store_entries.labels(store).set(entries)

    async def keep_stores_written(self) -> None:
        """Write the stores' usage every `STORE_REFRESH` seconds, until cancelled; returns at
        once in single-process mode, where the scrape reads the stores itself."""
        while self.multiprocess and self._stores:
            await asyncio.sleep(STORE_REFRESH)
            self.write_stores()

    def render(self) -> bytes:
        self.write_stores()
        return generate_latest(self.scraped)

    # --- hooks of the upstream layer (see upstream.transport.Observer) -----------------------
    @contextlib.contextmanager
    def upstream_call(self, endpoint: str, method: str) -> Iterator[CallRecord]:
        record = CallRecord()
        started = time.perf_counter()
        try:
            yield record
        finally:
            self._count_call(endpoint, record, started)

    def _count_call(self, endpoint: str, record: CallRecord, started: float) -> None:
        if record.status.startswith("2"):
            _key_accepted()
        # The labelled children, looked up once: `labels()` takes a lock and builds a key on
        # every call, and a large answer makes thousands of upstream calls. The labels are
        # the endpoint table's names and HTTP statuses (or exception names): few, and bounded.
        counted = self._calls.get((endpoint, record.status))
        if counted is None:
            counted = self._calls[endpoint, record.status] = self.upstream.labels(
                endpoint, record.status)
        counted.inc()
        timed = self._call_times.get(endpoint)
        if timed is None:
            timed = self._call_times[endpoint] = self.upstream_latency.labels(endpoint)
        timed.observe(time.perf_counter() - started)

    def retry(self, endpoint: str) -> None:
        self.retries.labels(endpoint).inc()

    def cache_lookup(self, family: str, hit: bool) -> None:
        if hit:  # entries are per key, and made of 200s only
            _key_accepted()
        self.cache.labels(family, "hit" if hit else "miss").inc()

    def batch(self, loader: str, size: int) -> None:
        self.batches.labels(loader).observe(size)


class OperationMetrics(SchemaExtension):
    """Counts and times each operation."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        context = self.execution_context
        evidence = KeyEvidence()
        # Not reset: the operation's context ends with it, and the next operation sets its own.
        _EVIDENCE.set(evidence)
        yield
        result = context.result
        errors = getattr(result, "errors", None)
        data = getattr(result, "data", None)
        outcome = "ok" if not errors else ("partial" if data else "error")
        key = getattr(context.context, "api_key", None)
        name = self.metrics.operation_labels.label(
            context.operation_name, key.fingerprint if key else None, evidence.accepted)
        self.metrics.requests.labels(name, outcome).inc()
        self.metrics.latency.labels(name).observe(time.perf_counter() - started)
