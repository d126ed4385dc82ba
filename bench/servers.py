"""The demo upstream and the gateway as separate processes, as a deployment would run them."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
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
def gateway(upstream_url: str, defaults: bool = False, log_level: str | None = "warning",
            **settings: str) -> Iterator[Gateway]:
    """`serve` on the upstream; with `defaults`, nothing else is set (the rate limits and
    budgets as users get them), else they are lifted so that only speed is measured. With
    `log_level=None`, the logs are at their default level too."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMET_")}
    env["COMET_GATEWAY_UPSTREAM_URL"] = upstream_url
    if log_level:
        env["COMET_GATEWAY_LOG_LEVEL"] = log_level
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


# What `python -m bench` changes from the defaults: the benchmark repeats its requests from
# one address with one API key, faster than a person would; only these limits would refuse it.
RATE_LIMITS_OFF = {"COMET_GATEWAY_RATE_LIMIT_PER_SECOND": "0",
                   "COMET_GATEWAY_UPSTREAM_RATE_PER_KEY": "0"}


@contextmanager
def stock(answer: object = None) -> Iterator[Gateway]:
    """Stock Strawberry (`bench/stock.py`) serving `answer` (a POINTS answer) from memory."""
    port = free_port()
    with tempfile.NamedTemporaryFile("w", suffix=".json") as file:
        json.dump(answer, file)
        file.flush()
        given = ["--answer", file.name] if answer is not None else []
        with subprocess.Popen([sys.executable, "-m", "bench.stock", "--port", str(port),
                               *given], cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL) as process:
            try:
                wait_for(f"http://127.0.0.1:{port}/graphql?query=%7B__typename%7D")
                yield Gateway(f"http://127.0.0.1:{port}", process.pid)
            finally:
                process.terminate()
                process.wait(30)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
