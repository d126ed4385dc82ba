"""A real `comet-gateway serve` process, as users run it, for the attack tests: its CPU time and
memory are read from /proc, and its log (stderr) is kept in a file the test can read."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.demo_server import free_port
from tests.gateway_server import Answer, wait_until_up

ROOT = Path(__file__).resolve().parents[1]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Served:
    """A running `serve` process: its URL, pid and log."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def cpu_seconds(self) -> float:
        """User + system CPU time the process has used so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def peak_rss_kib(self) -> int:
        """The most resident memory the process has had (VmHWM)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        raise RuntimeError("no VmHWM")

    def open_fds(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def http(self, method: str, path: str, body: bytes | None = None,
             headers: dict[str, str] | None = None, timeout: float = 30) -> Answer:
        request = urllib.request.Request(f"{self.url}{path}", data=body, method=method,
                                         headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                return Answer(answer.status, dict(answer.headers), answer.read())
        except urllib.error.HTTPError as error:
            return Answer(error.code, dict(error.headers), error.read())

    def post(self, payload: Any, key: str | None = None,
             headers: dict[str, str] | None = None, timeout: float = 30) -> Answer:
        """POST a JSON body (a dict, a list, or bytes sent as they are) to /graphql."""
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        sent = {"Content-Type": "application/json", **(headers or {})}
        if key is not None:
            sent["Authorization"] = key
        return self.http("POST", "/graphql", body, sent, timeout)


@contextlib.contextmanager
def serve(upstream_url: str, env: dict[str, str] | None = None,
          args: Sequence[str] = ()) -> Iterator[Served]:
    """`comet-gateway serve --upstream URL` with no other settings than `env` gives."""
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("COMET_")}
    environ.update({"COMET_GATEWAY_UPSTREAM_URL": upstream_url, **(env or {})})
    with tempfile.TemporaryDirectory() as folder:
        log_path = Path(folder) / "serve.log"
        with open(log_path, "wb") as log_file, subprocess.Popen(
                [sys.executable, "-m", "gateway", "serve", "--port", str(port), *args],
                cwd=ROOT, env=environ, stdout=log_file, stderr=subprocess.STDOUT) as process:
            served = Served(f"http://127.0.0.1:{port}", process, log_path)
            try:
                wait_until_up(f"{served.url}/healthz")
                yield served
            finally:
                process.terminate()
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(10)
