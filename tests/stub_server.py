"""A tiny HTTP server on a loopback port, for what the demo upstream is not: a server that
answers 404 to everything, the storage a redirect leads to. It records what reaches it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

from tests.demo_server import free_port

Answer = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class Stub:
    url: str
    port: int
    loop: asyncio.AbstractEventLoop
    runner: web.AppRunner
    thread: threading.Thread
    seen: list[Seen] = field(default_factory=list)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def start(answer: Answer) -> Stub:
    """Serve `answer` for every method and path, on 127.0.0.1."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True, name="stub")
    thread.start()
    seen: list[Seen] = []

    async def handle(request: web.Request) -> web.StreamResponse:
        seen.append(Seen(request.method, request.raw_path, dict(request.headers)))
        return await answer(request)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    port = free_port()

    async def run() -> web.AppRunner:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        return runner

    runner = asyncio.run_coroutine_threadsafe(run(), loop).result(10)
    return Stub(f"http://127.0.0.1:{port}", port, loop, runner, thread, seen)


async def html_404(request: web.Request) -> web.Response:
    return web.Response(status=404, content_type="text/html",
                        text="<html><body><h1>404 Not Found</h1></body></html>")
