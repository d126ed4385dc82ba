"""The demo upstream on a real loopback port, in a thread of its own, for the tests."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import urllib.request
from dataclasses import dataclass
from typing import Any

from aiohttp import web

import demo_upstream
from demo_upstream.world import World


@dataclass
class DemoServer:
    """A running demo upstream and its admin knobs, driven over HTTP like any client would."""

    url: str
    keys: dict[str, str]
    loop: asyncio.AbstractEventLoop
    runner: web.AppRunner
    thread: threading.Thread | None = None

    def _admin(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.url}/_demo/{path}", data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read())

    def fault(self, path: str, kind: str, **options: Any) -> int:
        return int(self._admin("POST", "faults", {"path": path, "kind": kind, **options})["id"])

    def clear_faults(self) -> None:
        self._admin("DELETE", "faults")

    def latency(self, ms: float) -> None:
        self._admin("PUT", "latency", {"ms": ms})

    def requests(self) -> list[dict[str, Any]]:
        return list(self._admin("GET", "requests")["requests"])

    def counts(self) -> dict[str, int]:
        return dict(self._admin("GET", "requests")["counts"])

    def probes(self) -> int:
        """Version probes (`clientlib/isAlive/ver`) since the log was last cleared."""
        return int(self._admin("GET", "requests")["probes"])

    def clear_log(self) -> None:
        self._admin("DELETE", "requests")

    def log_metric(self, key: str, metric: str, values: list[float | str]) -> list[int]:
        """Log values (numbers, or text as Comet keeps it: "NaN", "Infinity", a word)."""
        answer = self._admin("POST", f"experiments/{key}/metrics",
                             {"metric": metric, "values": values})
        return list(answer["steps"])

    def set_state(self, key: str, running: bool, end: int | None = None) -> dict[str, Any]:
        """The experiment resumed (running), or ended (at `end`, or at its end time so far):
        what its metadata and the lists say from now on, until `restore_states` (or `reset`)."""
        return dict(self._admin("PUT", f"experiments/{key}/state",
                                {"running": running, "endTimeMillis": end}))

    def restore_states(self) -> None:
        self._admin("DELETE", "experiments/states")

    def revoke(self, key: str) -> None:
        """Comet answers 401 to this key until `restore_keys` (or `reset`)."""
        self._admin("POST", "revoked", {"key": key})

    def restore_keys(self) -> None:
        self._admin("DELETE", "revoked")

    def reset(self) -> None:
        self.clear_faults()
        self.restore_keys()
        self.restore_states()
        self.clear_log()
        self.latency(0)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        if self.thread is not None:  # closed here, so that no ResourceWarning comes later
            self.thread.join(10)
            self.loop.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(scale: int = 1, prefix: str = "") -> DemoServer:
    """A demo upstream; with `prefix` (`/comet`) it lives under that path, and `url` ends in
    it (the admin knobs are under it too)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True, name="demo-upstream")
    thread.start()
    app = demo_upstream.make_app(scale=scale, prefix=prefix)
    port = free_port()
    runner = asyncio.run_coroutine_threadsafe(
        demo_upstream.serve(app, "127.0.0.1", port), loop).result(10)
    return DemoServer(f"http://127.0.0.1:{port}{prefix}", demo_upstream.keys(app), loop, runner,
                      thread)


def with_artifacts() -> tuple[str, tuple[str, ...]]:
    """An experiment of alice's (vision-lab) that has artifact versions: its key and them."""
    world = World()
    for project in world.projects.values():
        if project.workspace != "vision-lab":
            continue
        for head in world.headers(project):
            e = world.experiment(head.key)
            if e is not None and e.artifact_versions:
                return e.key, tuple(e.artifact_versions)
    raise AssertionError("no experiment with artifacts")
