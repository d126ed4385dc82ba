"""The server the gateway runs on: uvicorn, configured once here for `serve` (one process or
`--workers`), `demo` and the tests.

What uvicorn leaves open and this module closes (see `connections` for the protocols):

- heads and bodies without deadlines, heads of any size, connections without a cap;
- the open-files limit: its soft value (often 1,024) is raised to the hard one at start-up, and
  the connection cap is kept under what it allows, so that accepting never fails with EMFILE;
- websocket messages up to 16 MiB (here: no larger than a request body), and per-message
  deflate, whose zlib state costs about 45 KB per websocket;
- a client that disconnects in the middle of a request is logged as an application error;
- memory freed after many connections go is kept by the C allocator (see `memory`);
- with workers, each one's Prometheus metrics: `serve` gives them a folder to share (see
  `observability`), and clears a dead worker's live gauges.
"""

from __future__ import annotations

import contextlib
import logging
import os
import resource
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import uvicorn
from prometheus_client.multiprocess import mark_process_dead
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.supervisors import Multiprocess

from .connections import ConnectionLimits, LimitedHttpProtocol, QuietWebSocketProtocol
from .observability import MULTIPROCESS_DIR
from .settings import Settings
from .upstream.redis_cache import REDIS_POOL_SIZE

log = logging.getLogger("gateway.server")

# File descriptors kept for what is not a client connection and not counted below: the
# listening socket, logs, imports, the event loop's own.
SPARE_FDS = 64


def raise_open_files_limit() -> int:
    """Raise the soft limit of open files to the hard one; the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


def connection_limits(settings: Settings, open_files: int) -> ConnectionLimits:
    """The settings' limits, with the connection cap lowered to fit `open_files`."""
    # Sockets the process may hold besides its clients': the upstream pool, the pool for
    # redirected downloads, and Redis's two pools (the cache's and the persisted queries').
    upstream = settings.upstream()
    redis = 2 * REDIS_POOL_SIZE if settings.redis_url else 0
    spare = upstream.connection_limit + upstream.max_downloads + redis + SPARE_FDS
    cap = settings.max_connections
    if cap + spare > open_files:
        # Never below a quarter of the files: the upstream pool fills only under load, and a
        # socket it cannot open is a retried UPSTREAM_UNAVAILABLE, not a refused client.
        cap = max(1, open_files - spare, min(cap, open_files // 4))
    return ConnectionLimits(max_connections=cap, header_timeout=settings.header_timeout,
                            body_timeout=settings.body_timeout,
                            max_header_bytes=settings.max_header_bytes)


class GatewayConfig(uvicorn.Config):
    """uvicorn's Config with the connection limits the protocols read, and the gateway's logs
    set up in every process that loads it (uvicorn's workers are fresh interpreters)."""

    def __init__(self, app: Any, *, connection_limits: ConnectionLimits,
                 log_setup: tuple[str, str] | None, **options: Any) -> None:
        # Read by configure_logging, which uvicorn's __init__ calls.
        self.connection_limits = connection_limits
        self.log_setup = log_setup
        super().__init__(app, **options)

    def configure_logging(self) -> None:
        super().configure_logging()
        if self.log_setup is not None:
            from .logs import configure

            configure(*self.log_setup)

    def load(self) -> None:
        super().load()
        self.loaded_app = ClientGone(self.loaded_app)


class ClientGone:
    """A client that disconnects while its request is read is no application error: there is
    nobody left to answer, and nothing to log above DEBUG."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        except ClientDisconnect:
            log.debug("the client disconnected before its request was read")


def server_config(app: Any, settings: Settings, *, factory: bool = False,
                  configure_logs: bool = True) -> GatewayConfig:
    """The uvicorn configuration of `app` (an ASGI app, or an import string with `factory`)
    under `settings`. `configure_logs` routes every log through `logs.configure` in each
    process; the in-process test servers leave the test runner's logging alone."""
    open_files = raise_open_files_limit()
    limits = connection_limits(settings, open_files)
    config = GatewayConfig(
        app, connection_limits=limits,
        log_setup=(settings.log_format, settings.log_level) if configure_logs else None,
        factory=factory, host=settings.host, port=settings.port, workers=settings.workers,
        http=LimitedHttpProtocol, ws=QuietWebSocketProtocol,
        # uvicorn hands it to loop.call_later: fractions of a second work.
        timeout_keep_alive=settings.keep_alive_timeout,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        ws_max_size=settings.max_body_bytes, ws_per_message_deflate=False,
        log_config=None, log_level=settings.log_level if configure_logs else "warning",
        lifespan="on")
    if limits.max_connections < settings.max_connections:  # logged once the logs are set up
        log.warning("max connections lowered from %d to %d: the open-files limit is %d",
                    settings.max_connections, limits.max_connections, open_files)
    return config


@contextlib.contextmanager
def shared_metrics_folder() -> Iterator[str]:
    """The folder where the workers keep their metrics: the operator's `PROMETHEUS_MULTIPROC_DIR`
    as it is, or a new one, set in the environment the workers inherit and removed at exit."""
    chosen = os.environ.get(MULTIPROCESS_DIR)
    if chosen:
        if any(Path(chosen).glob("*.db")):
            # prometheus-client sums every file there, an earlier run's too.
            log.warning("%s (%s) holds an earlier run's metrics: empty it before start, or "
                        "the counters go on from them", MULTIPROCESS_DIR, chosen)
        yield chosen
        return
    try:
        folder = tempfile.mkdtemp(prefix="cgw-metrics-")
    except OSError as exc:  # a read-only root filesystem, say
        log.error("no folder for the workers' metrics in %s (%s): set %s to a writable one",
                  tempfile.gettempdir(), exc.strerror, MULTIPROCESS_DIR)
        sys.exit(3)  # uvicorn's STARTUP_FAILURE
    os.environ[MULTIPROCESS_DIR] = folder
    try:
        yield folder
    finally:
        del os.environ[MULTIPROCESS_DIR]
        shutil.rmtree(folder, ignore_errors=True)


class Workers(Multiprocess):
    """uvicorn's supervisor, which also drops the live gauges of each worker that is gone (a
    restarted worker has a new pid, and a new file)."""

    def __init__(self, config: uvicorn.Config, sockets: list[Any], metrics_folder: str) -> None:
        super().__init__(config, sockets)
        self.metrics_folder = metrics_folder

    def _gone(self, before: set[int | None]) -> None:
        for pid in before - {process.pid for process in self.processes if
                             process.process.is_alive()}:
            if pid is not None:
                mark_process_dead(pid, self.metrics_folder)  # type: ignore[no-untyped-call]

    def keep_subprocess_alive(self) -> None:
        before = {process.pid for process in self.processes}
        super().keep_subprocess_alive()
        self._gone(before)

    def restart_all(self) -> None:
        before = {process.pid for process in self.processes}
        super().restart_all()
        self._gone(before)

    def join_all(self) -> None:
        super().join_all()
        self._gone({process.pid for process in self.processes})


def serve(settings: Settings) -> None:
    """Run `comet-gateway serve`: the app from `gateway.app:create_app`, in `settings.workers`
    processes."""
    config = server_config("gateway.app:create_app", settings, factory=True)
    if config.workers > 1:
        with shared_metrics_folder() as folder:
            Workers(config, [config.bind_socket()], folder).run()
        return
    server = uvicorn.Server(config)
    server.run()
    if not server.started:
        sys.exit(3)  # uvicorn's STARTUP_FAILURE
