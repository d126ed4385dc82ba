"""The transport's rules against a misbehaving upstream (faults injected into the demo):
retries spent from the budget, what a 404 means, redirects, download slots, the probe."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Iterator

import pytest

from gateway.upstream import ApiKey, Budget, CometClient, Download, Transport, errors
from gateway.upstream.mapping import retry_after_seconds
from gateway.upstream.recent_keys import REFUSED_FOR
from tests import demo_server
from tests.demo_server import DemoServer, free_port
from tests.upstream.conftest import config_for
from tests.upstream.test_faults import TAGS, Ceiling, calls, some_key

HTML = "<html><body><h1>Not Found</h1></body></html>"


@pytest.mark.parametrize("kind", ["reset", "status"])
async def test_retries_are_spent_from_the_budget(demo: DemoServer, kind: str) -> None:
    async with Transport(config_for(demo)) as transport:
        setup = CometClient(transport, ApiKey(demo.keys["alice"]))
        keys = [e.experiment_key for e in await setup.get_experiments(
            "vision-lab", "image-classifier")][:5]
        demo.clear_log()
        demo.fault(TAGS, kind, status=500)
        budget = Budget(8)
        client = CometClient(transport, ApiKey(demo.keys["alice"]), budget=budget)
        answers = await asyncio.gather(*(client.get_tags(k) for k in keys),
                                       return_exceptions=True)
    assert all(isinstance(a, errors.Unavailable) for a in answers)
    assert len(calls(demo)) == budget.spent == 8  # 5 calls and 3 retries, not 5 x 4


async def test_a_retry_after_of_zero_is_a_backoff(demo: DemoServer,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "gateway.upstream")
    config = config_for(demo, backoff_base=0.05, backoff_max=0.05)
    async with Transport(config, rng=Ceiling()) as transport:
        client = CometClient(transport, ApiKey(demo.keys["alice"]))
        key = await some_key(client)
        demo.fault(TAGS, "status", status=429, retry_after="0", count=2)
        assert isinstance(await client.get_tags(key), tuple)
    waits = [r.getMessage() for r in caplog.records if r.getMessage().startswith("retrying")]
    assert waits == ["retrying tags in 0.05s (retry 1)", "retrying tags in 0.05s (retry 2)"]


async def test_what_a_404_means(alice: CometClient, demo: DemoServer) -> None:
    key = await some_key(alice)
    demo.fault(TAGS, "status", status=404, count=1)  # Comet's own: no such experiment
    with pytest.raises(errors.NotFound):
        await alice.get_tags(key)
    demo.fault(TAGS, "status", status=404, count=1, body=HTML, content_type="text/html")
    with pytest.raises(errors.BadResponse) as html:
        await alice.get_tags(key)
    assert html.value.status == 404
    demo.fault(TAGS, "status", status=400, count=1)  # Comet's unknown key
    with pytest.raises(errors.NotFound):
        await alice.get_tags(key)
    for listing in ("workspaces", "account-details"):
        demo.fault(listing, "status", status=404, count=1)
    with pytest.raises(errors.BadResponse):
        await alice.get_workspaces()
    with pytest.raises(errors.BadResponse):
        await alice.get_account_details()


async def test_a_redirect_from_a_rest_call_is_followed_by_the_same_rules(
        alice: CometClient, demo: DemoServer) -> None:
    demo.fault("workspaces", "redirect", status=302, count=1)  # no Location
    with pytest.raises(errors.BadResponse):
        await alice.get_workspaces()
    demo.fault("workspaces", "redirect", status=307, count=1,
               location=f"http://127.0.0.1:{free_port()}/elsewhere")
    with pytest.raises(errors.BadResponse):
        await alice.get_workspaces()
    demo.fault("workspaces", "redirect", status=308, count=1,
               location=f"{demo.url}/api/rest/v2/workspaces?moved=1")  # home: followed
    assert await alice.get_workspaces() == ("alice", "vision-lab")
    assert [r["raw"] for r in calls(demo, "workspaces")] == [
        "/api/rest/v2/workspaces"] * 3 + ["/api/rest/v2/workspaces?moved=1"]


async def test_a_bad_path_parameter_is_not_sent(alice: CometClient, demo: DemoServer) -> None:
    for template_id in ("..", ".", ""):
        with pytest.raises(errors.BadRequest):
            async with alice.download_panel(template_id):
                pass
    assert demo.requests() == []


async def test_downloads_never_take_the_slots_queries_need(demo: DemoServer) -> None:
    config = config_for(demo, max_concurrency_per_key=1, max_concurrency=1,
                        max_downloads_per_key=1, max_downloads=1)
    async with Transport(config) as transport:
        client = CometClient(transport, ApiKey(demo.keys["alice"]))
        key = await some_key(client)
        async with client.download_experiment_model(key, "classifier"):  # held, unread
            assert isinstance(await asyncio.wait_for(client.get_tags(key), 10), tuple)


async def test_waiting_for_a_download_slot_is_bounded(demo: DemoServer) -> None:
    config = config_for(demo, max_downloads_per_key=1, deadline=0.5, max_retries=0)
    async with Transport(config) as transport:
        client = CometClient(transport, ApiKey(demo.keys["alice"]))
        key = await some_key(client)
        async with client.download_experiment_model(key, "classifier"):

            async def second() -> None:
                async with client.download_experiment_model(key, "classifier"):
                    pass

            with pytest.raises(errors.Timeout):
                await asyncio.wait_for(second(), 10)  # an unbounded wait fails here instead


async def test_the_probe_knows_comet_from_anything_else(demo: DemoServer) -> None:
    async with Transport(config_for(demo)) as transport:
        assert await transport.probe() == "3.58.0"
    for upstream in (f"{demo.url}/api/rest/v2/nothing", f"{demo.url}/_demo"):
        async with Transport(dataclasses.replace(config_for(demo),
                                                 base_url=upstream)) as transport:
            with pytest.raises(errors.BadResponse):
                await transport.probe()


@pytest.fixture(scope="module")
def prefixed() -> Iterator[DemoServer]:
    server = demo_server.start(prefix="/comet/v1")
    yield server
    server.stop()


async def test_comet_under_a_path_prefix(prefixed: DemoServer) -> None:
    prefixed.reset()
    async with Transport(config_for(prefixed)) as transport:
        client = CometClient(transport, ApiKey(prefixed.keys["alice"]))
        assert await client.get_workspaces() == ("alice", "vision-lab")
        assert await transport.probe() == "3.58.0"
        assert prefixed.counts() == {"GET workspaces": 1} and prefixed.probes() == 1
        assert [r["raw"] for r in prefixed.requests()] == ["/comet/v1/api/rest/v2/workspaces"]
        key = await some_key(client)
        image = (await client.get_asset_list(key, "image"))[0]
        async with client.get_asset(key, image.asset_id) as answer:  # redirected under /comet/v1
            assert isinstance(answer, Download) and (await answer.read()).startswith(b"\x89PNG")


def test_a_retry_after_that_is_no_number_is_ignored() -> None:
    for value in ("inf", "-inf", "1e400", "nan"):
        assert retry_after_seconds(value) is None, value
    assert retry_after_seconds("2.5") == 2.5 and retry_after_seconds("-3") == 0.0


async def test_a_key_refused_here_is_asked_again_once_the_refusal_ends(demo: DemoServer) -> None:
    """A key Comet refused (never accepted) is refused here for REFUSED_FOR without asking; a
    client polling meanwhile must not prolong that, or a key restored by Comet stays locked out."""
    now = [1000.0]
    bob = ApiKey(demo.keys["bob"])
    async with Transport(config_for(demo), clock=lambda: now[0]) as transport:
        client = CometClient(transport, bob)
        demo.revoke(demo.keys["bob"])
        with pytest.raises(errors.Unauthenticated):
            await client.get_workspaces()
        demo.restore_keys()
        for _ in range(4):  # polled every 2 s: refused here, Comet not asked
            now[0] += 2
            with pytest.raises(errors.Unauthenticated):
                await client.get_workspaces()
        assert sum(demo.counts().values()) == 1
        now[0] = 1000.0 + REFUSED_FOR + 1  # past the refusal, counted from Comet's own 401
        assert await client.get_workspaces() == ("bob", "nlp-research")
