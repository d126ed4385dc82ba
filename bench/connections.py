"""`python -m bench.connections`: what connections cost the gateway's process, before, during
and after: the attacks of issue 9's section 3, and legitimate websockets.

Printed: the RSS of the `serve` process (MB) before, at the peak sampled, and after the
clients have gone (and 12 s, for the memory hand-back), and its open fds. Clients
use loopback source addresses of their own (127.0.x.y) where the per-client cap would
otherwise hide the cost. Nothing is asserted: the attack tests assert bounds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from . import servers

MB = 1024


def source(i: int) -> str:
    return f"127.0.{1 + i // 250}.{1 + i % 250}"


def fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


async def websockets(url: str, count: int, payload: dict[str, object], wave: int,
                     rss: Callable[[], int]) -> tuple[dict[str, int], int]:
    """`count` websockets in waves of `wave`, each from an address of its own; those
    acknowledged held until all have their outcome. Outcomes counted, and the peak RSS."""
    hold = asyncio.Event()
    outcomes: dict[str, int] = {}
    reached = 0
    peak = rss()

    async def one(i: int) -> None:
        nonlocal reached
        try:
            async with connect(url, subprotocols=["graphql-transport-ws"],  # type: ignore
                               ping_interval=None, open_timeout=60,
                               local_addr=(source(i), 0)) as ws:
                await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
                try:
                    outcome = json.loads(await ws.recv())["type"]
                except ConnectionClosed as closed:
                    outcome = f"closed {closed.rcvd.code if closed.rcvd else None}"
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
                reached += 1
                if outcome == "connection_ack":
                    await hold.wait()
        except InvalidStatus as refused:
            key = f"http {refused.response.status_code}"
            outcomes[key] = outcomes.get(key, 0) + 1
            reached += 1

    tasks = []
    for start in range(0, count, wave):
        tasks += [asyncio.ensure_future(one(i)) for i in range(start, min(count, start + wave))]
        while reached < len(tasks):
            peak = max(peak, rss())
            await asyncio.sleep(0.05)
    peak = max(peak, rss())
    hold.set()
    await asyncio.gather(*tasks)
    return outcomes, peak


def slow_heads(port: int, count: int) -> list[socket.socket]:
    opened = []
    for i in range(count):
        with contextlib.suppress(OSError):
            sock = socket.create_connection(("127.0.0.1", port), source_address=(source(i), 0))
            sock.sendall(b"GET /graphql HTTP/1.1\r\nHost: x\r\n")
            opened.append(sock)
    return opened


def huge_heads(port: int, count: int, mb: int, rss: Callable[[], int]) -> int:
    """`count` connections at once, each sending an unfinished header line of `mb` MB; the
    peak RSS."""
    line = b"a" * (1 << 20)
    socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(count)]
    peak = rss()
    try:
        for sock in socks:
            sock.sendall(b"GET /graphql HTTP/1.1\r\nHost: x\r\nX-Huge: ")
        open_ = set(range(count))
        for _ in range(mb):
            for i in list(open_):
                try:
                    socks[i].sendall(line)
                except OSError:  # refused and closed
                    open_.discard(i)
            peak = max(peak, rss())
        time.sleep(1)
        return max(peak, rss())
    finally:
        for sock in socks:
            sock.close()


@contextlib.contextmanager
def gateway(upstream_url: str, open_files: int | None = None,
            **settings: str) -> Iterator[servers.Gateway]:
    """`serve`, optionally under an open-files limit (soft and hard) of `open_files`."""
    port = servers.free_port()
    env = {**os.environ, "COMET_GATEWAY_UPSTREAM_URL": upstream_url,
           "COMET_GATEWAY_LOG_LEVEL": "warning", **settings}

    def limit() -> None:
        if open_files is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, open_files))

    with subprocess.Popen([sys.executable, "-m", "gateway", "serve", "--port", str(port)],
                          cwd=servers.ROOT, env=env, preexec_fn=limit,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as process:
        try:
            servers.wait_for(f"http://127.0.0.1:{port}/healthz")
            yield servers.Gateway(f"http://127.0.0.1:{port}", process.pid)
        finally:
            process.terminate()
            process.wait(30)


def measure(name: str, pid: int, attack: Callable[[], Awaitable[str] | str]) -> None:
    before = servers.rss_kib(pid)
    result = attack()
    if not isinstance(result, str):
        result = asyncio.run(result)  # type: ignore[arg-type]
    time.sleep(12)  # the memory hand-back runs at most every 10 s (gateway/memory.py)
    after = servers.rss_kib(pid)
    print(f"{name:<58} {before / MB:6.0f} MB → {result} → after {after / MB:4.0f} MB "
          f"(+{(after - before) / MB:.0f})", flush=True)


def main() -> None:
    with servers.upstream(1) as upstream:
        key = upstream.keys["alice"]
        with gateway(upstream.url, COMET_GATEWAY_RATE_LIMIT_PER_SECOND="0",
                     COMET_GATEWAY_MAX_CONNECTIONS="10000",
                     COMET_GATEWAY_WEBSOCKETS_PER_CLIENT="10000") as served:
            pid, url = served.pid, served.url.replace("http://", "ws://") + "/graphql"

            def run(count: int, payload: dict[str, object], wave: int) -> Callable[[], str]:
                def attack() -> str:
                    outcomes, peak = asyncio.run(websockets(
                        url, count, payload, wave, lambda: servers.rss_kib(pid)))
                    return f"{outcomes}, peak {peak / MB:.0f} MB"
                return attack

            measure("3,000 keyless websockets, 30 waves of 100", pid, run(3000, {}, 100))
            measure("3,000 keyless websockets, all at once", pid, run(3000, {}, 3000))
            measure("3,000 websockets with a key, held, all at once", pid,
                    run(3000, {"Authorization": key}, 3000))
            measure("the same again (the memory is reused)", pid,
                    run(3000, {"Authorization": key}, 3000))
        with gateway(upstream.url) as served:
            pid, port = served.pid, int(served.url.rsplit(":", 1)[1])

            def heads() -> str:
                peak = huge_heads(port, 10, 40, lambda: servers.rss_kib(pid))
                return f"10 unfinished 40 MB header lines at once, peak {peak / MB:.0f} MB"

            measure("huge heads (defaults)", pid, heads)
        with gateway(upstream.url, open_files=1024) as served:
            pid = served.pid

            def loris() -> str:
                opened = slow_heads(int(served.url.rsplit(":", 1)[1]), 1030)
                try:
                    try:
                        servers.wait_for(f"{served.url}/healthz", timeout=10)
                        answered = "answered"
                    except RuntimeError:
                        answered = "NOT answered"
                    return f"1,030 slow heads: {fds(pid)} fds open, /healthz {answered}"
                finally:
                    for sock in opened:
                        sock.close()

            measure("slow heads (defaults, ulimit -n 1024)", pid, loris)


if __name__ == "__main__":
    main()
