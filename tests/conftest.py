from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest

from gateway.settings import Settings
from tests.demo_server import DemoServer, free_port, start
from tests.gateway_server import GatewayServer
from tests.gateway_server import start as start_gateway


@pytest.fixture(scope="session")
def demo_session() -> Iterator[DemoServer]:
    server = start()
    yield server
    server.stop()


@pytest.fixture
def demo(demo_session: DemoServer) -> Iterator[DemoServer]:
    """The shared demo upstream, with no faults, no latency and an empty request log."""
    demo_session.reset()
    yield demo_session
    demo_session.reset()


@pytest.fixture(scope="session")
def gateway_session(demo_session: DemoServer) -> Iterator[GatewayServer]:
    # No cache: it lives across tests, which count each request's own upstream calls (the
    # cache at its defaults has tests of its own: test_state_cache, test_cache).
    settings = Settings(upstream_url=demo_session.url, chart_batch_size=25, timeout=2.0,
                        deadline=6.0, backoff_base=0.01, rate_limit_per_second=0,
                        upstream_rate_per_key=0, cache=False)
    server = start_gateway(settings, default_key=demo_session.keys["alice"])
    yield server
    server.stop()


@pytest.fixture
def gateway(gateway_session: GatewayServer, demo: DemoServer) -> GatewayServer:
    """The shared gateway (batch size 25) on the shared demo upstream, reset for each test."""
    return gateway_session


@pytest.fixture(scope="session")
def fragile_session(demo_session: DemoServer) -> Iterator[GatewayServer]:
    """A gateway with short timeouts, to inject faults into: answers come within ~1 s. No
    cache, so that every request meets the faults injected for it."""
    settings = Settings(upstream_url=demo_session.url, timeout=0.3, deadline=1.0,
                        backoff_base=0.01, rate_limit_per_second=0, upstream_rate_per_key=0,
                        operation_deadline=3.0, cache=False)
    server = start_gateway(settings, default_key=demo_session.keys["alice"])
    yield server
    server.stop()


@pytest.fixture
def fragile(fragile_session: GatewayServer, demo: DemoServer) -> GatewayServer:
    return fragile_session


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A real redis-server on a loopback port, for this test session only."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed (apt-get install redis-server; .ci/run "
                    "installs it)")
    port = free_port()
    process = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1",
                                "--save", "", "--appendonly", "no"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("redis-server did not start")
        time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(10)


@pytest.fixture
def with_key(demo: DemoServer) -> Iterator[GatewayServer]:
    """A gateway whose pages (GraphiQL, the dashboard) hold the demo's key, as `comet-gateway
    demo` gives it to them."""
    server = start_gateway(Settings(upstream_url=demo.url, graphiql_api_key=demo.keys["alice"],
                                    rate_limit_per_second=0))
    yield server
    server.stop()
