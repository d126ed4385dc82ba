"""`python -m bench.upstream_attacks`: what three attacks of issue 9 cost the upstream and other
callers, against `comet-gateway serve` at its defaults on the demo upstream (faults injected).

1. A `/readyz` flood: upstream version probes per 2,000 requests.
2. A reset storm under a fan-out request (500 experiments x 4 fields): upstream requests made
   against the budget (2,000).
3. Stalled downloads: 16 per key for every demo key, then one small query per key: its answer
   and its latency while the downloads hang.

`--gateway-root PATH` runs the gateway from another checkout (e.g. `git archive` of the commit
before the fixes), with the demo upstream of this one. Counts are exact; times are for context.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .servers import ROOT, Upstream, free_port, upstream, wait_for

FAN_OUT = """{ project(workspace: "vision-lab", name: "image-classifier") {
  experiments(first: 500) { edges { node { tags parameters { name } others { name }
    metricsSummary { name } } } } } }"""


@contextmanager
def serve(root: Path, upstream_url: str, **settings: str) -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMET_")}
    env.update({"COMET_GATEWAY_UPSTREAM_URL": upstream_url, "PYTHONPATH": str(root),
                "COMET_GATEWAY_LOG_LEVEL": "warning", **settings})
    with subprocess.Popen([sys.executable, "-m", "gateway", "serve", "--port", str(port)],
                          cwd=root, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL) as process:
        try:
            wait_for(f"http://127.0.0.1:{port}/healthz")
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(30)


def post(url: str, query: str, key: str, timeout: float = 120) -> Any:
    request = urllib.request.Request(f"{url}/graphql", json.dumps({"query": query}).encode(),
                                     {"Content-Type": "application/json",
                                      "Authorization": key})
    with urllib.request.urlopen(request, timeout=timeout) as answer:
        return json.loads(answer.read())


def readyz_flood(root: Path, up: Upstream) -> None:
    with serve(root, up.url) as url:
        time.sleep(3)  # past the start-up probe's reuse
        up.clear()

        def ready(_: int) -> int:
            with urllib.request.urlopen(f"{url}/readyz", timeout=60) as answer:
                return int(answer.status)

        started = time.monotonic()
        with ThreadPoolExecutor(16) as pool:
            statuses = list(pool.map(ready, range(2000)))
        elapsed = time.monotonic() - started
        probes = up.admin("GET", "requests")["probes"]  # type: ignore[index]
    print(f"readyz flood: 2000 requests ({statuses.count(200)} ready) in {elapsed:.1f}s "
          f"made {probes} upstream probes")


def reset_storm(root: Path, up: Upstream) -> None:
    with serve(root, up.url) as url:
        up.clear()
        up.admin("POST", "faults", {"path": "experiment/*", "kind": "reset"})
        try:
            started = time.monotonic()
            result = post(url, FAN_OUT, up.keys["alice"])
            elapsed = time.monotonic() - started
        finally:
            up.admin("DELETE", "faults")
        sent = up.admin("GET", "requests")["total"]  # type: ignore[index]
    codes = sorted({e["extensions"]["code"] for e in result.get("errors", [])})
    print(f"reset storm: a fan-out request (budget 2000) made {sent} upstream requests in "
          f"{elapsed:.1f}s; its errors: {codes}")


def stalled_downloads(root: Path, up: Upstream) -> None:
    up.admin("POST", "faults", {"path": "experiment/model/download", "kind": "delay",
                                "delay": 120})
    try:
        with serve(root, up.url) as url:
            port = int(url.rsplit(":", 1)[1])
            sockets = []
            for key in up.keys.values():
                for _ in range(16):
                    sock = socket.create_connection(("127.0.0.1", port))
                    sock.sendall(f"GET /download/experiment-model?experimentKey=x&modelName=m "
                                 f"HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: {key}"
                                 "\r\n\r\n".encode())
                    sockets.append(sock)
            time.sleep(2)
            try:
                for name, key in up.keys.items():
                    started = time.monotonic()
                    result = post(url, "{ viewer { userName } }", key)
                    elapsed = time.monotonic() - started
                    codes = [e["extensions"]["code"] for e in result.get("errors", [])]
                    print(f"stalled downloads: {name}'s query with 16 of its downloads hanging "
                          f"answered {result.get('data')} {codes or ''} in {elapsed:.2f}s")
            finally:
                up.admin("DELETE", "faults")  # the hung answers go: serve can stop at once
                for sock in sockets:
                    sock.close()
    finally:
        up.admin("DELETE", "faults")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.upstream_attacks")
    parser.add_argument("--gateway-root", type=Path, default=ROOT)
    args = parser.parse_args()
    root = args.gateway_root.resolve()
    print(f"gateway from {root}")
    with upstream(5) as up:  # 565 experiments in the project: a fan-out of 2,000 calls
        readyz_flood(root, up)
        reset_storm(root, up)
        stalled_downloads(root, up)


if __name__ == "__main__":
    main()
