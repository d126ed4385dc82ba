"""Prometheus with `serve --workers 2` (issue 11, §2): every scrape, whichever worker answers
it, counts the requests of both; a worker that dies takes its counts with it into the files
but not its live gauges; one process alone reports its process and GC collectors."""

from __future__ import annotations

import hashlib
import os
import signal
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from gateway.observability import Metrics
from tests.demo_server import DemoServer
from tests.serve_process import Served, serve

UNLIMITED = {"COMET_GATEWAY_RATE_LIMIT_PER_SECOND": "0"}


def scrape(served: Served) -> dict[str, float]:
    """Each sample of /metrics, by name and labels: {'name{a=b}': value}."""
    answer = served.http("GET", "/metrics")
    assert answer.status == 200
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(answer.body.decode()):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}"] = sample.value
    return samples


def requests_counted(samples: dict[str, float]) -> float:
    return sum(v for k, v in samples.items() if k.startswith("cgw_graphql_requests_total{"))


def per_worker(folder: str) -> list[float]:
    """The requests each worker's own file counts."""
    counts = []
    for path in Path(folder).glob("counter_*.db"):
        families = MultiProcessCollector.merge([str(path)])  # type: ignore[no-untyped-call]
        counts.append(sum(s.value for f in families for s in f.samples
                          if s.name == "cgw_graphql_requests_total"))
    return counts


def workers_of(served: Served) -> set[int]:
    children = Path(f"/proc/{served.pid}/task/{served.pid}/children").read_text().split()
    # The supervisor's children are the workers and multiprocessing's resource tracker.
    return {int(pid) for pid in children
            if "multiprocessing.resource_tracker" not in
            Path(f"/proc/{pid}/cmdline").read_text()}


def until(condition_holds: object, what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not callable(condition_holds) or not condition_holds():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def test_every_scrape_counts_both_workers(demo: DemoServer) -> None:
    with tempfile.TemporaryDirectory() as folder, \
            serve(demo.url, env={**UNLIMITED, "PROMETHEUS_MULTIPROC_DIR": folder},
                  args=["--workers", "2"]) as served:
        until(lambda: len(workers_of(served)) == 2, "two workers")
        # The kernel may hand every connection to one worker: 20 more until each took some
        # (its file says so: a worker that took none has no file yet), so that no one
        # worker's count is the total.
        sent = 0

        def both_counted() -> bool:
            counts = per_worker(folder)
            return len(counts) == 2 and 0 not in counts

        with ThreadPoolExecutor(4) as pool:
            while sent < 1000 and not both_counted():
                answers = pool.map(lambda _: served.post({"query": "{ __typename }"}),
                                   range(20))
                assert {a.status for a in answers} == {200}
                sent += 20
        assert len(per_worker(folder)) == 2 and 0 not in per_worker(folder)
        scrapes = [scrape(served) for _ in range(8)]
        assert [requests_counted(s) for s in scrapes] == [float(sent)] * 8
        assert not any(k.startswith("process_cpu") for k in scrapes[0])  # one process's

        # A persisted query is kept by the worker that took it: the pod's gauge is their sum.
        query = "query Stored { __typename }"
        digest = hashlib.sha256(query.encode()).hexdigest()
        ext = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
        assert served.post({"query": query, "extensions": ext}).status == 200
        entries = 'cgw_cache_entries{store=persisted_queries}'
        until(lambda: scrape(served).get(entries) == 1.0, "the stored query in the gauge")

        # A worker killed outright: its counts stay (they happened), its gauges go.
        victim = min(workers_of(served))
        os.kill(victim, signal.SIGKILL)
        until(lambda: victim not in workers_of(served) and len(workers_of(served)) == 2,
              "a new worker in place of the killed one")
        until(lambda: not list(Path(folder).glob(f"gauge_livesum_{victim}.db")),
              "the dead worker's gauges dropped")
        assert requests_counted(scrape(served)) == sent + 1  # the persisted query's too
        assert "Traceback" not in served.log()


def test_the_folder_serve_makes_is_removed(demo: DemoServer) -> None:
    before = set(Path(tempfile.gettempdir()).glob("cgw-metrics-*"))
    with serve(demo.url, env=UNLIMITED, args=["--workers", "2"]) as served:
        made = set(Path(tempfile.gettempdir()).glob("cgw-metrics-*")) - before
        assert len(made) == 1
        for _ in range(6):
            served.post({"query": "{ __typename }"})
        assert [requests_counted(scrape(served)) for _ in range(4)] == [6.0] * 4
    assert not (set(Path(tempfile.gettempdir()).glob("cgw-metrics-*")) - before)


def test_one_process_reports_its_process_and_gc() -> None:
    text = Metrics().render().decode()
    assert "process_resident_memory_bytes" in text
    assert "python_gc_collections_total" in text
    assert "python_info" in text
