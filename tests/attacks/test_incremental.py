"""Answers in parts (`@defer`) at the defaults: deferring costs a bounded slice however many
fragments a query defers, and clients that leave mid-answer leave nothing running behind."""

from __future__ import annotations

import functools
import http.client
import json
import time
import urllib.parse

from tests.demo_server import DemoServer
from tests.multipart import APOLLO, merged, read_parts
from tests.polling import wait_for
from tests.serve_process import Served

# Experiment fields the listing holds (no call of their own), asked by the fragments in turn:
# a field may be repeated in one selection only so often (`documents.MAX_FIELD_PAIRS`).
FIELDS = ("key", "id", "name", "startTime", "endTime", "durationMillis", "optimizationId",
          "archived", "running", "hasCrashed", "fileName", "filePath")


def test_many_deferred_fragments_cost_a_bounded_slice(served: Served, demo: DemoServer) -> None:
    # 144 deferred fragments (about the most the document's limits let through) on each of
    # 113 experiments: 16,272 asked, 1,000 delivered apart (the default bound), the rest in
    # the first part, as if not deferred.
    fragments = " ".join(f"... @defer {{ {FIELDS[i % len(FIELDS)]} }}" for i in range(144))
    query = ('{ project(workspace: "vision-lab", name: "image-classifier") { experiments('
             f"first: 500) {{ edges {{ node {{ key {fragments} }} }} }} }} }}")
    before_cpu, before_rss = served.cpu_seconds(), served.rss_kib()
    answer = served.post({"query": query}, key=demo.keys["alice"],
                         headers={"Accept": APOLLO}, timeout=120)
    used_cpu, grown = served.cpu_seconds() - before_cpu, served.rss_kib() - before_rss
    parts = read_parts(answer.body, answer.headers["content-type"])
    # graphql-core delivers the same field of several fragments once: fewer entries than
    # fragments, none past the bound.
    later = sum(len(part["incremental"]) for part in parts[1:])
    assert 0 < later <= 1000 and parts[-1]["hasNext"] is False
    whole = served.post({"query": query}, key=demo.keys["alice"]).json()
    assert merged(parts) == whole and len(whole["data"]["project"]["experiments"]["edges"]) == 113
    print(f"16,272 deferred fragments: {used_cpu:.2f} s CPU, RSS +{grown / 1024:.0f} MiB, "
          f"{len(parts)} parts")
    assert used_cpu < 10 and grown < 300 * 1024, (used_cpu, grown)
    # The two answers' calls (the second's from the cache, on by default, or not).
    counts = demo.counts()
    assert set(counts) == {"GET project", "GET experiments"} and max(counts.values()) <= 2


def test_a_cyclic_bomb_in_deferred_parts_is_cut_at_the_answers_bound(served: Served,
                                                                      demo: DemoServer) -> None:
    """Each deferred fragment is executed by a copy of the operation's executor: were each to
    count what it adds on its own, 113 fragments of 113 fragments of 113 experiments would
    each stay under the bound while the answer held 113³ objects."""
    inner = "name"
    for _ in range(2):
        inner = ("... @defer { project { experiments(first: 500) { edges { node { "
                 f"{inner} }} }} }} }} }}")
    query = ('{ project(workspace: "vision-lab", name: "image-classifier") { experiments('
             f"first: 500) {{ edges {{ node {{ {inner} }} }} }} }} }}")
    before_cpu, before_rss = served.cpu_seconds(), served.rss_kib()
    answer = served.post({"query": query}, key=demo.keys["alice"],
                         headers={"Accept": APOLLO}, timeout=120)
    used_cpu, grown = served.cpu_seconds() - before_cpu, served.rss_kib() - before_rss
    errors = merged(read_parts(answer.body, answer.headers["content-type"]))["errors"]
    assert [e["extensions"]["code"] for e in errors] == ["QUERY_TOO_COMPLEX"]
    assert "more than 25000 objects in lists" in errors[0]["message"]
    print(f"deferred bomb cut: {used_cpu:.2f} s CPU, RSS +{grown / 1024:.0f} MiB")
    assert used_cpu < 10 and grown < 300 * 1024, (used_cpu, grown)


