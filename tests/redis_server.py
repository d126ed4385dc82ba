"""A redis-server of a test's own on a loopback port, to freeze (SIGSTOP) or stop at will; the
session-wide one (`redis_url` in conftest) stays untouched."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.demo_server import free_port
from tools.redis_command import redis_command


@dataclass
class RedisServer:
    process: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def freeze(self) -> None:
        os.kill(self.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)

    def command(self, command: bytes) -> bytes:
        """One inline command's raw answer."""
        return redis_command(("127.0.0.1", self.port), command)

    def connections_received(self) -> int:
        info = self.command(b"INFO stats\r\n").decode()
        return int(info.split("total_connections_received:")[1].split()[0])


@contextlib.contextmanager
def redis_server() -> Iterator[RedisServer]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed")
    port = free_port()
    process = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1",
                                "--save", "", "--appendonly", "no"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = RedisServer(process, port)
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError):
                if server.command(b"PING\r\n").startswith(b"+PONG"):
                    break
            if time.monotonic() > deadline:
                pytest.fail("redis-server did not start")
            time.sleep(0.05)
        yield server
    finally:
        if process.poll() is None:  # not killed by the test
            server.thaw()
            process.terminate()
        process.wait(10)
