"""GraphQL Mesh over the OpenAPI description of Comet's read endpoints, for comparison.

Installed on demand into bench/mesh (`make bench-mesh`); the benchmark skips it otherwise.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent / "mesh"


def available() -> bool:
    return (HERE / "node_modules" / ".bin" / "mesh").exists()


@contextlib.contextmanager
def running(upstream_url: str) -> Iterator[str]:
    raise NotImplementedError("GraphQL Mesh is not set up in this checkout")
    yield ""  # pragma: no cover


async def dashboard(url: str, key: str, n: int) -> tuple[float, Any]:
    started = time.perf_counter()
    raise NotImplementedError
    return time.perf_counter() - started, {}  # pragma: no cover
