"""Attacks on how the gateway talks to the upstream and serves downloads (issue 9, sections 4,
5, 7 and 8): ids that try to leave their endpoint, redirects into the gateway's own network,
active content, foreign host names, downloads that hold slots, `/readyz` floods, retries past
the budget, and upstreams that do not answer as Comet does."""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from aiohttp import web

from demo_upstream import payloads
from demo_upstream.world import World
from tests import demo_server, stub_server
from tests.demo_server import DemoServer, free_port
from tests.gateway_server import Answer
from tests.serve_process import ROOT, Served, serve
from tests.stub_server import Stub

WORLD = World()
PROJECT = WORLD.project_by_name("vision-lab", "image-classifier")
assert PROJECT is not None
EXPERIMENT = WORLD.headers(PROJECT)[0].key
PANEL = next(p for p in WORLD.panels.values() if p.workspace == "vision-lab")
ASSET = "experiment/asset/get-asset"
MODEL = "experiment/model/download"
ASSET_URL = f"/download/asset?experimentKey={EXPERIMENT}&assetId=a1"
MODEL_URL = f"/download/experiment-model?experimentKey={EXPERIMENT}&modelName=classifier"


def raw(url: str, target: str, headers: dict[str, str] | None = None) -> Answer:
    """A GET of `target` sent exactly as written (no normalizing), with `headers` (a `Host`
    among them replaces the real one)."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=60)
    try:
        connection.putrequest("GET", target, skip_host=True, skip_accept_encoding=True)
        for name, value in {"Host": parts.netloc, **(headers or {})}.items():
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()},
                      response.read())
    finally:
        connection.close()


def code_of(answer: Answer) -> str:
    data = answer.json()
    return str(data["error"]["code"] if "error" in data else data["errors"][0]["extensions"]
               ["code"])


def codes(result: dict[str, Any]) -> list[str]:
    return sorted(e["extensions"]["code"] for e in result.get("errors", []))


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.05)


@pytest.fixture
def alice(demo: DemoServer) -> dict[str, str]:
    return {"Authorization": demo.keys["alice"]}


@pytest.fixture(scope="module")
def storage() -> Iterator[Stub]:
    """Where a redirect may lead: it must never be reached from the gateway's defaults."""

    async def blob(request: web.Request) -> web.Response:
        return web.Response(body=b"stored bytes", content_type="application/octet-stream")

    stub = stub_server.start(blob)
    yield stub
    stub.stop()


@pytest.fixture(scope="module")
def uncached(demo_session: DemoServer) -> Iterator[Served]:
    """`serve` at its defaults but the cache off, for the tests that inject faults into JSON
    answers: with the cache on (the default, as `served` has it), an answer an earlier test
    read would be served instead of the fault."""
    with serve(demo_session.url, env={"COMET_GATEWAY_CACHE": "false"}) as process:
        yield process


# --- 5. nothing leaves the endpoint table ---------------------------------------------------------
@pytest.mark.parametrize("template_id", [
    "..", ".", "%2E%2E", "%2e", "x%3FexperimentKey%3Dinjected%26assetId%3Dz%23",
    "a%2F..%2F..%2Fdownload", "%252E%252E", "..%3F", "%3F", "%23"])
def test_a_panel_id_never_leaves_its_endpoint(served: Served, demo: DemoServer,
                                              alice: dict[str, str], template_id: str) -> None:
    answer = raw(served.url, f"/download/panel/{template_id}", alice)
    assert answer.status in (400, 404)
    decoded = urllib.parse.unquote(template_id)
    sent = demo.requests()
    if decoded in (".", "..") or "/" in decoded:
        assert sent == []  # refused by the gateway (400), or no route at all (404)
        return
    assert [r["raw"] for r in sent] == [
        f"/api/rest/v2/template/{urllib.parse.quote(decoded, safe='')}/download"]
    assert sent[0]["params"] == {} and code_of(answer) == "NOT_FOUND"


def test_panel_download_urls_are_escaped(uncached: Served, demo: DemoServer,
                                         alice: dict[str, str]) -> None:
    odd = "a/../b?c=d&e#f"  # an id from upstream that no path segment can hold as it is
    demo.fault("code-panel/download", "status", status=200,
               body=json.dumps({**payloads.panel(PANEL), "templateId": odd}))
    result = uncached.post({"query": '{ panel(templateId: "x") { downloadUrl } }'},
                           headers=alice).json()
    assert result == {"data": {"panel": {
        "downloadUrl": f"{uncached.url}/download/panel/a%2F..%2Fb%3Fc%3Dd%26e%23f"}}}


