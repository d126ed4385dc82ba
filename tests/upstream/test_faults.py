"""Every fault mode, injected into the demo upstream: retries, waits, deadlines, what is final."""

from __future__ import annotations

import asyncio
import dataclasses
import email.utils
import json
import logging
import random
import time
import urllib.parse

import aiohttp
import pytest

from gateway.upstream import ApiKey, CometClient, Transport, errors
from gateway.upstream.transport import map_transport_errors
from tests.demo_server import DemoServer
from tests.upstream.conftest import config_for

TAGS = "experiment/tags"


async def some_key(client: CometClient) -> str:
    return (await client.get_experiments("vision-lab", "image-classifier", page=1, size=1))[0] \
        .experiment_key


def calls(demo: DemoServer, endpoint: str = TAGS) -> list[dict[str, object]]:
    return [r for r in demo.requests() if r["endpoint"] == endpoint]


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_5xx_is_retried_until_it_passes(alice: CometClient, demo: DemoServer,
                                              status: int) -> None:
    key = await some_key(alice)
    demo.fault(TAGS, "status", status=status, count=2)
    assert isinstance(await alice.get_tags(key), tuple)
    assert [r["status"] for r in calls(demo)] == [status, status, 200]


async def test_a_500_storm_gives_up_after_three_retries(alice: CometClient,
                                                        demo: DemoServer) -> None:
    key = await some_key(alice)
    demo.fault(TAGS, "status", status=503)
    with pytest.raises(errors.Unavailable) as caught:
        await alice.get_tags(key)
    assert caught.value.status == 503 and caught.value.endpoint == "tags"
    assert len(calls(demo)) == 4  # the first attempt and three retries


@pytest.mark.parametrize(("status", "error"), [
    (501, errors.Unavailable), (401, errors.Unauthenticated), (403, errors.Forbidden),
    (404, errors.NotFound), (400, errors.NotFound), (402, errors.BadRequest),
    (429, errors.RateLimited)])
async def test_what_is_never_retried(alice: CometClient, demo: DemoServer, status: int,
                                     error: type[errors.UpstreamError]) -> None:
    key = await some_key(alice)
    demo.fault(TAGS, "status", status=status)
    with pytest.raises(error) as caught:
        await alice.get_tags(key)
    assert type(caught.value) is error and caught.value.status == status
    assert caught.value.msg == f"injected {status}" and caught.value.sdk_error_code == 0
    assert len(calls(demo)) == 1


async def test_400_on_a_non_lookup_is_a_bad_request(alice: CometClient,
                                                    demo: DemoServer) -> None:
    with pytest.raises(errors.BadRequest) as caught:
        await alice.get_projects_page("vision-lab", sort="nonsense")
    assert caught.value.status == 400 and "sort" in (caught.value.msg or "")


class Ceiling(random.Random):
    """Jitter that always draws the top of its range."""

    def uniform(self, a: float, b: float) -> float:
        return b


def waits(caplog: pytest.LogCaptureFixture) -> list[float]:
    """The waits before each retry, as the transport logs them (what it decided, not what a
    clock in the test measured)."""
    return [float(r.getMessage().split(" in ")[1].split("s ")[0]) for r in caplog.records
            if r.getMessage().startswith("retrying")]


async def test_429_retry_after_seconds_is_honoured(alice: CometClient, demo: DemoServer,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "gateway.upstream")
    key = await some_key(alice)
    demo.fault(TAGS, "status", status=429, retry_after="1", count=1)
    await alice.get_tags(key)
    assert waits(caplog) == [1.0]
    assert [r["status"] for r in calls(demo)] == [429, 200]


async def test_429_retry_after_http_date_is_honoured(alice: CometClient, demo: DemoServer,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "gateway.upstream")
    key = await some_key(alice)
    when = email.utils.formatdate(time.time() + 2, usegmt=True)
    demo.fault(TAGS, "status", status=429, retry_after=when, count=1)
    await alice.get_tags(key)
    [wait] = waits(caplog)
    assert 0.9 <= wait <= 2.0  # the date is to the second
    assert [r["status"] for r in calls(demo)] == [429, 200]


