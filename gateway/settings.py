"""The gateway's settings: read once from the environment, with named defaults.

Every setting is one `Setting` row below (its environment variable, default and meaning), so
that the configuration reference can be generated from this table. Secrets never appear in a
repr.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .upstream.config import DEFAULT_UPSTREAM_URL, UpstreamConfig


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"not a boolean: {value!r}")


@dataclass(frozen=True)
class Setting:
    name: str  # the Settings attribute
    env: str
    cast: Callable[[str], Any]
    help: str
    secret: bool = False


SETTINGS: tuple[Setting, ...] = (
    Setting("upstream_url", "COMET_GATEWAY_UPSTREAM_URL", str,
            "Root URL of the Comet server (the REST API lives at /api/rest/v2/ below it)."),
    Setting("host", "COMET_GATEWAY_HOST", str, "Address `serve` listens on."),
    Setting("port", "COMET_GATEWAY_PORT", int, "Port `serve` listens on."),
    Setting("workers", "COMET_GATEWAY_WORKERS", int, "uvicorn worker processes for `serve`."),
    Setting("timeout", "COMET_GATEWAY_TIMEOUT", float,
            "Seconds per attempt of an upstream REST call."),
    Setting("download_timeout", "COMET_GATEWAY_DOWNLOAD_TIMEOUT", float,
            "Seconds for a whole streamed download."),
    Setting("deadline", "COMET_GATEWAY_UPSTREAM_DEADLINE", float,
            "Seconds for one upstream call, retries and Retry-After waits included."),
    Setting("max_retries", "COMET_GATEWAY_MAX_RETRIES", int,
            "Retries of a failed upstream call (5xx, resets, timeouts, 429 with Retry-After)."),
    Setting("max_concurrency", "COMET_GATEWAY_MAX_CONCURRENCY", int,
            "Upstream requests in flight at once, all callers together."),
    Setting("max_concurrency_per_key", "COMET_GATEWAY_MAX_CONCURRENCY_PER_KEY", int,
            "Upstream requests in flight at once for one API key."),
    Setting("chart_batch_size", "COMET_GATEWAY_CHART_BATCH_SIZE", int,
            "Experiments per experiments/multi-metric-chart call."),
    Setting("graphiql", "COMET_GATEWAY_GRAPHIQL", _bool, "Serve GraphiQL on a browser GET."),
    Setting("public_url", "COMET_GATEWAY_PUBLIC_URL", str,
            "The gateway's URL as callers reach it (behind a proxy), for `downloadUrl` links; "
            "by default the URL of each request."),
    Setting("use_env_api_key", "COMET_GATEWAY_USE_ENV_API_KEY", _bool,
            "Let COMET_API_KEY serve callers that send no Authorization header. "
            "Off by default: for trusted networks only."),
    Setting("env_api_key", "COMET_API_KEY", str,
            "The key used when COMET_GATEWAY_USE_ENV_API_KEY is on.", secret=True),
)


@dataclass(frozen=True)
class Settings:
    upstream_url: str = DEFAULT_UPSTREAM_URL
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    timeout: float = 10.0
    download_timeout: float = 600.0
    deadline: float = 30.0
    max_retries: int = 3
    max_concurrency: int = 64
    max_concurrency_per_key: int = 16
    chart_batch_size: int = 100
    graphiql: bool = True
    public_url: str | None = None
    use_env_api_key: bool = False
    env_api_key: str | None = field(default=None, repr=False)
    # Not from the environment: `comet-gateway demo` puts its demo key in GraphiQL's headers.
    graphiql_api_key: str | None = field(default=None, repr=False)
    backoff_base: float = 0.5

    def __post_init__(self) -> None:
        if self.chart_batch_size < 1:
            raise ValueError("chart_batch_size must be at least 1")
        self.upstream()  # validates the upstream numbers

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from the environment (then the defaults), with explicit overrides on top."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for s in SETTINGS:
            raw = env.get(s.env)
            if raw is None or raw == "":
                continue
            try:
                values[s.name] = s.cast(raw)
            except ValueError:
                shown = "<hidden>" if s.secret else repr(raw)
                raise ValueError(f"{s.env}: invalid value {shown}") from None
        values.update(overrides)
        return cls(**values)

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    @staticmethod
    def markdown_table() -> str:
        """The configuration reference as a Markdown table (README and docs embed it)."""
        defaults = Settings()
        rows = ["| variable | default | meaning |", "|---|---|---|"]
        for s in SETTINGS:
            value = getattr(defaults, s.name)
            shown = "unset" if value is None or s.secret else f"`{value}`"
            rows.append(f"| `{s.env}` | {shown} | {s.help} |")
        return "\n".join(rows) + "\n"

    def upstream(self) -> UpstreamConfig:
        return UpstreamConfig(
            base_url=self.upstream_url, timeout=self.timeout,
            download_timeout=self.download_timeout, deadline=self.deadline,
            max_retries=self.max_retries, max_concurrency=self.max_concurrency,
            max_concurrency_per_key=self.max_concurrency_per_key,
            backoff_base=self.backoff_base)
