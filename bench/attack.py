"""`python -m bench.attack`: a normal query's latency while one anonymous attacker sends a
hostile document in a loop, against `comet-gateway serve` at its defaults.

The demo upstream and the gateway run as processes of their own; the attacker is a third
process, one connection sending its document again as soon as the last answer came, from
another loopback address (127.0.0.2) than the normal client (127.0.0.1), as it would from
another machine. Each round measures the normal query alone and under every attack, in an
order rotated each round; the report gives, per attack, the median of the rounds' latency
ratios (attacked ÷ alone, same round) with their min–max, the attacker's answers and the
server's CPU seconds per attacking request. Options: `--rounds`, `--seconds` (per window).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import multiprocessing
import os
import statistics
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from . import servers

NORMAL = '{ project(workspace: "vision-lab", name: "image-classifier") { name } }'
SUBSCRIPTION_COMMENT = "# subscription\n{ viewer { " + "a " * 490_000 + "} }"


@dataclass(frozen=True)
class Attack:
    """One hostile request, sent in a loop. With `fresh`, each sends its document with a new
    first line (a comment), so that no cache of the gateway ever holds it."""

    name: str
    method: str = "POST"
    body: bytes = b""
    path: str = "/graphql"
    fresh: bool = False

    def body_for(self, i: int) -> bytes:
        if not self.fresh:
            return self.body
        payload = json.loads(self.body)
        payload["query"] = f"# {i}\n{payload['query']}"
        return json.dumps(payload).encode()


def attacks() -> list[Attack]:
    def post(name: str, payload: object, fresh: bool = False) -> Attack:
        return Attack(name, body=json.dumps(payload).encode(), fresh=fresh)

    digest = hashlib.sha256(SUBSCRIPTION_COMMENT.encode()).hexdigest()
    persisted = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    cycle = ("{ ...F0 } " + " ".join(f"fragment F{i} on Query {{ ...F{i + 1} }}"
                                      for i in range(300)) + " fragment F300 on Query { ...F0 }")
    return [
        post("'# subscription' + 490k tokens (1 MB)", {"query": SUBSCRIPTION_COMMENT}),
        Attack("its persisted hash over GET", "GET", path="/graphql?" + urllib.parse.urlencode(
            {"extensions": json.dumps(persisted)})),
        post("viewer{defaultWorkspace{name}} x1000", {
            "query": "{" + " viewer { defaultWorkspace { name } }" * 1000 + "}"}),
        post("viewer{defaultWorkspace{name}} x150", {
            "query": "{" + " viewer { defaultWorkspace { name } }" * 150 + "}"}),
        post("10,001 tokens", {"query": "{ viewer { " + "userName " * 10_001 + "} }"}),
        post("1,990 tokens, a new text each time", {
            "query": "{ viewer { " + "userName " * 1990 + "} }"}, fresh=True),
        post("fragments spreading fragments, 2**22", {"query": "{ ...F0 } " + " ".join(
            f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(22))
            + " fragment F22 on Query { ...Nope }"}),
        post("fragment cycle of 300", {"query": cycle}),
        post("introspection bomb", {"query": "{ __schema { types { fields { type { fields { "
                                              "type { fields { name } } } } } } } }"}),
        post("introspection, GraphiQL's", {"query": _introspection()}),
        post("introspection, a new text each time", {"query": _introspection()}, fresh=True),
        Attack("JSON nested 10,000 deep", body=b"[" * 10_000 + b"]" * 10_000),
        post("query($k:ID!) with k: null", {
            "query": "query($k: ID!) { experiment(key: $k) { name } }", "variables": {"k": None}}),
    ]


def _introspection() -> str:
    from graphql import get_introspection_query

    return get_introspection_query(descriptions=True)


def attacker(url: str, attack: Attack, stop: multiprocessing.synchronize.Event,
             statuses: multiprocessing.queues.Queue[dict[int, int]]) -> None:
    """One connection from 127.0.0.2, sending `attack` in a loop until `stop`."""
    async def run() -> Counter[int]:
        seen: Counter[int] = Counter()
        connector = aiohttp.TCPConnector(limit=1, local_addr=("127.0.0.2", 0))
        headers = {"Content-Type": "application/json"}
        async with aiohttp.ClientSession(connector=connector) as session:
            sent = 0
            while not stop.is_set():
                sent += 1
                try:
                    async with session.request(attack.method, url + attack.path,
                                               data=attack.body_for(sent) or None,
                                               headers=headers) as answer:
                        await answer.read()
                        seen[answer.status] += 1
                except aiohttp.ClientError:
                    seen[0] += 1
        return seen

    statuses.put(dict(asyncio.run(run())))


async def normal_latencies(url: str, key: str, seconds: float) -> list[float]:
    """The normal query, one after the other, for `seconds`: each one's latency in ms."""
    latencies = []
    connector = aiohttp.TCPConnector(limit=1, local_addr=("127.0.0.1", 0))
    body = json.dumps({"query": NORMAL}).encode()
    headers = {"Content-Type": "application/json", "Authorization": key}
    async with aiohttp.ClientSession(connector=connector) as session:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            started = time.perf_counter()
            async with session.post(f"{url}/graphql", data=body, headers=headers) as answer:
                payload = await answer.json()
                assert answer.status == 200 and "errors" not in payload, payload
            latencies.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(0.02)  # a client that asks 50 times a second, not a flood
    return latencies


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Window:
    median_ms: float
    statuses: dict[int, int]
    cpu_per_attack: float