async def test_429_past_the_deadline_fails_at_once(alice: CometClient, demo: DemoServer,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "gateway.upstream")
    key = await some_key(alice)
    demo.fault(TAGS, "status", status=429, retry_after="60")
    with pytest.raises(errors.RateLimited) as caught:
        await alice.get_tags(key)
    assert caught.value.retry_after == 60 and waits(caplog) == []  # not waited for
    assert len(calls(demo)) == 1


async def test_a_hang_past_the_timeout_is_retried(demo: DemoServer) -> None:
    async with Transport(config_for(demo, timeout=0.3)) as transport:
        client = CometClient(transport, ApiKey(demo.keys["alice"]))
        key = await some_key(client)
        demo.fault(TAGS, "delay", delay=2, count=1)
        assert isinstance(await client.get_tags(key), tuple)
    assert len(calls(demo)) == 2


async def test_the_deadline_is_kept(demo: DemoServer) -> None:
    # Ten retries of 0.4 s attempts would take 4.4 s: the 1 s deadline leaves room for 3.
    config = config_for(demo, timeout=0.4, deadline=1.0, max_retries=10)
    async with Transport(config) as transport:
        client = CometClient(transport, ApiKey(demo.keys["alice"]))
        key = await some_key(client)
        demo.fault(TAGS, "delay", delay=600)
        with pytest.raises(errors.Timeout):
            await client.get_tags(key)
    assert 2 <= len(calls(demo)) <= 3


async def test_backoff_never_sleeps_past_the_deadline(
        demo: DemoServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "gateway.upstream")
    config = config_for(demo, deadline=1.0, backoff_base=5.0, backoff_max=5.0)
    async with Transport(config, rng=Ceiling()) as transport:  # a backoff of 5 s
        client = CometClient(transport, ApiKey(demo.keys["alice"]))
        key = await some_key(client)
        demo.fault(TAGS, "status", status=503)
        with pytest.raises(errors.Unavailable) as caught:
            await client.get_tags(key)
    # The 503 itself, at once: not a Timeout after sleeping past the deadline.
    assert type(caught.value) is errors.Unavailable and caught.value.status == 503
    assert waits(caplog) == [] and len(calls(demo)) == 1


@pytest.mark.parametrize("kind", ["reset", "truncate"])
async def test_cut_connections_are_retried(alice: CometClient, demo: DemoServer,
                                           kind: str) -> None:
    key = await some_key(alice)
    demo.fault(TAGS, kind, count=2)
    assert isinstance(await alice.get_tags(key), tuple)
    assert len(calls(demo)) == 3


@pytest.mark.parametrize("kind", ["reset", "truncate"])
async def test_cut_connections_give_up_as_unavailable(alice: CometClient, demo: DemoServer,
                                                      kind: str) -> None:
    key = await some_key(alice)
    demo.fault(TAGS, kind)
    with pytest.raises(errors.Unavailable) as caught:
        await alice.get_tags(key)
    # 1 + 3 retries, ours alone. This pins the aiohttp behaviour the transport switches off
    # (`_retry_connection`: aiohttp itself repeats a GET once after a reset, 8 calls here).
    assert type(caught.value) is errors.Unavailable and len(calls(demo)) == 4


async def test_non_json_is_a_bad_response_and_not_retried(alice: CometClient,
                                                          demo: DemoServer) -> None:
    key = await some_key(alice)
    demo.fault(TAGS, "garbage")
    with pytest.raises(errors.BadResponse):
        await alice.get_tags(key)
    assert len(calls(demo)) == 1


async def test_a_body_of_the_wrong_shape_is_a_bad_response(alice: CometClient,
                                                           demo: DemoServer) -> None:
    demo.fault("project", "status", status=200, body=json.dumps({"projectName": 7}))
    with pytest.raises(errors.BadResponse) as caught:
        await alice.get_project(workspace="vision-lab", project_name="image-classifier")
    assert "projectId" in str(caught.value)


async def test_a_fraction_of_failures_is_absorbed(alice: CometClient, demo: DemoServer) -> None:
    keys = [e.experiment_key for e in await alice.get_experiments("vision-lab",
                                                                  "image-classifier")][:20]
    demo.fault(TAGS, "status", status=500, fraction=0.15)
    results = await asyncio.gather(*(alice.get_tags(k) for k in keys))
    assert len(results) == 20
    statuses = [r["status"] for r in calls(demo)]
    assert statuses.count(200) == 20 and statuses.count(500) > 0


