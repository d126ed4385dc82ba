"""The gateway's settings: read once from the environment, with named defaults.

Every setting is one `Setting` row below (its environment variable, default and meaning), so
that the configuration reference can be generated from this table. Secrets never appear in a
repr.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .collector import DEFAULT_THRESHOLD as DEFAULT_GC_THRESHOLD
from .documents import DocumentLimits
from .hosts import HostPolicy, host_policy
from .upstream.budget import DEFAULT_FULL_SERIES_BYTES
from .upstream.config import DEFAULT_UPSTREAM_URL, SENDABLE_KEY, UpstreamConfig
from .upstream.endpoints import TIMED_FAMILIES
from .upstream.lifetimes import TimesToLive


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
            "Root URL of the Comet server, with its path prefix if it lives under one "
            "(`https://host/comet`): the REST API is at /api/rest/v2/ and the version probe at "
            "/clientlib/isAlive/ver below it. Unlike Comet's SDK, which drops any path, the "
            "gateway keeps it; a pasted `/clientlib`, `/api/rest/v2` or trailing `/` is "
            "dropped."),
    Setting("host", "COMET_GATEWAY_HOST", str, "Address `serve` listens on."),
    Setting("port", "COMET_GATEWAY_PORT", int, "Port `serve` listens on."),
    Setting("workers", "COMET_GATEWAY_WORKERS", int, "uvicorn worker processes for `serve`."),
    Setting("max_connections", "COMET_GATEWAY_MAX_CONNECTIONS", int,
            "Open connections one process keeps (HTTP and websocket); when full, the one "
            "waiting longest for its request head is closed, or the new one is refused. "
            "Lowered at start-up to what the open-files limit allows."),
    Setting("header_timeout", "COMET_GATEWAY_HEADER_TIMEOUT", float,
            "Seconds a client has to send a request's line and headers (from its first byte, "
            "or from the connection's start); then 408 and the connection is closed."),
    Setting("body_timeout", "COMET_GATEWAY_BODY_TIMEOUT", float,
            "Seconds a client has to send a whole request body; then 408 and the connection "
            "is closed."),
    Setting("keep_alive_timeout", "COMET_GATEWAY_KEEP_ALIVE_TIMEOUT", float,
            "Seconds an idle keep-alive connection is kept open (raise it above the idle "
            "timeout of a load balancer in front)."),
    Setting("max_header_bytes", "COMET_GATEWAY_MAX_HEADER_BYTES", int,
            "Largest request line and headers accepted, in bytes; larger ones get 431."),
    Setting("websockets_per_client", "COMET_GATEWAY_WEBSOCKETS_PER_CLIENT", int,
            "Websockets one client address may hold open at once (behind a trusted proxy, "
            "the address it forwards); past it the handshake gets 429."),
    Setting("websockets_per_key", "COMET_GATEWAY_WEBSOCKETS_PER_KEY", int,
            "Websockets one API key may hold open per process (past it: closed with 4429 "
            "after connection_init)."),
    Setting("websocket_init_timeout", "COMET_GATEWAY_WEBSOCKET_INIT_TIMEOUT", float,
            "Seconds a websocket has to send `connection_init` with an API key the upstream "
            "accepts; then it is closed (4408)."),
    Setting("websocket_idle_timeout", "COMET_GATEWAY_WEBSOCKET_IDLE_TIMEOUT", float,
            "Seconds a websocket with no operation running and no message from the client "
            "is kept open."),
    Setting("timeout", "COMET_GATEWAY_TIMEOUT", float,
            "Seconds per attempt of an upstream REST call."),
    Setting("download_timeout", "COMET_GATEWAY_DOWNLOAD_TIMEOUT", float,
            "Seconds for a whole streamed download."),
    Setting("download_stall_timeout", "COMET_GATEWAY_DOWNLOAD_STALL_TIMEOUT", float,
            "Seconds a download, or an answer in parts (`@defer`), may wait for its client to "
            "take more data before it is cut off (its upstream slot, or its operation, is then "
            "free)."),
    Setting("max_downloads", "COMET_GATEWAY_MAX_DOWNLOADS", int,
            "Downloads streaming at once, all callers together (apart from the upstream "
            "requests queries use)."),
    Setting("max_downloads_per_key", "COMET_GATEWAY_MAX_DOWNLOADS_PER_KEY", int,
            "Downloads streaming at once for one API key."),
    Setting("private_redirect_hosts", "COMET_GATEWAY_PRIVATE_REDIRECT_HOSTS", str,
            "Comma-separated host names a download may be redirected to although they are on "
            "a private network (an on-prem Comet's object storage). Other redirects may lead "
            "only to public addresses, or to the upstream's own origin."),
    Setting("deadline", "COMET_GATEWAY_UPSTREAM_DEADLINE", float,
            "Seconds for one upstream call, retries and Retry-After waits included."),
    Setting("max_retries", "COMET_GATEWAY_MAX_RETRIES", int,
            "Retries of a failed upstream call (5xx, resets, timeouts, 429 with Retry-After)."),
    Setting("max_upstream_answer_bytes", "COMET_GATEWAY_MAX_UPSTREAM_ANSWER_BYTES", int,
            "Bytes of one upstream JSON answer read into memory; a larger one fails its field "
            "with UPSTREAM_BAD_RESPONSE."),
    Setting("backoff_base", "COMET_GATEWAY_BACKOFF_BASE", float,
            "Seconds a first retry waits at most (full jitter), doubling with each retry."),
    Setting("backoff_max", "COMET_GATEWAY_BACKOFF_MAX", float,
            "Seconds any retry waits at most (a 429's Retry-After may ask for longer)."),
    Setting("max_concurrency", "COMET_GATEWAY_MAX_CONCURRENCY", int,
            "Upstream requests in flight at once, all callers together; when several API keys "
            "have calls waiting, each gets at most an even share."),
    Setting("max_concurrency_per_key", "COMET_GATEWAY_MAX_CONCURRENCY_PER_KEY", int,
            "Upstream requests in flight at once for one API key, at most: each key's window "
            "grows to it while the upstream answers well, and halves on a 429 or 503 (or a "
            "502, a 504, a timeout)."),
    Setting("initial_concurrency_per_key", "COMET_GATEWAY_INITIAL_CONCURRENCY_PER_KEY", int,
            "Upstream requests in flight at once for an API key the gateway has not seen "
            "lately: where its window starts."),
    Setting("connection_limit", "COMET_GATEWAY_CONNECTION_LIMIT", int,
            "Pooled HTTP connections to the upstream."),
    Setting("chunk_size", "COMET_GATEWAY_CHUNK_SIZE", int,
            "Bytes per chunk of a streamed download."),
    Setting("gc_threshold", "COMET_GATEWAY_GC_THRESHOLD", int,
            "New containers between two collections of Python's youngest generation, set at "
            "start-up, when what start-up made is also frozen out of the collector's sight; "
            "0 leaves Python's defaults (700, nothing frozen)."),
    Setting("chart_batch_size", "COMET_GATEWAY_CHART_BATCH_SIZE", int,
            "Experiments per experiments/multi-metric-chart call."),
    Setting("graphiql", "COMET_GATEWAY_GRAPHIQL", _bool, "Serve GraphiQL on a browser GET."),
    Setting("graphiql_api_key", "COMET_GATEWAY_GRAPHIQL_API_KEY", str,
            "A key put into GraphiQL's default headers, for every visitor: for a demo only "
            "(`comet-gateway demo` sets its demo key), never a real key.", secret=True),
    Setting("dashboard", "COMET_GATEWAY_DASHBOARD", _bool,
            "Serve the dashboard page at /dashboard (a project's experiments and metric "
            "charts, over this gateway's /graphql)."),
    Setting("dashboard_rows", "COMET_GATEWAY_DASHBOARD_ROWS", int,
            "Experiments the dashboard's table reads of a project, newest first, for sorting "
            "and filtering (each costs some two upstream calls, once per project opened); "
            "the page says when a project has more."),
    Setting("introspection", "COMET_GATEWAY_INTROSPECTION", _bool,
            "Answer introspection queries (GraphiQL needs them)."),
    Setting("cors_origins", "COMET_GATEWAY_CORS_ORIGINS", str,
            "Comma-separated origins allowed by CORS (`*` for any); none by default."),
    Setting("allowed_hosts", "COMET_GATEWAY_ALLOWED_HOSTS", str,
            "Comma-separated host names the gateway answers to (its `Host` header): "
            "`example.com`, `*.example.com`, or `*` for any. Unset: localhost, 127.0.0.1, ::1, "
            "the public URL's host and the bind host; any host (with a warning) when bound to "
            "0.0.0.0 with no public URL, which COMET_GATEWAY_USE_ENV_API_KEY refuses."),
    Setting("forwarded_allow_ips", "COMET_GATEWAY_FORWARDED_ALLOW_IPS", str,
            "Comma-separated addresses of proxies whose X-Forwarded-For gives the client's "
            "address (what the per-client limits count), or `*` for any; none by default, "
            "not even loopback (a tunnel or port-forward would let anyone claim any address). "
            "Set it to the proxy in front, or every client behind it shares one address."),
    Setting("max_depth", "COMET_GATEWAY_MAX_DEPTH", int,
            "Fields nested within fields allowed (introspection's too)."),
    Setting("max_aliases", "COMET_GATEWAY_MAX_ALIASES", int, "Aliases allowed in one document."),
    Setting("max_tokens", "COMET_GATEWAY_MAX_TOKENS", int,
            "Tokens (comments included) allowed in one document; parsing stops past them."),
    Setting("max_query_length", "COMET_GATEWAY_MAX_QUERY_LENGTH", int,
            "Characters allowed in one query text, refused before it is read."),
    Setting("max_fields", "COMET_GATEWAY_MAX_FIELDS", int,
            "Fields one document may select, with every fragment spread expanded."),
    Setting("max_body_bytes", "COMET_GATEWAY_MAX_BODY_BYTES", int,
            "Largest request body accepted, in bytes."),
    Setting("max_answer_objects", "COMET_GATEWAY_MAX_ANSWER_OBJECTS", int,
            "Objects one operation's answer may hold, counted in its lists; a list that would "
            "pass it fails with QUERY_TOO_COMPLEX and the rest of the answer is sent."),
    Setting("max_answer_fields", "COMET_GATEWAY_MAX_ANSWER_FIELDS", int,
            "Fields one operation may resolve (and ten times as many values in lists of "
            "numbers or strings); past it, the rest are null with QUERY_TOO_COMPLEX."),
    Setting("max_deferred", "COMET_GATEWAY_MAX_DEFERRED", int,
            "Deferred fragments (`@defer`, counted once per object they are met on) one "
            "operation may deliver in parts of their own; past it, the rest come in the part "
            "that holds them, as if not deferred (0: every answer is whole)."),
    Setting("max_operations", "COMET_GATEWAY_MAX_OPERATIONS", int,
            "Operations allowed in one batched HTTP request."),
    Setting("operation_deadline", "COMET_GATEWAY_OPERATION_DEADLINE", float,
            "Seconds one operation may spend on upstream calls; fields still waiting then "
            "fail with QUERY_TOO_COMPLEX, and the rest of the answer is sent."),
    Setting("upstream_budget", "COMET_GATEWAY_UPSTREAM_BUDGET", int,
            "Upstream calls one operation may make; past it, fields fail with "
            "QUERY_TOO_COMPLEX and the data fetched so far is returned."),
    Setting("max_series_points", "COMET_GATEWAY_MAX_SERIES_POINTS", int,
            "Points of fetched metric series one operation may downsample, cut to a step range "
            "or smooth (`points`, `stepMin`, `stepMax`, `smoothing`: each such field reads its "
            "series whole); past it, those fields fail with QUERY_TOO_COMPLEX."),
    Setting("max_full_series_bytes", "COMET_GATEWAY_MAX_FULL_SERIES_BYTES", int,
            "Bytes of full metric series (`full: true`, or any series view) one operation may "
            "read from Comet: its chart calls for them go one at a time, and none begins past "
            "it (QUERY_TOO_COMPLEX). Decoded, a byte of them takes some ten in memory."),
    Setting("rate_limit_per_second", "COMET_GATEWAY_RATE_LIMIT_PER_SECOND", float,
            "Requests per second allowed per client address (a token bucket: every route but "
            "/healthz, each websocket operation too); 0 turns it off."),
    Setting("rate_limit_burst", "COMET_GATEWAY_RATE_LIMIT_BURST", int,
            "Requests a client address may make at once before the rate applies."),
    Setting("upstream_rate_per_key", "COMET_GATEWAY_UPSTREAM_RATE_PER_KEY", float,
            "Upstream calls per second allowed per API key, retries included (a token bucket; "
            "a key past it is refused at the door); 0 turns it off."),
    Setting("upstream_burst_per_key", "COMET_GATEWAY_UPSTREAM_BURST_PER_KEY", int,
            "Upstream calls an API key may make at once before the rate applies."),
    Setting("cache", "COMET_GATEWAY_CACHE", _bool,
            "Cache upstream answers (JSON only, never downloads), per API key, for as long as "
            "the TTLs below say; how stale an answer can be is in the README (Caching)."),
    Setting("redis_url", "COMET_GATEWAY_REDIS_URL", str,
            "A Redis (redis://host:port/db) for the cache, the persisted queries and the rate "
            "limits' buckets, shared by every worker and gateway that uses it; in process when "
            "unset.",
            secret=True),
    Setting("cache_ttl_ended", "COMET_GATEWAY_CACHE_TTL_ENDED", float,
            "Seconds what an ended experiment logged (metrics, summaries, parameters, others, "
            "system details, assets, models, code, graph, git, output) stays cached. Served "
            "only while the experiment list or metadata last seen with the same key (within "
            "COMET_GATEWAY_CACHE_TTL_STATE) shows the end time it was fetched under: a resumed "
            "experiment is fetched afresh."),
    Setting("cache_ttl_running", "COMET_GATEWAY_CACHE_TTL_RUNNING", float,
            "Seconds the same stay cached while the experiment runs, or while the gateway has "
            "not seen its state lately."),
    Setting("cache_ttl_state", "COMET_GATEWAY_CACHE_TTL_STATE", float,
            "Seconds experiment lists and metadata stay cached, and the state they show "
            "(running, or ended at a time) is trusted: an ended experiment's cached data is "
            "fetched afresh at most twice this long after it resumed."),
    Setting("cache_settle", "COMET_GATEWAY_CACHE_SETTLE", float,
            "Seconds an experiment that ended still counts as running for the cache (its data "
            "lives COMET_GATEWAY_CACHE_TTL_RUNNING), while Comet may still be landing its last "
            "points; measured on Comet's clock (its answers' Date header), not the gateway's."),
    Setting("cache_ttls", "COMET_GATEWAY_CACHE_TTLS", str,
            "Seconds other answers stay cached, per endpoint family: workspace (workspaces, "
            "account), project (projects, notes, columns, queries, dashboards), registry, "
            "panel, experiment (tags, optimizer results)."),
    Setting("cache_max_entries", "COMET_GATEWAY_CACHE_MAX_ENTRIES", int,
            "Entries the in-process cache, and the in-process persisted-query store, each hold "
            "at most (a second bound to their bytes; least recently used go first); also the "
            "experiment states each process remembers for the cache's lifetimes."),
    Setting("cache_max_bytes", "COMET_GATEWAY_CACHE_MAX_BYTES", int,
            "Bytes the in-process cache holds, bookkeeping included (least recently used go "
            "first). An answer over 1/16 of it is not cached, in Redis either."),
    Setting("cache_key_share", "COMET_GATEWAY_CACHE_KEY_SHARE", float,
            "The share (0 to 1) of the in-process cache's bytes and entries, and of the "
            "experiment states remembered, that one API key's may take: past it a key's new "
            "entries evict its own least recently used, never another key's; when the cache "
            "is full (or all states are taken), the key holding the most bytes (states) loses "
            "its least recently used. At 0.5, one key still holds a 100-experiment dashboard "
            "(about 3.3 MiB) many times over. Redis has no per-key share."),
    Setting("cache_key_recheck", "COMET_GATEWAY_CACHE_KEY_RECHECK", float,
            "Seconds cached answers are served to a key after Comet last accepted it; its next "
            "call then goes upstream, so a revoked key stops getting cached answers within "
            "this time."),
    Setting("persisted_max_bytes", "COMET_GATEWAY_PERSISTED_MAX_BYTES", int,
            "Bytes the in-process persisted-query store holds, bookkeeping included (least "
            "recently used go first)."),
    Setting("redis_timeout", "COMET_GATEWAY_REDIS_TIMEOUT", float,
            "Seconds one Redis command may take; a Redis that fails or is slower is skipped "
            "(a cache miss) and probed every 5 s until it answers."),
    Setting("public_url", "COMET_GATEWAY_PUBLIC_URL", str,
            "The gateway's URL as callers reach it (behind a proxy), for `downloadUrl` links; "
            "by default the URL of each request."),
    Setting("metrics", "COMET_GATEWAY_METRICS", _bool,
            "Serve Prometheus metrics at /metrics."),
    Setting("metrics_from", "COMET_GATEWAY_METRICS_FROM", str,
            "Comma-separated networks whose clients may read /metrics (operation names are "
            "the clients' own words); others get 404. `*` for any."),
    Setting("log_format", "COMET_GATEWAY_LOG_FORMAT", str,
            "`json` (one object per line, with the request id) or `text`."),
    Setting("log_level", "COMET_GATEWAY_LOG_LEVEL", str, "debug, info, warning or error."),
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
    # The server layer (gateway/server.py): why each default, in docs/security-and-operations.md.
    max_connections: int = 1000
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    keep_alive_timeout: float = 5.0
    max_header_bytes: int = 65_536
    websockets_per_client: int = 32
    websockets_per_key: int = 64
    websocket_init_timeout: float = 10.0
    websocket_idle_timeout: float = 300.0
    # The upstream's numbers: their defaults, and what they mean, live in UpstreamConfig.
    timeout: float = UpstreamConfig.timeout
    download_timeout: float = UpstreamConfig.download_timeout
    download_stall_timeout: float = UpstreamConfig.download_stall_timeout
    max_downloads: int = UpstreamConfig.max_downloads
    max_downloads_per_key: int = UpstreamConfig.max_downloads_per_key
    private_redirect_hosts: str = ""
    deadline: float = UpstreamConfig.deadline
    max_retries: int = UpstreamConfig.max_retries
    max_upstream_answer_bytes: int = UpstreamConfig.max_answer_bytes
    max_concurrency: int = UpstreamConfig.max_concurrency
    max_concurrency_per_key: int = UpstreamConfig.max_concurrency_per_key
    initial_concurrency_per_key: int = UpstreamConfig.initial_concurrency_per_key
    connection_limit: int = UpstreamConfig.connection_limit
    backoff_base: float = UpstreamConfig.backoff_base
    backoff_max: float = UpstreamConfig.backoff_max
    chunk_size: int = UpstreamConfig.chunk_size
    chart_batch_size: int = 100
    gc_threshold: int = DEFAULT_GC_THRESHOLD
    graphiql: bool = True
    dashboard: bool = True
    dashboard_rows: int = 1_000
    public_url: str | None = None
    introspection: bool = True
    cors_origins: str = ""
    allowed_hosts: str = ""
    forwarded_allow_ips: str = ""
    max_depth: int = 15
    max_aliases: int = 30
    max_tokens: int = 2_000
    max_query_length: int = 65_536
    max_fields: int = 2_000
    max_body_bytes: int = 1_000_000
    max_answer_objects: int = 25_000
    max_answer_fields: int = 100_000
    max_deferred: int = 1_000
    max_operations: int = 10
    operation_deadline: float = 60.0
    upstream_budget: int = 2000
    max_series_points: int = 10_000_000
    max_full_series_bytes: int = DEFAULT_FULL_SERIES_BYTES
    rate_limit_per_second: float = 50.0
    rate_limit_burst: int = 200
    upstream_rate_per_key: float = 100.0
    upstream_burst_per_key: int = 4_000
    cache: bool = True
    redis_url: str | None = field(default=None, repr=False)
    cache_ttl_ended: float = TimesToLive.ended
    cache_ttl_running: float = TimesToLive.running
    cache_ttl_state: float = TimesToLive.state
    cache_settle: float = TimesToLive.settle
    cache_ttls: str = "workspace=60,project=30,registry=30,panel=300,experiment=30"
    cache_max_entries: int = 10_000
    cache_max_bytes: int = 32 * 1024 * 1024
    cache_key_share: float = 0.5
    cache_key_recheck: float = 60.0
    persisted_max_bytes: int = 8 * 1024 * 1024
    redis_timeout: float = 0.25
    metrics: bool = True
    metrics_from: str = ("127.0.0.0/8,::1/128,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,"
                         "fc00::/7")
    log_format: str = "json"
    log_level: str = "info"
    use_env_api_key: bool = False
    env_api_key: str | None = field(default=None, repr=False)
    graphiql_api_key: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        for name in ("chart_batch_size", "max_depth", "max_aliases", "max_tokens",
                     "max_query_length", "max_fields", "max_answer_objects", "max_answer_fields",
                     "max_body_bytes", "max_operations", "upstream_budget", "max_series_points",
                     "max_full_series_bytes",
                     "rate_limit_burst",
                     "upstream_burst_per_key", "cache_max_entries", "cache_max_bytes",
                     "persisted_max_bytes", "dashboard_rows"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.max_deferred < 0:
            raise ValueError("max_deferred cannot be negative (0 answers every operation whole)")
        if self.gc_threshold < 0:
            raise ValueError("gc_threshold cannot be negative (0 leaves Python's defaults)")
        if not 0 < self.cache_key_share <= 1:
            raise ValueError("cache_key_share must be above 0 and at most 1")
        if self.redis_timeout <= 0 or self.cache_key_recheck < 0:
            raise ValueError("redis_timeout must be positive, cache_key_recheck not negative")
        for name in ("cache_ttl_ended", "cache_ttl_running", "cache_ttl_state", "cache_settle"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} cannot be negative")
        if self.log_format not in ("json", "text"):
            raise ValueError("log_format must be json or text")
        if self.log_level.lower() not in ("debug", "info", "warning", "error"):
            raise ValueError("log_level must be debug, info, warning or error")
        if self.operation_deadline <= 0 or self.rate_limit_per_second < 0 \
                or self.upstream_rate_per_key < 0:
            raise ValueError("operation_deadline must be positive, the rates not negative")
        self.ttls()  # validates the cache TTLs
        self.metrics_networks()  # validates the networks that may read /metrics
        self.upstream()  # validates the upstream numbers
        self.hosts()  # validates the allowed hosts, and refuses the environment's key to all
        # What `auth.api_key` refuses from a caller, refused at start-up (never shown).
        for env, key in (("COMET_API_KEY", self.env_api_key and self.env_api_key.strip()),
                         ("COMET_GATEWAY_GRAPHIQL_API_KEY", self.graphiql_api_key)):
            if key is not None and key != "" and not SENDABLE_KEY.fullmatch(key):
                raise ValueError(f"{env}: not a key that can be sent (1 to 1,024 visible ASCII "
                                 "characters, no spaces or control characters)")
        self._check_server_limits()

    def _check_server_limits(self) -> None:
        for name in ("max_connections", "max_header_bytes", "websockets_per_client",
                     "websockets_per_key"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        for name in ("header_timeout", "body_timeout", "keep_alive_timeout",
                     "websocket_init_timeout", "websocket_idle_timeout"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")

    def ttls(self) -> dict[str, float]:
        """`cache_ttls` parsed: seconds per endpoint family."""
        out: dict[str, float] = {}
        for part in filter(None, (p.strip() for p in self.cache_ttls.split(","))):
            family, sep, seconds = (p.strip() for p in part.partition("="))
            if family == "metrics":
                raise ValueError("cache_ttls: metrics follow their experiment's state now: "
                                 "set COMET_GATEWAY_CACHE_TTL_ENDED and _RUNNING instead")
            if not sep or family not in TIMED_FAMILIES:
                raise ValueError(f"cache_ttls: {part!r} is not family=seconds with a family "
                                 f"of {', '.join(TIMED_FAMILIES)}")
            out[family] = float(seconds)
            if not out[family] >= 0:
                raise ValueError(f"cache_ttls: {part!r}: seconds cannot be negative")
        return out

    def times_to_live(self) -> TimesToLive:
        """How long answers are cached, by what they are about (see `upstream.lifetimes`)."""
        return TimesToLive(ended=self.cache_ttl_ended, running=self.cache_ttl_running,
                           state=self.cache_ttl_state, settle=self.cache_settle,
                           families=self.ttls())

    def document_limits(self) -> DocumentLimits:
        """What one GraphQL document may hold (see `gateway.documents`)."""
        return DocumentLimits(max_length=self.max_query_length, max_tokens=self.max_tokens,
                              max_depth=self.max_depth, max_aliases=self.max_aliases,
                              max_fields=self.max_fields, introspection=self.introspection)

    def metrics_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network | None]:
        """`metrics_from` parsed (None stands for any address)."""
        return [None if part.strip() == "*" else ipaddress.ip_network(part.strip(), strict=False)
                for part in self.metrics_from.split(",") if part.strip()]

    def origins(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]

    def hosts(self) -> HostPolicy:
        """The host names the gateway answers to (see `gateway.hosts`)."""
        return host_policy(self.allowed_hosts, self.public_url, self.host,
                           self.use_env_api_key and bool(self.env_api_key))

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
            initial_concurrency_per_key=min(self.initial_concurrency_per_key,
                                            self.max_concurrency_per_key),
            connection_limit=self.connection_limit, backoff_base=self.backoff_base,
            backoff_max=self.backoff_max, chunk_size=self.chunk_size,
            max_downloads=self.max_downloads,
            max_downloads_per_key=self.max_downloads_per_key,
            download_stall_timeout=self.download_stall_timeout,
            max_answer_bytes=self.max_upstream_answer_bytes,
            private_redirect_hosts=tuple(h.strip() for h in self.private_redirect_hosts.split(",")
                                         if h.strip()))


def address_in(host: str, network: ipaddress.IPv4Network | ipaddress.IPv6Network | None
               ) -> bool:
    """Whether a client's address is in `network` (None: any address)."""
    if network is None:
        return True
    try:
        return ipaddress.ip_address(host) in network
    except ValueError:
        return False
