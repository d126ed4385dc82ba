"""The garbage collector is set for a server once the application has started."""

from __future__ import annotations

import gc

from gateway import collector
from tests.gateway_server import GatewayServer


def test_the_collector_is_set_at_start_up(gateway: GatewayServer) -> None:
    assert gateway.post("{ __typename }")["data"] == {"__typename": "Query"}
    assert gc.get_threshold()[0] == collector.DEFAULT_THRESHOLD
    assert gc.get_freeze_count() > 10_000  # the modules, the schema, the settings


def test_zero_leaves_pythons_defaults() -> None:
    before = gc.get_threshold()
    try:
        gc.set_threshold(700, *before[1:])
        collector.tune(0)
        assert gc.get_threshold()[0] == 700
    finally:
        gc.set_threshold(*before)
