"""The caller's API key, read from a request the one way every route reads it."""

from __future__ import annotations

from typing import Any

from .settings import Settings
from .upstream import ApiKey


def api_key(headers: Any, settings: Settings) -> ApiKey:
    """The caller's key, as Comet takes it (`Authorization: <key>`; a `Bearer ` is dropped)."""
    raw = (headers.get("authorization") or "").strip()
    if raw.lower().startswith("bearer "):
        raw = raw[7:].strip()
    if not raw and settings.use_env_api_key and settings.env_api_key:
        raw = settings.env_api_key
    return ApiKey(raw)
