from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.demo_server import DemoServer, start


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
