from __future__ import annotations

from collections.abc import Iterator

import pytest

from gateway.settings import Settings
from tests.demo_server import DemoServer, start
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
    settings = Settings(upstream_url=demo_session.url, chart_batch_size=25, timeout=2.0,
                        deadline=6.0, backoff_base=0.01)
    server = start_gateway(settings, default_key=demo_session.keys["alice"])
    yield server
    server.stop()


@pytest.fixture
def gateway(gateway_session: GatewayServer, demo: DemoServer) -> GatewayServer:
    """The shared gateway (batch size 25) on the shared demo upstream, reset for each test."""
    return gateway_session