def test_clients_that_leave_mid_answer_leave_nothing_behind(served: Served,
                                                             demo: DemoServer) -> None:
    query = """{ project(workspace: "vision-lab", name: "image-classifier") {
      experiments(first: 100) { edges { node { key
        ... @defer { metricSeries(names: ["loss"]) { values } } } } } } }"""
    demo.fault("experiments/multi-metric-chart", "delay", delay=60)
    fds = served.open_fds()
    url = urllib.parse.urlsplit(served.url)
    for round_ in range(20):
        connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=30)
        connection.request("POST", "/graphql", json.dumps({"query": query}), {
            "Content-Type": "application/json", "Accept": APOLLO,
            "Authorization": demo.keys["alice"]})
        response = connection.getresponse()
        received = b""
        while b'"hasNext":true}\r\n---' not in received:
            more = response.read1(65536)
            assert more, received[:300]
            received += more
        # one chart call (100 experiments: one batch) each time; the project and the listing
        # come from the cache after the first time
        assert wait_for(functools.partial(charts_are, demo, round_ + 1))
        connection.close()
    assert wait_for(lambda: all(r["ended"] is not None for r in demo.requests()))
    demo.clear_faults()
    charts = [r for r in demo.requests() if r["endpoint"] == "experiments/multi-metric-chart"]
    assert [r["status"] for r in charts] == [-1] * 20  # every one dropped by the gateway
    assert wait_for(lambda: served.open_fds() <= fds + 2)  # sockets to clients and to Comet
    log = served.log()
    for trouble in ("Traceback", "Exception in ASGI", "was destroyed", "never retrieved",
                    '"level": "error"'):
        assert trouble not in log, log[-2000:]


def charts_are(demo: DemoServer, count: int) -> bool:
    return demo.counts().get("POST experiments/multi-metric-chart", 0) == count


def test_a_client_that_stops_reading_is_let_go(demo: DemoServer) -> None:
    """A client that reads the first part and then nothing would hold its operation (loaders,
    parts: megabytes) for as long as it liked: past the stall timeout it is cut off."""
    import socket

    from tests.serve_process import serve

    query = """{ project(workspace: "vision-lab", name: "image-classifier") {
      experiments(first: 100) { edges { node { key ... @defer {
        a: metricSeries(names: ["loss", "accuracy", "val_loss", "val_accuracy"], full: true) {
          steps values timestamps durations epochs valuesText }
        b: metricSeries(names: ["loss", "accuracy", "val_loss", "val_accuracy"], full: true) {
          timestamps durations epochs valuesText } } } } } } }"""
    body = json.dumps({"query": query}).encode()
    with serve(demo.url, env={"COMET_GATEWAY_DOWNLOAD_STALL_TIMEOUT": "2"}) as served:
        url = urllib.parse.urlsplit(served.url)
        client = socket.socket()
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        client.connect((url.hostname or "", url.port or 80))
        client.sendall(b"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                       b"Content-Type: application/json\r\nAccept: " + APOLLO.encode() +
                       b"\r\nAuthorization: " + demo.keys["alice"].encode() +
                       b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        received = b""
        while b'"hasNext":true' not in received:
            received += client.recv(65536)
        time.sleep(6)  # reading nothing: the gateway's sends wait, then give up
        client.settimeout(20)
        try:
            while chunk := client.recv(1 << 20):
                received += chunk
        except ConnectionResetError:
            pass
        client.close()
        log = served.log()
    # The parts already written go out (the server flushes them as it closes); the body's
    # end (`--` after the last delimiter) never does: the answer was given up.
    assert received.endswith(b"\r\n---\r\n") and not received.endswith(b"---\r\n--\r\n"), \
        received[-40:]
    # The gateway says why at WARNING; uvicorn's ERROR line for an unfinished answer, which
    # any client could cause at will, is not written for a cut made on purpose.
    assert "Traceback" not in log and "Exception in ASGI" not in log, log[-2000:]
    assert "answer in parts cut off: the client took nothing for 2 s" in log
    assert "without completing response" not in log and '"level": "error"' not in log, \
        log[-2000:]