# --- 5. redirects ---------------------------------------------------------------------------------
@pytest.mark.parametrize("location", [
    "http://127.0.0.1:{storage}/secret", "http://localhost:{storage}/secret",
    "http://0.0.0.0:{storage}/secret", "http://[::1]:{storage}/secret",
    "http://[::ffff:127.0.0.1]:{storage}/secret", "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.1:{storage}/", "file:///etc/passwd", "gopher://127.0.0.1:{storage}/",
    "http://user:secret@{demo}/_storage/x",
])
def test_redirects_never_reach_the_gateways_own_network(
        served: Served, demo: DemoServer, storage: Stub, alice: dict[str, str],
        location: str) -> None:
    storage.seen.clear()
    demo_host = urllib.parse.urlsplit(demo.url).netloc
    demo.fault(ASSET, "redirect", status=302,
               location=location.format(storage=storage.port, demo=demo_host))
    answer = served.http("GET", ASSET_URL, headers=alice)
    assert answer.status == 502 and code_of(answer) == "UPSTREAM_BAD_RESPONSE"
    assert storage.seen == []
    assert [r["endpoint"] for r in demo.requests()] == [ASSET]  # an upstream fault: no retry


@pytest.mark.parametrize("status", [302, 300, 304])
def test_a_redirect_without_a_location_is_an_upstream_fault(uncached: Served, demo: DemoServer,
                                                            alice: dict[str, str],
                                                            status: int) -> None:
    demo.fault("experiment/tags", "redirect", status=status)
    result = uncached.post(
        {"query": f'{{ experiment(key: "{EXPERIMENT}") {{ name tags }} }}'},
        headers=alice).json()
    assert result["data"]["experiment"]["name"] and result["data"]["experiment"]["tags"] is None
    assert codes(result) == ["UPSTREAM_BAD_RESPONSE"]
    demo.fault(ASSET, "redirect", status=307)
    answer = uncached.http("GET", ASSET_URL, headers=alice)
    assert answer.status == 502 and code_of(answer) == "UPSTREAM_BAD_RESPONSE"


def test_redirect_loops_are_cut_short(served: Served, demo: DemoServer,
                                      alice: dict[str, str]) -> None:
    demo.fault(ASSET, "redirect", status=302, location=f"{demo.url}/api/rest/v2/{ASSET}?again=1")
    answer = served.http("GET", ASSET_URL, headers=alice)
    assert answer.status == 502 and code_of(answer) == "UPSTREAM_BAD_RESPONSE"
    assert len(demo.requests()) == 6  # the request and five redirects, and no retry


def test_the_key_never_follows_a_redirect_to_another_origin(demo: DemoServer,
                                                            storage: Stub) -> None:
    storage.seen.clear()
    env = {"COMET_GATEWAY_PRIVATE_REDIRECT_HOSTS": "localhost"}  # storage on loopback, allowed
    with serve(demo.url, env=env) as gateway:
        demo.fault(ASSET, "redirect", status=302, count=1,
                   location=f"{demo.url}/api/rest/v2/{ASSET}?hop=2")  # home first: keyed
        demo.fault(ASSET, "redirect", status=302, count=1,
                   location=f"http://localhost:{storage.port}/bucket/blob?signature=s")
        answer = gateway.http("GET", ASSET_URL, headers={"Authorization": demo.keys["alice"]})
    assert answer.status == 200 and answer.body == b"stored bytes"
    assert [r["raw"].endswith("hop=2") for r in demo.requests()] == [False, True]
    assert [s.path for s in storage.seen] == ["/bucket/blob?signature=s"]
    assert "authorization" not in {h.lower() for h in storage.seen[0].headers}
    assert demo.keys["alice"] not in json.dumps(storage.seen[0].headers)


# --- 5. what a download may be served as ----------------------------------------------------------
@pytest.mark.parametrize(("mime", "served_as"), [
    ("text/html", None), ("text/html; charset=utf-8", None), ("image/svg+xml", None),
    ("application/xml", None), ("text/xml", None), ("application/xhtml+xml", None),
    ("text/javascript", None), ("application/javascript", None), ("application/pdf", None),
    ("text/css", None), ("multipart/x-mixed-replace; boundary=x", None), ("nonsense", None),
    ("image/png", "image/png"), ("application/zip", "application/zip"),
    ("text/plain; charset=utf-8", "text/plain; charset=utf-8"),
])
def test_active_content_is_never_served_inline(served: Served, demo: DemoServer,
                                               alice: dict[str, str], mime: str,
                                               served_as: str | None) -> None:
    demo.fault(ASSET, "bytes", size=100, content_type=mime, body="report<1>.html")
    answer = served.http("GET", ASSET_URL, headers=alice)
    headers = {k.lower(): v for k, v in answer.headers.items()}
    assert answer.status == 200 and answer.body == b"x" * 100
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["content-security-policy"].startswith("sandbox")
    assert headers["content-disposition"] == ("attachment; filename=\"report_1_.html\"; "
                                              "filename*=UTF-8''report%3C1%3E.html")
    assert headers["content-type"] == (served_as or "application/octet-stream")


