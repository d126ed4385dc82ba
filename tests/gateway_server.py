"""The gateway on a real uvicorn server in a thread, pointed at the demo upstream."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import uvicorn

from gateway.app import create_app
from gateway.server import server_config
from gateway.settings import Settings
from tests.demo_server import free_port


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class GatewayServer:
    url: str
    server: uvicorn.Server
    thread: threading.Thread
    default_key: str | None = None

    def http(self, method: str, path: str, body: bytes | None = None,
             headers: dict[str, str] | None = None) -> Answer:
        request = urllib.request.Request(f"{self.url}{path}", data=body, method=method,
                                         headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                return Answer(answer.status, dict(answer.headers), answer.read())
        except urllib.error.HTTPError as error:
            return Answer(error.code, dict(error.headers), error.read())

    def post(self, query: str, variables: dict[str, Any] | None = None,
             key: str | None = "default") -> dict[str, Any]:
        """Run a query; the whole JSON answer (`data`, `errors`)."""
        headers = {"Content-Type": "application/json"}
        key = self.default_key if key == "default" else key
        if key:
            headers["Authorization"] = key
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        answer = self.http("POST", "/graphql", body, headers)
        result: dict[str, Any] = answer.json()
        return result

    def data(self, query: str, variables: dict[str, Any] | None = None,
             key: str | None = "default") -> Any:
        """Run a query that must succeed; its `data`."""
        result = self.post(query, variables, key)
        assert "errors" not in result, result["errors"]
        return result["data"]

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def wait_until_up(url: str, timeout: float = 30) -> None:
    """Wait for a server (a subprocess) to answer `url`; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise AssertionError(f"{url} did not come up") from None
            time.sleep(0.1)


def start(settings: Settings, default_key: str | None = None,
          clock: Callable[[], float] = time.monotonic) -> GatewayServer:
    """The gateway; `clock` is what its cache's lifetimes read (see `create_app`)."""
    port = free_port()
    settings = settings.replace(host="127.0.0.1", port=port, workers=1)
    # The server `serve` runs (its protocols and limits), without touching the runner's logs.
    server = uvicorn.Server(server_config(create_app(settings, clock=clock), settings,
                                          configure_logs=False))
    thread = threading.Thread(target=server.run, daemon=True, name="gateway")
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the gateway did not start")
        time.sleep(0.02)
    return GatewayServer(f"http://127.0.0.1:{port}", server, thread, default_key)
