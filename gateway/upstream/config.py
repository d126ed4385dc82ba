"""The upstream client's settings, as a value object with named defaults."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

DEFAULT_UPSTREAM_URL = "https://www.comet.com"


@dataclass(frozen=True)
class UpstreamConfig:
    """How the gateway talks to Comet. Every number is checked when the object is built."""

    base_url: str = DEFAULT_UPSTREAM_URL
    timeout: float = 10.0  # seconds per attempt of a REST call (Comet's SDK uses 10)
    download_timeout: float = 600.0  # seconds for a whole download (the SDK uses 600)
    deadline: float = 30.0  # seconds for one REST call, retries and waits included
    max_retries: int = 3  # after the first attempt, as the SDK does
    backoff_base: float = 0.5  # first retry waits up to this, then doubling (full jitter)
    backoff_max: float = 8.0
    max_concurrency: int = 64  # upstream requests in flight, all callers together
    max_concurrency_per_key: int = 16  # ... and for any one API key
    connection_limit: int = 100  # pooled connections to the upstream
    chunk_size: int = 64 * 1024  # bytes per chunk of a streamed download

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError("base_url must be an http:// or https:// URL")
        for name in ("timeout", "download_timeout", "deadline"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.backoff_base < 0 or self.backoff_max < 0 or self.max_retries < 0:
            raise ValueError("retries and backoff cannot be negative")
        for name in ("max_concurrency", "max_concurrency_per_key", "connection_limit",
                     "chunk_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")

    @property
    def rest_root(self) -> str:
        """`{root}/api/rest/v2/`: like the SDK, any path in the configured URL is dropped."""
        scheme, _, rest = self.base_url.partition("://")
        return f"{scheme}://{rest.split('/', 1)[0]}/api/rest/v2/"


class ApiKey:
    """A caller's Comet API key: sent upstream as is, and never printed."""

    __slots__ = ("_value", "_fingerprint")

    def __init__(self, value: str) -> None:
        self._value = value
        self._fingerprint = hashlib.sha256(value.encode()).hexdigest()

    def reveal(self) -> str:
        return self._value

    @property
    def fingerprint(self) -> str:
        """A one-way hash: what caches and per-key limits are keyed on."""
        return self._fingerprint

    def __repr__(self) -> str:
        return "ApiKey(***)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ApiKey) and other._fingerprint == self._fingerprint

    def __hash__(self) -> int:
        return hash(self._fingerprint)