# --- 5. host names (DNS rebinding) ----------------------------------------------------------------
@pytest.mark.parametrize("host", ["attacker.example", "attacker.example:80", "127.0.0.1.nip.io",
                                  "localhost.attacker.example", "[::2]", "a b", ""])
def test_requests_for_other_host_names_are_refused(served: Served, demo: DemoServer,
                                                   alice: dict[str, str], host: str) -> None:
    for target in ("/graphql?query=%7B%20viewer%20%7B%20userName%20%7D%20%7D", MODEL_URL):
        answer = raw(served.url, target, {"Host": host, **alice})
        assert answer.status == 400 and code_of(answer) == "BAD_USER_INPUT", target
        assert b"alice" not in answer.body
    assert demo.counts() == {}
    assert raw(served.url, "/healthz", {"Host": host}).status == 200  # probes come by IP


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "LOCALHOST.",
                                  "[::1]:{port}", "127.0.0.1"])
def test_loopback_names_are_answered(served: Served, alice: dict[str, str], host: str) -> None:
    answer = raw(served.url, "/graphql?query=%7B%20viewer%20%7B%20userName%20%7D%20%7D",
                 {"Host": host.format(port=served.port), **alice})
    assert answer.status == 200 and answer.json() == {"data": {"viewer": {"userName": "alice"}}}


def test_a_websocket_for_another_host_name_is_refused(served: Served) -> None:
    upgrade = {"Upgrade": "websocket", "Connection": "Upgrade",
               "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": "13",
               "Sec-WebSocket-Protocol": "graphql-transport-ws"}
    with socket.create_connection(("127.0.0.1", served.port), timeout=30) as sock:
        sock.sendall(b"GET /graphql HTTP/1.1\r\nHost: attacker.example\r\n" + b"".join(
            f"{k}: {v}\r\n".encode() for k, v in upgrade.items()) + b"\r\n")
        status_line = sock.recv(4096).split(b"\r\n", 1)[0]
    assert status_line.split()[1] in (b"400", b"403"), status_line


def test_dns_rebinding_cannot_read_comet_with_the_environments_key(demo: DemoServer) -> None:
    env = {"COMET_GATEWAY_USE_ENV_API_KEY": "true", "COMET_API_KEY": demo.keys["alice"]}
    query = "/graphql?query=%7B%20viewer%20%7B%20userName%20%7D%20%7D"
    with serve(demo.url, env=env) as gateway:
        rebound = raw(gateway.url, query, {"Host": f"attacker.example:{gateway.port}"})
        assert rebound.status == 400 and b"alice" not in rebound.body
        assert demo.counts() == {}
        own = raw(gateway.url, query)
    assert own.json() == {"data": {"viewer": {"userName": "alice"}}}


def test_the_environments_key_on_every_address_needs_a_host_list(demo: DemoServer) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMET_")}
    env.update({"COMET_GATEWAY_UPSTREAM_URL": demo.url, "COMET_GATEWAY_HOST": "0.0.0.0",
                "COMET_GATEWAY_USE_ENV_API_KEY": "true", "COMET_API_KEY": demo.keys["alice"]})
    done = subprocess.run([sys.executable, "-m", "gateway", "serve", "--port", str(free_port())],
                          cwd=ROOT, env=env, capture_output=True, timeout=30, check=False)
    assert done.returncode != 0
    assert b"COMET_GATEWAY_ALLOWED_HOSTS" in done.stderr + done.stdout
    assert demo.keys["alice"].encode() not in done.stderr + done.stdout


def test_any_host_on_every_address_is_said_at_start_up(demo: DemoServer) -> None:
    with serve(demo.url, env={"COMET_GATEWAY_HOST": "0.0.0.0"}) as gateway:
        answer = raw(gateway.url, "/graphql?query=%7B__typename%7D", {"Host": "any.example"})
        log = gateway.log()
    assert answer.status == 200
    assert [line for line in log.splitlines() if "any Host header is accepted" in line]


