"""The dashboard's pure parts under node (tests/js/dashboard_units.mjs): its multipart/mixed
reader at every cut of the stream, the merge of deferred parts, TensorBoard's smoothing, the
table's filter and sort, and races of the live lines' anchor against the slider."""

from __future__ import annotations

import json

from tests.gateway.test_graphql_over_http import node_script


def test_the_pages_pure_parts() -> None:
    out = node_script("dashboard_units.mjs")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.splitlines()[-1]) == {"failed": [], "checks": "done"}
    assert "Warning" not in out.stderr