def window(url: str, pid: int, key: str, attack: Attack | None, seconds: float) -> Window:
    context = multiprocessing.get_context("spawn")
    stop, statuses = context.Event(), context.Queue()
    process = None
    if attack is not None:
        process = context.Process(target=attacker, args=(url, attack, stop, statuses))
        process.start()
        time.sleep(0.5)  # the attacker is in its loop before the measure starts
    cpu = cpu_seconds(pid)
    latencies = asyncio.run(normal_latencies(url, key, seconds))
    cpu = cpu_seconds(pid) - cpu
    seen: dict[int, int] = {}
    if process is not None:
        stop.set()
        seen = statuses.get(timeout=60)
        process.join(60)
    attacking = sum(seen.values()) or 1
    return Window(statuses=seen, median_ms=statistics.median(latencies),
                  cpu_per_attack=cpu / attacking if seen else 0.0)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.attack")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    every = attacks()
    with servers.upstream(1) as up, servers.gateway(up.url, defaults=True) as gw:
        key = up.keys["alice"]
        window(gw.url, gw.pid, key, None, 2.0)  # warm-up: caches, the demo's lazy world
        ratios: dict[str, list[float]] = {a.name: [] for a in every}
        last: dict[str, Window] = {}
        alone: list[float] = []
        for r in range(args.rounds):
            order: list[Attack | None] = [None, *every]
            order = order[r % len(order):] + order[:r % len(order)]
            measured = {(a.name if a else None): window(gw.url, gw.pid, key, a, args.seconds)
                        for a in order}
            baseline = measured[None].median_ms
            alone.append(baseline)
            for a in every:
                ratios[a.name].append(measured[a.name].median_ms / baseline)
                last[a.name] = measured[a.name]
        print(f"normal query alone: median {statistics.median(alone):.2f} ms "
              f"({min(alone):.2f}–{max(alone):.2f}) over {args.rounds} rounds of "
              f"{args.seconds:.0f} s")
        print(f"{'attack (one anonymous client, in a loop)':45s} {'latency ×':>10s} "
              f"{'min–max':>12s} {'CPU ms/attack':>14s}  attacker's answers (last round)")
        for a in every:
            values = ratios[a.name]
            w = last[a.name]
            print(f"{a.name:45s} {statistics.median(values):10.2f} "
                  f"{min(values):5.2f}–{max(values):<5.2f} {w.cpu_per_attack * 1000:14.2f}  "
                  f"{dict(sorted(w.statuses.items()))}")
        worst = max(statistics.median(v) for v in ratios.values())
        print(f"worst median ratio: {worst:.2f} (target: within 2.00)")


if __name__ == "__main__":
    main()
