"""The server's configuration: the open-files limit and the connection cap that fits it."""

from __future__ import annotations

import resource
from collections.abc import Iterator

import pytest

from gateway.connections import LimitedHttpProtocol, QuietWebSocketProtocol
from gateway.server import SPARE_FDS, connection_limits, raise_open_files_limit, server_config
from gateway.settings import Settings
from gateway.upstream.redis_cache import REDIS_POOL_SIZE


@pytest.fixture
def low_soft_limit() -> Iterator[int]:
    """The soft open-files limit at 1,024 (the usual default), restored afterwards."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard <= 1024:
        pytest.fail(f"the hard open-files limit is {hard}: nothing to raise it to")
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))
    try:
        yield hard
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_the_soft_open_files_limit_is_raised_to_the_hard_one(low_soft_limit: int) -> None:
    raised = raise_open_files_limit()
    assert raised > 1024
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == raised


def test_the_connection_cap_leaves_room_for_upstream_sockets() -> None:
    # The upstream pool (100), redirected downloads' pool (32), Redis's two pools (32 each).
    settings = Settings(max_connections=1000, connection_limit=100)
    assert connection_limits(settings, 1024).max_connections == 1024 - 100 - 32 - SPARE_FDS
    with_redis = settings.replace(redis_url="redis://127.0.0.1:6379/0")
    assert connection_limits(with_redis, 1024).max_connections == \
        1024 - 100 - 32 - 2 * REDIS_POOL_SIZE - SPARE_FDS
    assert connection_limits(settings, 65536).max_connections == 1000
    # Few files for a large upstream pool: the clients keep a quarter of them.
    assert connection_limits(Settings(connection_limit=1024), 1024).max_connections == 256


def test_serve_runs_the_limited_protocols() -> None:
    settings = Settings(header_timeout=3, body_timeout=4, max_header_bytes=5000,
                        max_body_bytes=70_000, keep_alive_timeout=2.5)
    config = server_config("gateway.app:create_app", settings, factory=True,
                           configure_logs=False)
    assert config.http is LimitedHttpProtocol and config.ws is QuietWebSocketProtocol
    assert config.connection_limits.header_timeout == 3
    assert config.connection_limits.body_timeout == 4
    assert config.connection_limits.max_header_bytes == 5000
    assert config.ws_max_size == 70_000 and not config.ws_per_message_deflate
    assert config.timeout_keep_alive == 2.5