# --- 4. downloads and queries do not share slots --------------------------------------------------
def open_download(gateway: Served, key: str, target: str = MODEL_URL,
                  receive_buffer: int | None = None) -> socket.socket:
    """A download request on a raw socket, whose answer is not read."""
    sock = socket.socket()
    if receive_buffer:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.connect(("127.0.0.1", gateway.port))
    sock.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{gateway.port}\r\n"
                 f"Authorization: {key}\r\n\r\n".encode())
    return sock


def test_stalled_downloads_leave_queries_their_slots(demo: DemoServer) -> None:
    demo.fault(MODEL, "delay", delay=60)  # downloads that never get their first byte
    env = {"COMET_GATEWAY_OPERATION_DEADLINE": "8"}
    with serve(demo.url, env=env) as gateway:
        sockets = [open_download(gateway, key) for key in demo.keys.values() for _ in range(16)]
        try:
            # Each key's download slots (8) are all taken, and held.
            wait_until(lambda: len(demo.requests()) >= 8 * len(demo.keys), "downloads held")
            for name, key in demo.keys.items():
                result = gateway.post({"query": "{ viewer { userName } }"}, key=key).json()
                assert result == {"data": {"viewer": {"userName": name}}}
        finally:
            demo.clear_faults()  # let the hung answers go, so that serve can stop at once
            for sock in sockets:
                sock.close()


def test_a_client_that_leaves_before_its_download_begins_frees_its_slot(
        demo: DemoServer) -> None:
    demo.fault(MODEL, "delay", delay=60, count=8)  # the first eight hang before their answer
    env = {"COMET_GATEWAY_UPSTREAM_DEADLINE": "8"}
    key = demo.keys["alice"]
    with serve(demo.url, env=env) as gateway:
        sockets = [open_download(gateway, key) for _ in range(8)]  # the key's 8 download slots
        try:
            wait_until(lambda: len(demo.requests()) == 8, "eight downloads held upstream")
        finally:
            for sock in sockets:
                sock.close()  # and gone
        answer = gateway.http("GET", MODEL_URL, headers={"Authorization": key})
        demo.clear_faults()  # let the hung answers go, so that serve can stop at once
    assert answer.status == 200 and answer.body.startswith(b"PK")


def test_a_client_that_stops_reading_loses_its_download(demo: DemoServer) -> None:
    size = 32 * 1024 * 1024  # more than the socket buffers between the gateway and its client
    demo.fault(MODEL, "bytes", size=size, count=1)
    env = {"COMET_GATEWAY_MAX_DOWNLOADS_PER_KEY": "1",
           "COMET_GATEWAY_DOWNLOAD_STALL_TIMEOUT": "1", "COMET_GATEWAY_UPSTREAM_DEADLINE": "20"}
    key = demo.keys["alice"]
    with serve(demo.url, env=env) as gateway:
        stalled = open_download(gateway, key, receive_buffer=4096)
        try:
            assert stalled.recv(64).startswith(b"HTTP/1.1 200")
            # The one slot of this key is the stalled download's; the next waits for it.
            second = gateway.http("GET", MODEL_URL, headers={"Authorization": key})
            assert second.status == 200 and second.body.startswith(b"PK")
            stalled.settimeout(30)
            received = 64
            while chunk := stalled.recv(1 << 20):
                received += len(chunk)
            assert received < size  # cut off
        finally:
            stalled.close()
        log = gateway.log()
        assert "download stalled" in log
        # not uvicorn's ERROR for an unfinished answer: the cut was the gateway's own
        assert "without completing response" not in log and '"level": "error"' not in log


# --- 4. /readyz -----------------------------------------------------------------------------------
def test_readyz_probes_the_upstream_sparingly(served: Served, demo: DemoServer) -> None:
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda _: served.http("GET", "/readyz"), range(300)))
    # Past the address's bucket (200 at once) the rate limit answers; the rest are ready.
    ready = [a for a in answers if a.status == 200]
    assert len(ready) >= 150 and {a.status for a in answers} <= {200, 429}
    assert {a.json()["status"] for a in ready} == {"ready"}
    assert demo.probes() <= 20  # one per couple of seconds, not one per request


