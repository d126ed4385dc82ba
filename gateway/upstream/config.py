"""The upstream client's settings, as a value object with named defaults."""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass

from yarl import URL

DEFAULT_UPSTREAM_URL = "https://www.comet.com"
# What users paste from Comet's own settings (`COMET_URL_OVERRIDE` ends in /clientlib/) or from
# a REST call: the root is what comes before it.
_PASTED_TAILS = ("/clientlib", "/api/rest/v2", "/api/rest")


@functools.lru_cache(maxsize=16)
def upstream_root(base_url: str) -> URL:
    """The Comet root of a configured URL: scheme, host, port and path prefix, no trailing `/`.

    Comet on-prem may live under a path (`https://host/comet`); unlike Comet's SDK, which
    drops any path, the prefix is kept. A pasted `/clientlib`, `/api/rest/v2` or trailing `/`
    is dropped. Raises ValueError for what cannot be a root: another scheme, no host,
    credentials, a query or a fragment.
    """
    try:
        url = URL(base_url.strip())
    except (TypeError, ValueError) as exc:
        raise ValueError(f"upstream URL {base_url!r} is not a URL") from exc
    if url.scheme not in ("http", "https") or not url.raw_host:
        raise ValueError("the upstream URL must be an http:// or https:// URL with a host")
    if url.raw_user is not None or url.raw_password is not None:
        raise ValueError("the upstream URL must not carry credentials: the API key is sent "
                         "in the Authorization header")
    if url.raw_query_string or url.raw_fragment:
        raise ValueError("the upstream URL must not have a query or a fragment")
    path = url.raw_path.rstrip("/")
    for tail in _PASTED_TAILS:
        if path.endswith(tail):
            path = path[:-len(tail)].rstrip("/")
            break
    return url.with_path(path, encoded=True)


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
    # Upstream requests in flight, all callers together, each busy key getting at most its
    # share; for one API key, a window that starts at `initial_concurrency_per_key` and adapts
    # to how the upstream answers, up to `max_concurrency_per_key` (see `concurrency`): a
    # 100-experiment dashboard (about 300 calls) in one wave, a 1,000-experiment one in six,
    # against an upstream that allows it; a strict one shrinks the window to what it takes.
    # A call in flight costs memory (a 10,000-object answer's peak: +20 MiB at 512, +29 MiB at
    # 1,024, which takes the 1,000-experiment dashboard at 25 ms about 10 % faster).
    max_concurrency: int = 1024
    max_concurrency_per_key: int = 512
    initial_concurrency_per_key: int = 32
    connection_limit: int = 1024  # pooled connections to the upstream
    chunk_size: int = 64 * 1024  # bytes per chunk of a streamed download
    # Bytes of one JSON answer read into memory (parsed, it takes several times as much): a
    # larger one is UPSTREAM_BAD_RESPONSE rather than the whole process's memory.
    max_answer_bytes: int = 32 * 1024 * 1024
    # Downloads have slots of their own, so that streams a client reads slowly (or not at all)
    # never hold the slots queries need.
    max_downloads: int = 32  # downloads in flight, all callers together
    max_downloads_per_key: int = 8  # ... and for any one API key
    download_stall_timeout: float = 30.0  # seconds a download may go without progress
    max_redirects: int = 5  # hops a download may be redirected through
    # Hosts a redirect may lead to although they resolve to a private address (Comet on-prem
    # with its object storage inside the network); the upstream's own origin always may.
    private_redirect_hosts: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        upstream_root(self.base_url)  # raises ValueError for what cannot be a Comet root
        for name in ("timeout", "download_timeout", "deadline", "download_stall_timeout"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if (self.backoff_base < 0 or self.backoff_max < 0 or self.max_retries < 0
                or self.max_redirects < 0):
            raise ValueError("retries, redirects and backoff cannot be negative")
        for name in ("max_concurrency", "max_concurrency_per_key",
                     "initial_concurrency_per_key", "connection_limit",
                     "chunk_size", "max_downloads", "max_downloads_per_key",
                     "max_answer_bytes"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")

    @property
    def root(self) -> URL:
        """Where Comet lives: scheme, host, port and path prefix (see `upstream_root`)."""
        return upstream_root(self.base_url)

    @property
    def rest_root(self) -> str:
        """`{root}/api/rest/v2/`, encoded as it goes on the wire."""
        return f"{self.root}/api/rest/v2/"

    @property
    def probe_url(self) -> str:
        """Comet's version probe, `{root}/clientlib/isAlive/ver`."""
        return f"{self.root}/clientlib/isAlive/ver"


MAX_KEY_LENGTH = 1024
# What can go upstream as the value of an `Authorization` header: visible ASCII only. No
# control characters (CR/LF would split the header), no spaces, nothing beyond ASCII. Comet's
# own keys are 25 letters and digits; the length bound is generous on purpose.
SENDABLE_KEY = re.compile(rf"[\x21-\x7e]{{1,{MAX_KEY_LENGTH}}}")


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