async def test_connection_refused_is_unavailable(demo: DemoServer) -> None:
    from tests.demo_server import free_port

    config = config_for(demo, deadline=2.0)
    dead = type(config)(**{**config.__dict__, "base_url": f"http://127.0.0.1:{free_port()}"})
    async with Transport(dead) as transport:
        with pytest.raises(errors.Unavailable):
            await CometClient(transport, ApiKey("k")).get_workspaces()


async def distinct_calls(client: CometClient, n: int) -> list[object]:
    """n concurrent calls for n different resources (identical ones would share a flight)."""
    projects = await client.get_projects((await client.get_workspaces())[-1])
    keys = [e.experiment_key for e in await client.get_experiments(
        project_id=projects[0].project_id)][:n]
    return list(await asyncio.gather(*(client.get_tags(k) for k in keys)))


async def test_concurrency_is_capped_per_key(demo: DemoServer) -> None:
    async with Transport(config_for(demo, max_concurrency_per_key=2)) as transport:
        client = CometClient(transport, ApiKey(demo.keys["alice"]))
        other = CometClient(transport, ApiKey(demo.keys["bob"]))
        await asyncio.gather(distinct_calls(client, 1), distinct_calls(other, 1))
        demo.clear_log()
        demo.latency(100)
        await asyncio.gather(distinct_calls(client, 6), distinct_calls(other, 2))
    from demo_upstream.world import World

    world = World()
    spans = [(r["at"], r["ended"], world.workspace_of_experiment(r["params"]["experimentKey"]))
             for r in demo.requests() if r["endpoint"] == "experiment/tags"]

    def most_at_once(entries: list[tuple[float, float, str | None]]) -> int:
        return max(sum(1 for a, b, _ in entries if a <= t < b) for t, _, _ in entries)

    alice = [s for s in spans if s[2] == "vision-lab"]
    assert len(alice) == 6 and len(spans) == 8
    assert most_at_once(alice) == 2  # one key never has more than its cap in flight
    assert most_at_once(spans) >= 3  # while the other key's calls run beside them


async def test_concurrency_is_capped_globally(demo: DemoServer) -> None:
    async with Transport(config_for(demo, max_concurrency=3)) as transport:
        client = CometClient(transport, ApiKey(demo.keys["alice"]))
        await distinct_calls(client, 1)
        demo.clear_log()
        demo.latency(100)
        await distinct_calls(client, 9)
    spans = [(r["at"], r["ended"]) for r in demo.requests() if r["endpoint"] == "experiment/tags"]
    assert len(spans) == 9
    assert max(sum(1 for a, b in spans if a <= t < b) for t, _ in spans) == 3


async def test_identical_concurrent_calls_share_one_flight(demo: DemoServer) -> None:
    demo.latency(100)
    async with Transport(config_for(demo)) as transport:
        alice = CometClient(transport, ApiKey(demo.keys["alice"]))
        bob = CometClient(transport, ApiKey(demo.keys["bob"]))
        answers = await asyncio.gather(*(alice.get_workspaces() for _ in range(5)),
                                       *(bob.get_workspaces() for _ in range(5)))
    assert answers[:5] == [("alice", "vision-lab")] * 5
    assert answers[5:] == [("bob", "nlp-research")] * 5
    assert demo.counts() == {"GET workspaces": 2}  # one flight per key, never shared across


