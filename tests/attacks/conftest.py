"""The attack tests: hostile input against `comet-gateway serve` at its defaults, over HTTP.

Each test module starts its own `serve` (module scope), so that one module's attacks (and the
limits they trip) do not leak into another's measurements."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.demo_server import DemoServer
from tests.serve_process import Served, serve


@pytest.fixture(scope="module")
def served(demo_session: DemoServer) -> Iterator[Served]:
    """`serve` with no settings but the upstream URL: the defaults are the product."""
    with serve(demo_session.url) as process:
        yield process
