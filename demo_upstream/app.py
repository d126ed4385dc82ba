"""The demo upstream's application: the REST routes, the knobs, and a runner."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from . import http, knobs, routes_experiment, routes_workspace
from .world import World

VERSION = "3.58.0"  # what `clientlib/isAlive/ver` reports; the SDK wants at least 1.2.78


async def is_alive(request: web.Request) -> web.Response:
    return http.ok({"version": VERSION})


OPENAPI = Path(__file__).resolve().parent / "comet-openapi.yaml"


async def openapi(request: web.Request) -> web.Response:
    """The OpenAPI description of the read endpoints this server (and Comet) answers."""
    return web.Response(body=OPENAPI.read_bytes(), content_type="application/yaml")


async def not_found(request: web.Request) -> web.Response:
    raise http.Fail(404, f"No endpoint {request.path}")


async def log_metric(request: web.Request) -> web.Response:
    """Admin: log values of a metric, as a running experiment would (`/_demo/...`): numbers,
    or text as Comet keeps it ("NaN", "Infinity", "-Infinity", a word)."""
    world = request.app[http.WORLD]
    key = request.match_info["key"]
    data = await request.json()
    values = data.get("values")
    if key not in world.experiment_index or not isinstance(values, list) or not all(
            isinstance(v, int | float | str) and not isinstance(v, bool) for v in values):
        return web.json_response({"error": "unknown experiment, or values that are not "
                                           "numbers or text"}, status=400)
    added = world.log_metric(key, str(data["metric"]),
                             [v if isinstance(v, str) else float(v) for v in values])
    return web.json_response({"steps": [p.step for p in added]})


async def set_state(request: web.Request) -> web.Response:
    """Admin: an experiment resumed, ended or with a new end time (`/_demo/...`):
    `{"running": true}`, `{"running": false, "endTimeMillis": 1735700000000}`."""
    world = request.app[http.WORLD]
    key = request.match_info["key"]
    data = await request.json()
    running, end = data.get("running"), data.get("endTimeMillis")
    if key not in world.experiment_index or not isinstance(running, bool) or not (
            end is None or (isinstance(end, int) and not isinstance(end, bool) and end >= 0)):
        return web.json_response({"error": "unknown experiment, or not {running: bool, "
                                           "endTimeMillis: int or null}"}, status=400)
    head = world.set_state(key, running, end)
    return web.json_response({"running": head.running, "endTimeMillis": head.end})


async def restore_states(request: web.Request) -> web.Response:
    """Admin: every experiment back to its seeded state."""
    request.app[http.WORLD].states.clear()
    return web.json_response({"ok": True})


def running_experiments(world: World) -> list[str]:
    """The newest experiment of each project: what the live ticker keeps logging to."""
    return [world.headers(p)[-1].key for p in world.projects.values() if p.size]


async def tick(world: World, every: float) -> None:
    """Keep the running experiments running: a new loss and accuracy every `every` s."""
    keys = running_experiments(world)
    while True:
        await asyncio.sleep(every)
        for key in keys:
            e = world.experiment(key)
            if e is None:
                continue
            loss = world.metrics(e)["loss"].points[-1].value
            accuracy = world.metrics(e)["accuracy"].points[-1].value
            world.log_metric(key, "loss", [round(loss * 0.995, 6)])
            world.log_metric(key, "accuracy", [round(min(1.0, accuracy + 0.001), 6)])


def make_app(scale: int = 1, latency_ms: float = 0.0,
             faults: list[knobs.Fault] | None = None,
             live_every: float | None = None, prefix: str = "") -> web.Application:
    """The demo as an aiohttp application (run it with `serve`, or in tests). With
    `live_every`, the newest experiment of each project keeps logging metrics. With `prefix`
    (`/comet`), everything lives under that path, as an on-prem Comet behind a path-routing
    proxy does, and the root answers 404 to everything else."""
    state = knobs.Knobs(latency_ms=latency_ms)
    for fault in faults or []:
        state.add(fault)
    # The knobs run outside the error mapping, so an injected fault replaces the real answer.
    app = web.Application(middlewares=[knobs.middleware(state, prefix), http.errors])
    app[http.WORLD] = World(scale=scale)
    app.router.add_get("/clientlib/isAlive/ver", is_alive)
    app.router.add_get("/openapi.yaml", openapi)
    app.router.add_routes(routes_workspace.routes)
    app.router.add_routes(routes_experiment.routes)
    app.router.add_routes(knobs.admin_routes(state))
    app.router.add_post("/_demo/experiments/{key}/metrics", log_metric)
    app.router.add_put("/_demo/experiments/{key}/state", set_state)
    app.router.add_delete("/_demo/experiments/states", restore_states)
    if live_every:
        async def ticker(app: web.Application) -> AsyncIterator[None]:
            task = asyncio.ensure_future(tick(app[http.WORLD], live_every))
            yield
            task.cancel()

        app.cleanup_ctx.append(ticker)
    app.router.add_route("*", "/api/rest/v2/{tail:.*}", not_found)
    if prefix:
        root = web.Application()
        root.add_subapp(prefix, app)
        root[http.WORLD] = app[http.WORLD]
        return root
    return app


def keys(app: web.Application) -> dict[str, str]:
    """The demo's API keys by user name."""
    return {u.name: u.api_key for u in app[http.WORLD].users.values()}


async def serve(app: web.Application, host: str, port: int) -> web.AppRunner:
    # A client that hangs up cancels its request's handler (a delay fault among them), as a
    # real server would stop the work; and stopping waits for no handler longer than 5 s.
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=5)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


def main(host: str, port: int, scale: int, latency_ms: float, print_keys: bool,
         faults: list[str] | None = None) -> None:
    injected = [knobs.Fault(**json.loads(text)) for text in faults or []]
    app = make_app(scale=scale, latency_ms=latency_ms, faults=injected)
    if print_keys:
        json.dump(keys(app), sys.stdout, indent=2)
        sys.stdout.write("\n")
        return

    async def run() -> None:
        runner = await serve(app, host, port)
        world = app[http.WORLD]
        print(f"demo upstream on http://{host}:{port}/ ({len(world.experiment_index)} "
              f"experiments, scale {scale})", flush=True)
        for name, key in keys(app).items():
            print(f"  API key of {name}: {key}", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass


