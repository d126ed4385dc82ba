"""The demo upstream and the gateway as separate processes, as a deployment would run them."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not come up") from None
            time.sleep(0.1)


@dataclass
class Upstream:
    url: str
    keys: dict[str, str]
    pid: int

    def admin(self, method: str, path: str, body: object = None) -> object:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.url}/_demo/{path}", data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.loads(answer.read())

    def counts(self) -> dict[str, int]:
        return dict(self.admin("GET", "requests")["counts"])  # type: ignore[index]

    def clear(self) -> None:
        self.admin("DELETE", "requests")

    def latency(self, ms: float) -> None:
        self.admin("PUT", "latency", {"ms": ms})


@contextmanager
def upstream(scale: int) -> Iterator[Upstream]:
    port = free_port()
    keys = json.loads(subprocess.run(
        [sys.executable, "-m", "gateway", "demo-upstream", "--print-keys"], cwd=ROOT,
        capture_output=True, text=True, check=True).stdout)
    with subprocess.Popen([sys.executable, "-m", "gateway", "demo-upstream", "--port",
                           str(port), "--scale", str(scale)], cwd=ROOT,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as process:
        try:
            wait_for(f"http://127.0.0.1:{port}/clientlib/isAlive/ver")
            yield Upstream(f"http://127.0.0.1:{port}", keys, process.pid)
        finally:
            process.terminate()
            process.wait(30)


@dataclass
class Gateway:
    url: str
    pid: int


@contextmanager
def gateway(upstream_url: str, defaults: bool = False, **settings: str) -> Iterator[Gateway]:
    """`serve` on the upstream; with `defaults`, nothing else is set (the rate limits and
    budgets as users get them), else they are lifted so that only speed is measured."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMET_")}
    env.update({"COMET_GATEWAY_UPSTREAM_URL": upstream_url,
                "COMET_GATEWAY_LOG_LEVEL": "warning"})
    if not defaults:
        env.update({"COMET_GATEWAY_RATE_LIMIT_PER_SECOND": "0",
                    "COMET_GATEWAY_UPSTREAM_RATE_PER_KEY": "0",
                    "COMET_GATEWAY_UPSTREAM_BUDGET": "100000"})
    env.update(settings)
    with subprocess.Popen([sys.executable, "-m", "gateway", "serve", "--port", str(port)],
                          cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL) as process:
        try:
            wait_for(f"http://127.0.0.1:{port}/healthz")
            yield Gateway(f"http://127.0.0.1:{port}", process.pid)
        finally:
            process.terminate()
            process.wait(30)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0