# --- 4. retries are spent from the budget ---------------------------------------------------------
@pytest.mark.parametrize("kind", ["reset", "status"])
def test_retries_never_take_an_operation_past_its_budget(demo: DemoServer, kind: str) -> None:
    budget = 40
    query = ('{ project(workspace: "vision-lab", name: "image-classifier") { '
             "experiments(first: 20) { edges { node { key tags } } } } }")
    with serve(demo.url, env={"COMET_GATEWAY_UPSTREAM_BUDGET": str(budget)}) as gateway:
        demo.clear_log()
        demo.fault("experiment/tags", kind, status=500)
        result = gateway.post({"query": query}, key=demo.keys["alice"]).json()
    edges = result["data"]["project"]["experiments"]["edges"]
    assert len(edges) == 20 and all(e["node"]["tags"] is None for e in edges)
    assert set(codes(result)) <= {"UPSTREAM_UNAVAILABLE", "QUERY_TOO_COMPLEX"}
    sent = demo.requests()
    assert len(sent) <= budget
    assert sum(r["endpoint"] == "experiment/tags" for r in sent) > 20  # and some were retried


def test_a_retry_after_of_zero_is_not_retried_at_once(uncached: Served, demo: DemoServer,
                                                     alice: dict[str, str]) -> None:
    demo.fault("experiment/tags", "status", status=429, retry_after="0")
    before = len(re.findall(r"retrying tags in ([0-9.]+)s", uncached.log()))
    result = uncached.post({"query": f'{{ experiment(key: "{EXPERIMENT}") {{ tags }} }}'},
                           headers=alice).json()
    assert codes(result) == ["RATE_LIMITED"]
    assert sum(r["endpoint"] == "experiment/tags" for r in demo.requests()) == 4  # 1 + 3 retries
    waits = [float(w)
             for w in re.findall(r"retrying tags in ([0-9.]+)s", uncached.log())[before:]]
    assert len(waits) == 3 and max(waits) > 0  # backed off (jittered), not hammered at once


# --- 8. upstreams that do not answer as Comet does ------------------------------------------------
def test_a_server_that_answers_404_to_everything_is_not_comet() -> None:
    stub = stub_server.start(stub_server.html_404)
    try:
        with serve(stub.url) as gateway:
            result = gateway.post({"query": "{ viewer { userName } workspaces { name } }"},
                                  key="some-key").json()
            wait_until(lambda: "does not answer as Comet does" in gateway.log(), "a warning")
            log = gateway.log()
            ready = gateway.http("GET", "/readyz")
    finally:
        stub.stop()
    assert result["data"] == {"viewer": None, "workspaces": None}
    assert codes(result) == ["UPSTREAM_BAD_RESPONSE"] * 2
    warnings = [line for line in log.splitlines() if "does not answer as Comet does" in line]
    assert len(warnings) == 1 and "COMET_GATEWAY_UPSTREAM_URL" in warnings[0]
    assert ready.status == 503


def test_comets_own_404_from_a_listing_is_an_upstream_fault(uncached: Served, demo: DemoServer,
                                                           alice: dict[str, str]) -> None:
    demo.fault("*", "status", status=404)  # Comet's JSON error, from every endpoint
    result = uncached.post({"query": "{ viewer { userName } workspaces { name } }"},
                           headers=alice).json()
    assert result["data"] == {"viewer": None, "workspaces": None}
    assert codes(result) == ["UPSTREAM_BAD_RESPONSE"] * 2


def test_an_html_404_from_a_lookup_is_an_upstream_fault(uncached: Served, demo: DemoServer,
                                                        alice: dict[str, str]) -> None:
    query = {"query": f'{{ experiment(key: "{EXPERIMENT}") {{ name }} }}'}
    demo.fault("experiment/metadata", "status", status=404, count=1, content_type="text/html",
               body="<html><body>Not Found</body></html>")
    html = uncached.post(query, headers=alice).json()
    assert html["data"] == {"experiment": None} and codes(html) == ["UPSTREAM_BAD_RESPONSE"]
    demo.fault("experiment/metadata", "status", status=404, count=1)  # Comet's own: missing
    assert uncached.post(query, headers=alice).json() == {"data": {"experiment": None}}


@pytest.fixture(scope="module")
def prefixed() -> Iterator[DemoServer]:
    server = demo_server.start(prefix="/comet")
    yield server
    server.stop()


@pytest.mark.parametrize("pasted", ["", "/", "/clientlib/", "/api/rest/v2/"])
def test_comet_under_a_path_prefix(prefixed: DemoServer, pasted: str) -> None:
    prefixed.reset()
    with serve(prefixed.url + pasted) as gateway:
        result = gateway.post({"query": "{ viewer { userName } }"}, key=prefixed.keys["bob"])
        ready = gateway.http("GET", "/readyz")
        wait_until(lambda: "is Comet" in gateway.log(), "the start-up check")
    assert result.json() == {"data": {"viewer": {"userName": "bob"}}}
    assert ready.status == 200 and ready.json()["status"] == "ready"
    assert prefixed.counts() == {"GET account-details": 1} and prefixed.probes() >= 1
