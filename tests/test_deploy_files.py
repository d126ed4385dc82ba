"""The deployment files agree with the code (no Docker engine runs here to build them)."""

from __future__ import annotations

import re
from pathlib import Path

from gateway.settings import SETTINGS

ROOT = Path(__file__).resolve().parents[1]


def test_dockerfile_is_non_root_with_a_healthcheck_on_a_real_route() -> None:
    text = (ROOT / "docker" / "Dockerfile").read_text()
    assert re.search(r"^USER gateway$", text, re.M)
    assert "HEALTHCHECK" in text and "/healthz" in text
    assert 'CMD ["comet-gateway", "serve"]' in text


def test_compose_uses_only_known_settings() -> None:
    text = (ROOT / "docker" / "compose.yaml").read_text()
    known = {s.env for s in SETTINGS}
    used = set(re.findall(r"^\s+(COMET_[A-Z_]+):", text, re.M))
    assert used and used <= known
