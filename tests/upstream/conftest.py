from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from gateway.upstream import ApiKey, CometClient, Transport, UpstreamConfig
from tests.demo_server import DemoServer


def config_for(demo: DemoServer, **overrides: float) -> UpstreamConfig:
    options = {"timeout": 2.0, "deadline": 8.0, "backoff_base": 0.01, "backoff_max": 0.05,
               **overrides}
    return UpstreamConfig(base_url=demo.url, **options)  # type: ignore[arg-type]


@pytest.fixture
async def transport(demo: DemoServer) -> AsyncIterator[Transport]:
    async with Transport(config_for(demo)) as t:
        yield t


@pytest.fixture
def alice(transport: Transport, demo: DemoServer) -> CometClient:
    return CometClient(transport, ApiKey(demo.keys["alice"]))


@pytest.fixture
def bob(transport: Transport, demo: DemoServer) -> CometClient:
    return CometClient(transport, ApiKey(demo.keys["bob"]))