async def test_the_key_never_appears_in_errors_or_logs(demo: DemoServer,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    secret = demo.keys["alice"]
    caplog.set_level(logging.DEBUG)
    async with Transport(config_for(demo)) as transport:
        client = CometClient(transport, ApiKey(secret))
        key = await some_key(client)
        demo.fault(TAGS, "status", status=401,
                   body=json.dumps({"msg": f"key {secret} is revoked", "code": 401}), count=1)
        with pytest.raises(errors.Unauthenticated) as caught:
            await client.get_tags(key)
        demo.fault(TAGS, "status", status=503)
        with pytest.raises(errors.Unavailable) as unavailable:
            await client.get_tags(key)
    for exc in (caught.value, unavailable.value):
        assert secret not in str(exc) and secret not in repr(exc)
        assert secret not in repr(vars(exc))
    assert caught.value.msg == "key *** is revoked"
    assert "retrying tags" in caplog.text and secret not in caplog.text
    assert secret not in repr(client) and secret not in repr(ApiKey(secret))


def test_every_aiohttp_error_is_mapped() -> None:
    def subclasses(cls: type) -> set[type]:
        out = {cls}
        for sub in cls.__subclasses__():
            out |= subclasses(sub)
        return out

    lower = {c for c in subclasses(aiohttp.ClientError) if c.__module__.startswith("aiohttp")}
    assert len(lower) > 15
    for cls in lower | {TimeoutError, ConnectionResetError}:
        exc = cls.__new__(cls)
        with pytest.raises(errors.UpstreamError):
            with map_transport_errors("x"):
                raise exc


async def test_a_download_is_retried_before_its_first_byte(alice: CometClient,
                                                           demo: DemoServer) -> None:
    key = await some_key(alice)
    demo.fault("experiment/model/download", "status", status=502, count=1)
    async with alice.download_experiment_model(key, "classifier") as answer:
        assert (await answer.read()).startswith(b"PK")
    assert [r["status"] for r in calls(demo, "experiment/model/download")] == [502, 200]


async def test_a_download_cut_midway_fails_as_unavailable(alice: CometClient,
                                                          demo: DemoServer) -> None:
    key = await some_key(alice)
    demo.fault("experiment/model/download", "truncate")
    with pytest.raises(errors.Unavailable):
        async with alice.download_experiment_model(key, "classifier") as answer:
            await answer.read()


@pytest.mark.parametrize("date", ["Mon, 01 Jan 99999 00:00:00 GMT",  # mktime_tz: ValueError
                                  "Mon, 01 Jan 99999999999999 00:00:00 GMT",  # OverflowError
                                  "Mon, 01 Jan 2100 00:00:00 GMT"])
async def test_a_200_with_a_date_header_that_is_no_time_is_still_a_200(
        transport: Transport, alice: CometClient, demo: DemoServer, date: str) -> None:
    """Comet's clock is read from its answers' Date header (for how long an experiment has
    been ended): a header that is no time, or a plainly wrong one, is ignored, never an error."""
    demo.fault("*", "date", body=date)
    before = transport._lifetimes.states.upstream.millis() - time.time() * 1000
    assert await alice.get_workspaces() == ("alice", "vision-lab")
    after = transport._lifetimes.states.upstream.millis() - time.time() * 1000
    assert abs(after - before) < 2000  # the gateway's own clock still


async def test_a_date_from_a_redirect_off_comets_origin_is_not_comets_clock(
        demo: DemoServer) -> None:
    """Comet's clock is read from Comet's own answers only: a REST call redirected to another
    origin (here the demo as `localhost`, an origin the operator allows) whose clock is five
    minutes behind leaves the gateway's own clock in use; Comet's answer then is read."""
    port = urllib.parse.urlsplit(demo.url).port
    config = dataclasses.replace(config_for(demo), private_redirect_hosts=("localhost",))
    async with Transport(config) as transport:
        alice = CometClient(transport, ApiKey(demo.keys["alice"]))

        def offset() -> float:
            return transport._lifetimes.states.upstream.millis() / 1000 - time.time()

        demo.fault("workspaces", "redirect", status=307, count=1,
                   location=f"http://localhost:{port}/api/rest/v2/workspaces?hop=1")
        demo.fault("workspaces", "status", status=200, count=1,  # no key goes there: no 401
                   body=json.dumps({"workspaceNames": ["elsewhere"]}))
        demo.fault("workspaces", "date", skew=-300)
        assert await alice.get_workspaces() == ("elsewhere",)
        assert [r["raw"] for r in calls(demo, "workspaces")] == [
            "/api/rest/v2/workspaces", "/api/rest/v2/workspaces?hop=1"]
        assert abs(offset()) < 2
        assert await alice.get_workspaces() == ("alice", "vision-lab")  # Comet's: read
        assert abs(offset() + 300) < 2
