"""The dashboard in headless Chromium, on a gateway over the demo, as a person uses it: every
chart draws one line per chosen experiment at the resolution of its width, a live value comes
in over the subscription, no request leaves the gateway's origin, and only the page's own
documents are sent. Its screenshot is the README's: `UPDATE_DOCS_SCREENSHOT=1 pytest
tests/gateway/test_dashboard_browser.py` copies it to docs/dashboard.png."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from gateway.dashboard import bundled
from gateway.settings import Settings
from tests.demo_server import DemoServer
from tests.gateway.test_dashboard_queries import LISTED, operation_name
from tests.gateway.test_graphql_over_http import JS, node_script
from tests.gateway_server import GatewayServer, start

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "tests" / "screenshots"
DOCS_SHOT = ROOT / "docs" / "dashboard.png"
ROWS = [0, 2, 3, 5]  # the table's rows to tick (newest first): the first is running
OPTIONS = {"workspace": "vision-lab", "project": "image-classifier", "rows": ROWS,
           "metrics": ["loss", "accuracy", "val_loss"], "smoothing": 0.6,
           "filter": "optimizer=adam", "sortBy": "metric:loss", "live": True,
           "hash": "interval=1", "narrow": 560}



def test_the_dashboard_in_chromium(with_key: GatewayServer, demo: DemoServer) -> None:
    if shutil.which("chromium") is None:
        pytest.fail("Debian's chromium is needed (apt-get install chromium; make test does)")
    assert bundled(), "the dashboard's bundle is missing: run `make dashboard`"
    running = LISTED[ROWS[0]].key  # the newest: the demo's running experiment
    SCREENSHOTS.mkdir(exist_ok=True)
    shot = SCREENSHOTS / "dashboard.png"
    options = {**OPTIONS, "key": demo.keys["alice"]}
    logging, logged = threading.Event(), []

    def log_values() -> None:
        # A value a second, as a running experiment logs them, until the page has seen one
        # (the subscription's first poll only sets where new values start).
        while not logging.wait(1.0):
            logged.extend(demo.log_metric(running, "loss", [0.125]))

    with subprocess.Popen(["node", str(JS / "dashboard_browser.mjs"), with_key.url, str(shot),
                           json.dumps(options)], cwd=JS, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) as node:
        assert node.stdout is not None
        asked = node.stdout.readline()
        assert asked.strip() == "live?", asked + (node.stderr.read() if node.stderr else "")
        logger = threading.Thread(target=log_values)
        logger.start()
        try:
            out, err = node.communicate(timeout=120)
        finally:
            logging.set()
            logger.join()
    assert node.returncode == 0, err
    seen = json.loads(out.splitlines()[-1])

    # Every chart: one line per chosen experiment, at most a point per pixel of its width.
    assert seen["chosen"] == [LISTED[i].key for i in ROWS]
    assert [c["metric"] for c in seen["charts"]] == OPTIONS["metrics"]
    for chart in seen["charts"] + seen["smoothed"]:
        assert chart["lines"] == len(ROWS), chart
        assert len(chart["points"]) == len(ROWS)
        assert all(0 < n <= chart["requestedPoints"] <= chart["width"] * 2
                   for n in chart["points"])
        assert chart["canvas"] > 0
    assert seen["smoothedRawRows"] == len(ROWS) * len(OPTIONS["metrics"])  # raw lines kept
    assert seen["parts"] >= 2  # the table came first, the series deferred
    # In a narrower window each series comes again at the new width: the running one, longer
    # than the chart is wide, is downsampled by the gateway to a point per pixel.
    seeded = demo_experiment(running)
    assert seeded is not None
    for chart in seen["narrowed"]:
        assert chart["lines"] == len(ROWS)
        assert chart["requestedPoints"] == chart["width"]
        assert all(0 < n <= chart["requestedPoints"] for n in chart["points"]), chart
    narrow_loss = seen["narrowed"][0]
    assert narrow_loss["points"][0] == narrow_loss["width"] < len(seeded.metrics["loss"].points)
    # Live values reached the loss chart: its running line grew, the others did not.
    assert seen["liveUpdates"] >= 1 and logged
    before, after = seen["smoothed"][0], seen["afterLive"][0]
    assert after["metric"] == "loss" and after["lines"] == len(ROWS)
    assert after["points"][0] > before["points"][0] and after["points"][1:] == before["points"][1:]
    assert seen["afterLive"][1:] == seen["smoothed"][1:]
    # The table, filtered and sorted.
    adam = {h.key for h in LISTED  # every row: the table holds the whole project
            if (e := demo_experiment(h.key)) is not None and e.params["optimizer"] == "adam"}
    assert set(seen["filtered"]) == adam and adam
    losses = [float(v) for v in seen["sorted"] if v]
    assert losses == sorted(losses) and len(losses) == len(adam)

    # Nothing left the gateway: no other origin, no request failed, no CSP violation; the
    # page sent its own documents only, and kept the key out of every URL.
    assert seen["external"] == [] and seen["failures"] == [] and seen["violations"] == []
    assert seen["console"] == []
    documents = {operation_name((ROOT / "web/dashboard/queries" / f"{n}.graphql").read_text())
                 for n in ("workspaces", "projects", "project")}
    assert set(seen["operations"]) == documents
    assert seen["websockets"] == [with_key.url.replace("http", "ws") + "/graphql"]
    assert not seen["keyInUrl"] and not any(options["key"] in r for r in seen["requests"])
    assert seen["stored"] == ["comet-graphql-gateway.dashboard.apiKey"]
    assert shot.stat().st_size > 30_000
    if os.environ.get("UPDATE_DOCS_SCREENSHOT"):  # the README's picture
        shutil.copyfile(shot, DOCS_SHOT)


def demo_experiment(key: str):  # type: ignore[no-untyped-def]
    from tests.gateway.test_dashboard_queries import WORLD

    return WORLD.experiment(key)


def test_the_key_is_asked_once_and_kept_out_of_urls(demo: DemoServer) -> None:
    if shutil.which("chromium") is None:
        pytest.fail("Debian's chromium is needed (apt-get install chromium; make test does)")
    server = start(Settings(upstream_url=demo.url, rate_limit_per_second=0))  # no demo key
    good, bad = demo.keys["alice"], "notAKeyComet0000000000"
    try:
        out = node_script("dashboard_key.mjs", server.url, good, bad)
    finally:
        server.stop()
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout.splitlines()[-1])
    assert seen["askedFirst"] and seen["askedAgain"] and "did not accept" in seen["refused"]
    assert seen["storedAfterRefusal"] == {}
    assert seen["storedAfterGood"] == {"comet-graphql-gateway.dashboard.apiKey": good}
    assert not seen["formAfterGood"] and seen["inputCleared"]
    assert not seen["formAfterReload"]  # asked once: the tab keeps it
    assert seen["storedAfterForget"] == {} and seen["formAfterForget"]
    assert not any(good in u or bad in u for u in seen["urls"])
    assert set(seen["authorizations"]) == {good, bad}
