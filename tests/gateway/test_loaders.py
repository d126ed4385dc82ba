"""The loaders' cost in tasks, and fields over data at hand completed without awaiting."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Generator
from typing import Any, TypeVar

import pytest
import strawberry
from aiodataloader import DataLoader
from strawberry.schema.config import StrawberryConfig

from gateway.context import Context
from gateway.dataloader import Abandoned, Loader, each, tracked
from gateway.loaders import Loaders
from gateway.schema.experiment import Experiment
from gateway.schema.panel import Panel
from gateway.schema.project import Project
from gateway.schema.registry import RegistryModel
from gateway.schema.scalars import SCALARS
from gateway.settings import Settings
from gateway.upstream import ApiKey, CometClient, Transport, errors
from gateway.upstream.admission import Admission
from tests.demo_server import DemoServer
from tests.gateway_server import GatewayServer

WS, PROJECT = "vision-lab", "image-classifier"


@pytest.fixture
async def client(demo: DemoServer) -> AsyncIterator[CometClient]:
    async with Transport(Settings(upstream_url=demo.url).upstream()) as transport:
        yield CometClient(transport, ApiKey(demo.keys["alice"]))


async def tasks_made(work: Callable[[], Awaitable[Any]]) -> int:
    """How many tasks the event loop creates while `work` runs."""
    loop = asyncio.get_running_loop()
    made = 0

    def factory(loop: asyncio.AbstractEventLoop,
                coro: Generator[Any, None, Any] | Coroutine[Any, Any, Any],
                **options: Any) -> asyncio.Task[Any]:
        nonlocal made
        made += 1
        return asyncio.Task(coro, loop=loop, **options)

    loop.set_task_factory(factory)
    try:
        await work()
    finally:
        loop.set_task_factory(None)
    return made


async def test_a_loader_adds_one_task_per_key_in_flight_and_none_for_a_single_key(
        client: CometClient, demo: DemoServer) -> None:
    listing = await client.get_experiments(workspace=WS, project_name=PROJECT)
    keys = [e.experiment_key for e in listing[:20]]

    async def by_hand() -> None:  # what the upstream calls cost in tasks, without a loader
        await asyncio.gather(*(client.get_tags(k) for k in keys))

    found: list[tuple[str, ...] | None] = []

    async def loaded() -> None:
        found.extend(await Loaders(client, 100).tags.load_many(keys))

    async def one_by_hand() -> None:
        await client.get_tags(keys[0])

    async def one_loaded() -> None:
        await Loaders(client, 100).tags.load(keys[0])

    dispatch = 2  # aiodataloader's, per batch: scheduling it, running it
    # Running the calls together takes one task each, as a gather by hand does; nothing more.
    assert await tasks_made(loaded) - await tasks_made(by_hand) == dispatch
    assert await tasks_made(one_loaded) - await tasks_made(one_by_hand) == dispatch
    assert found == [await client.get_tags(k) for k in keys]
    assert demo.counts()["GET experiment/tags"] == 3 * len(keys) + 2


async def test_fields_over_data_at_hand_complete_without_awaiting(client: CometClient) -> None:
    """A listed experiment's metadata, a panel fetched by id and a registry model with its
    versions are read, not awaited: the whole answer completes synchronously."""
    listing = await client.get_experiments(workspace=WS, project_name=PROJECT)
    meta = next(e for e in listing if e.workspace_name and e.experiment_name)
    project = Project.of(await client.get_project(workspace=WS, project_name=PROJECT))
    panel = await client.get_panel((await client.get_panels(WS))[0].template_id)
    model = await client.get_registry_model_details(
        WS, (await client.get_registry_models(WS))[0].model_name)
    assert model.versions

    @strawberry.type
    class Root:
        experiment: Experiment
        panel: Panel
        model: RegistryModel

    schema = strawberry.Schema(query=Root, config=StrawberryConfig(scalar_map=SCALARS))
    settings = Settings(upstream_url="http://unused")
    context = Context(client=client, loaders=Loaders(client, 100), settings=settings,
                      request_id="test", base_url="http://gateway/")
    result = schema.execute_sync(
        """{ experiment { name optimizationId startTime endTime durationMillis archived running
                          hasCrashed fileName filePath workspace { name } project { name }
                          optimizer { id } }
             panel { code { code } editable voteCount userVoteType thumbnailName }
             model { versions { version } latestVersion { version } version(version: "1.0.0") {
                     version } } }""",
        root_value=Root(experiment=Experiment.of(meta, parent=project),
                        panel=Panel.of_summary(panel),
                        model=RegistryModel.of(model, WS)),
        context_value=context)
    assert result.errors is None
    assert result.data is not None
    experiment = result.data["experiment"]
    assert experiment["name"] == meta.experiment_name
    assert experiment["workspace"] == {"name": meta.workspace_name}
    assert experiment["project"] == {"name": PROJECT}
    assert experiment["archived"] == meta.archived
    assert result.data["panel"]["editable"] == panel.editable
    assert [v["version"] for v in result.data["model"]["versions"]] == [
        v.version for v in model.versions]


def test_a_request_lets_go_of_what_it_loaded_once_answered(gateway: GatewayServer) -> None:
    """What a request loaded goes when its answer is sent, not when the (rare) cyclic
    collection comes: with the collector off, no loader still holds a value."""
    query = """{ project(workspace: "alice", name: "sandbox") { experiments(first: 5) {
                 edges { node { name tags parameters { name } } } } } }"""
    gc.collect()
    gc.disable()
    try:
        assert "errors" not in gateway.post(query)
        holding = [o for o in gc.get_objects() if isinstance(o, DataLoader) and o._cache]
        alive = [o for o in gc.get_objects() if isinstance(o, Loader)]
    finally:
        gc.enable()
    assert holding == []
    assert alive == []  # gone by reference counting: no cycle left for the collector
    # (the emptied `Loaders` may stay with the request's context, which graphql-core's
    # execution keeps in cycles of its own)


async def test_a_batch_of_many_keys_begins_its_calls_as_the_gate_allows() -> None:
    """2,500 keys in one tick were 2,500 calls waiting at once, 13 KB each (see
    `upstream.admission`): a key's calls are begun `size` at a time, in key order, each key's
    outcome its own."""
    admission = Admission(5)
    running, most = 0, 0
    begun: list[int] = []

    async def fetch(key: int) -> int:
        nonlocal running, most
        begun.append(key)
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.001 * (key % 3))
        running -= 1
        if key == 7:
            raise errors.Unavailable("no")
        if key == 8:
            raise errors.NotFound("gone")
        return key * 10

    loader: Loader[int, int] = Loader(each(fetch, admission.gate(ApiKey("k"))))
    async with asyncio.timeout(30):  # room never given back would wait for ever
        values = await asyncio.gather(*(loader.load(k) for k in range(50)),
                                      return_exceptions=True)
    assert most == 5 and begun == list(range(50))
    assert isinstance(values[7], errors.Unavailable) and values[8] is None
    assert [v for k, v in enumerate(values) if k not in (7, 8)] == [
        k * 10 for k in range(50) if k not in (7, 8)]
    assert not admission._keys  # every call's room given back


K = TypeVar("K")


def slow(started: asyncio.Event, cancelled: list[K]) -> Callable[[K], Awaitable[K]]:
    """A fetch that says it started, then waits ten seconds; its cancelled keys noted."""
    async def fetch(key: K) -> K:
        started.set()
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append(key)
            raise
        return key

    return fetch


async def test_a_cancelled_batch_cancels_its_calls_and_gives_their_room_back() -> None:
    admission = Admission(3)
    started = asyncio.Event()
    cancelled: list[int] = []
    fetch = slow(started, cancelled)

    batch = asyncio.ensure_future(each(fetch, admission.gate(ApiKey("k")))(list(range(10))))
    await started.wait()
    await asyncio.sleep(0)
    batch.cancel()
    await asyncio.gather(batch, return_exceptions=True)
    await asyncio.sleep(0)  # the calls' callbacks
    assert sorted(cancelled) == [0, 1, 2] and not admission._keys


async def test_a_stopped_batch_fails_its_keys_and_its_calls_stop() -> None:
    """`Loaders.cancel` (an answer in parts its client left) stops the batches still loading:
    their calls are cancelled, and every key's future fails, so that nothing that still
    awaits one (graphql-core settles some work in the background) waits forever."""
    loading: set[asyncio.Task[Any]] = set()
    started = asyncio.Event()
    cancelled: list[str] = []
    fetch = slow(started, cancelled)

    loader: Loader[str, str] = Loader(each(fetch), "slow", tracked(loading, None))
    futures = [loader.load("a"), loader.load("b")]
    await started.wait()
    assert len(loading) == 1
    for task in loading:
        task.cancel()
    outcomes = await asyncio.wait_for(asyncio.gather(*futures, return_exceptions=True), 5)
    assert [type(o) for o in outcomes] == [Abandoned, Abandoned]
    assert sorted(cancelled) == ["a", "b"] and not loading
