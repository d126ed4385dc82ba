"""What the cache costs when things go wrong, printed (not a test): a query's latency with no
cache, with a healthy Redis and with a frozen one (SIGSTOP); RSS after 150 full charts with
junk metric names, with the in-process cache and without.

    python -m bench.cache_faults
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import time
import urllib.request
from collections.abc import Iterator

from . import servers

QUERY = ('{ project(workspace: "vision-lab", name: "image-classifier") { name '
         'numberOfExperiments workspace { registryModelCount } } viewer { userName } }')


def post(url: str, query: str, key: str) -> bytes:
    request = urllib.request.Request(f"{url}/graphql", data=json.dumps({"query": query}).encode(),
                                     headers={"Content-Type": "application/json",
                                              "Authorization": key})
    with urllib.request.urlopen(request, timeout=120) as answer:
        return bytes(answer.read())


def median_ms(url: str, key: str, runs: int = 30) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        post(url, QUERY, key)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


@contextlib.contextmanager
def redis() -> Iterator[tuple[int, int]]:
    """A redis-server on a free port: (pid, port)."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed")
    port = servers.free_port()
    with subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                           "--appendonly", "no"], stdout=subprocess.DEVNULL) as process:
        try:
            for _ in range(200):
                with contextlib.suppress(OSError), socket.create_connection(
                        ("127.0.0.1", port), timeout=1):
                    break
                time.sleep(0.05)
            yield process.pid, port
        finally:
            os.kill(process.pid, signal.SIGCONT)
            process.terminate()


def latency(up: servers.Upstream) -> None:
    key = up.keys["alice"]
    print("A query's median latency (30 runs, one after another)")
    with servers.gateway(up.url, COMET_GATEWAY_CACHE="false") as gw:
        post(gw.url, QUERY, key)
        print(f"  no cache             {median_ms(gw.url, key):8.1f} ms")
    with redis() as (pid, port), servers.gateway(
            up.url, COMET_GATEWAY_CACHE="true",
            COMET_GATEWAY_REDIS_URL=f"redis://127.0.0.1:{port}/0") as gw:
        post(gw.url, QUERY, key)
        print(f"  Redis, healthy       {median_ms(gw.url, key):8.1f} ms")
        os.kill(pid, signal.SIGSTOP)
        started = time.perf_counter()
        post(gw.url, QUERY, key)
        print(f"  Redis, frozen: first {(time.perf_counter() - started) * 1000:8.1f} ms")
        print(f"  Redis, frozen        {median_ms(gw.url, key):8.1f} ms")


def memory(up: servers.Upstream) -> None:
    key = up.keys["alice"]
    print("RSS after 150 full charts, each with a junk metric name of its own")
    for cache in ("false", "true"):
        with servers.gateway(up.url, COMET_GATEWAY_CACHE=cache) as gw:
            before = servers.rss_kib(gw.pid)
            for i in range(150):
                post(gw.url, '{ project(workspace: "vision-lab", name: "image-classifier") { '
                     f'metricChart(metrics: ["loss", "accuracy", "junk-{i}"], full: true) '
                     '{ experimentKey } } }', key)
            after = servers.rss_kib(gw.pid)
            print(f"  cache {cache:5}  {before / 1024:6.1f} -> {after / 1024:6.1f} MiB")


def main() -> None:
    with servers.upstream(1) as up:
        latency(up)
        memory(up)


if __name__ == "__main__":
    main()
