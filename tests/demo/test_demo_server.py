"""The demo upstream itself: Comet's conventions, its data set, and its knobs."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from typing import Any

import demo_upstream
from demo_upstream.world import World
from tests.demo_server import DemoServer


def get(demo: DemoServer, path: str, key: str | None = None) -> tuple[int, dict[str, str], Any]:
    request = urllib.request.Request(f"{demo.url}/api/rest/v2/{path}",
                                     headers={"Authorization": key} if key else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_json_answers_carry_exactly_application_json(demo: DemoServer) -> None:
    status, headers, body = get(demo, "workspaces", demo.keys["carol"])
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert json.loads(body) == {"workspaceNames": ["carol"]}


def test_errors_use_comets_body(demo: DemoServer) -> None:
    status, headers, body = get(demo, "workspaces")
    assert status == 401 and headers["Content-Type"] == "application/json"
    assert json.loads(body) == {"msg": "Invalid or missing API key", "code": 401,
                                "sdk_error_code": 90212}
    status, _, body = get(demo, "experiment/tags?experimentKey=nope", demo.keys["bob"])
    assert status == 400 and json.loads(body)["code"] == 400
    status, _, body = get(demo, "project?workspaceName=bob&projectName=nope", demo.keys["bob"])
    assert status == 404 and json.loads(body)["msg"] == "Project not found"
    status, _, _ = get(demo, "no/such/endpoint", demo.keys["bob"])
    assert status == 404


def test_version_probe(demo: DemoServer) -> None:
    with urllib.request.urlopen(f"{demo.url}/clientlib/isAlive/ver", timeout=10) as answer:
        assert json.loads(answer.read())["version"] >= "1.2.78"


def test_booleans_are_read_as_the_sdk_writes_them(demo: DemoServer) -> None:
    key = demo.keys["bob"]
    base = "experiments?workspaceName=nlp-research&projectName=sentiment-bert&archived="
    counts = {flag: len(json.loads(get(demo, base + flag, key)[2])["experiments"])
              for flag in ("True", "true", "False", "false")}
    assert counts == {"True": 3, "true": 3, "False": 57, "false": 57}


def test_the_request_log_counts_per_endpoint(demo: DemoServer) -> None:
    get(demo, "workspaces", demo.keys["alice"])
    get(demo, "workspaces", demo.keys["alice"])
    get(demo, "account-details", demo.keys["alice"])
    assert demo.counts() == {"GET workspaces": 2, "GET account-details": 1}
    assert [r["status"] for r in demo.requests()] == [200, 200, 200]


def test_a_fault_for_n_requests_then_the_real_answer(demo: DemoServer) -> None:
    demo.fault("workspaces", "status", status=503, count=2, retry_after="3")
    first = get(demo, "workspaces", demo.keys["alice"])
    assert first[0] == 503 and first[1]["Retry-After"] == "3"
    assert get(demo, "workspaces", demo.keys["alice"])[0] == 503
    assert get(demo, "workspaces", demo.keys["alice"])[0] == 200


def test_prefix_faults_and_garbage(demo: DemoServer) -> None:
    demo.fault("experiment/*", "garbage")
    status, _, body = get(demo, "experiment/tags?experimentKey=x", demo.keys["alice"])
    assert status == 200 and body.startswith(b"<html>")
    assert get(demo, "workspaces", demo.keys["alice"])[0] == 200


def test_the_data_set_is_deterministic_and_scales_lazily() -> None:
    one, two = World(), World()
    key = next(iter(one.experiment_index))
    assert one.experiment(key) == two.experiment(key)
    big = World(scale=100)
    assert len(big.experiment_index) >= 10_000
    assert big.experiment.cache_info().currsize == 0  # nothing generated up front


def test_experiments_are_realistic() -> None:
    world = World()
    e = world.experiment(next(iter(world.experiment_index)))
    assert e is not None
    loss = [p.value for p in e.metrics["loss"].points]
    accuracy = [p.value for p in e.metrics["accuracy"].points]
    assert len(loss) >= 120 and loss[-1] < loss[0] / 2 and accuracy[-1] > accuracy[0] + 0.3
    assert len(set(loss)) > len(loss) * 0.9  # noisy, not a formula's straight line
    kinds = {a.type for a in e.assets}
    assert {"image", "confusion-matrix", "histogram3d", "histogram_combined_3d", "source_code",
            "unknown"} <= kinds
    assert all(a.make() for a in e.assets)


def test_print_keys() -> None:
    out = subprocess.run([sys.executable, "-m", "gateway", "demo-upstream", "--print-keys"],
                         capture_output=True, text=True, check=True, timeout=60)
    assert json.loads(out.stdout) == demo_upstream.keys(demo_upstream.make_app())


def test_faults_and_latency_can_be_set_at_start() -> None:
    from tests.demo_server import free_port

    port = free_port()
    fault = json.dumps({"path": "workspaces", "kind": "status", "status": 503})
    with subprocess.Popen([sys.executable, "-m", "gateway", "demo-upstream", "--port", str(port),
                           "--fault", fault, "--latency-ms", "50"],
                          stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            assert "demo upstream on" in process.stdout.readline()
            keys = [process.stdout.readline() for _ in range(3)]
            assert all("API key of" in line for line in keys)
            key = keys[0].split(": ")[1].strip()
            server = DemoServer(f"http://127.0.0.1:{port}", {}, None, None)  # type: ignore
            assert get(server, "workspaces", key)[0] == 503
            assert get(server, "account-details", key)[0] == 200
        finally:
            process.terminate()


async def test_the_live_ticker_keeps_the_newest_experiments_running() -> None:
    import asyncio

    app = demo_upstream.make_app(live_every=0.05)
    runner = await demo_upstream.serve(app, "127.0.0.1", 0)
    try:
        from demo_upstream.app import running_experiments
        from demo_upstream.http import WORLD

        world = app[WORLD]
        key = running_experiments(world)[0]
        e = world.experiment(key)
        assert e is not None
        seeded = len(e.metrics["loss"].points)
        await asyncio.sleep(0.3)
        grown = world.metrics(e)["loss"].points
        assert len(grown) > seeded and grown[-1].step == grown[-2].step + 1
    finally:
        await runner.cleanup()
