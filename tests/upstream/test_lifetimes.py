"""How long each answer is cached: by endpoint, and by the state its experiment was last seen in."""

from __future__ import annotations

import email.utils
import logging
import time

import pytest

from gateway.upstream import ApiKey
from gateway.upstream import endpoints as ep
from gateway.upstream.lifetimes import (
    MAX_SKEW,
    ExperimentStates,
    Kept,
    Lifetimes,
    TimesToLive,
    UpstreamTime,
)
from gateway.upstream.models import ExperimentMetadata

ALICE, BOB = ApiKey("alice-key"), ApiKey("bob-key")
TTLS = TimesToLive(ended=1000, running=5, state=10, families={"project": 30})


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def meta(key: str, end: int | None = 100, running: bool | None = False) -> ExperimentMetadata:
    return ExperimentMetadata(experiment_key=key, end_time_millis=end, running=running)


def test_an_experiment_is_ended_only_when_it_says_so_with_an_end_time() -> None:
    states = ExperimentStates(100, trust=10)
    states.saw(ALICE, [meta("ended"), meta("running", running=True), meta("endless", None),
                       meta("unsaid", running=None)])
    assert states.ended_at(ALICE, "ended") == 100
    assert states.ended_at(ALICE, "unsaid") == 100  # no running flag: its end time tells
    assert states.ended_at(ALICE, "running") is None
    assert states.ended_at(ALICE, "endless") is None
    assert states.ended_at(ALICE, "never seen") is None


def test_states_are_per_key() -> None:
    states = ExperimentStates(100, trust=10)
    states.saw(ALICE, [meta("e")])
    assert states.ended_at(ALICE, "e") == 100 and states.ended_at(BOB, "e") is None


def test_a_state_is_trusted_for_a_while_after_it_was_last_seen() -> None:
    clock = Clock()
    states = ExperimentStates(100, trust=10, clock=clock)
    states.saw(ALICE, [meta("e")])
    clock.now = 9
    states.saw(ALICE, [meta("e")])  # seen again: trusted anew
    clock.now = 18
    assert states.ended_at(ALICE, "e") == 100
    clock.now = 19.5
    assert states.ended_at(ALICE, "e") is None


def test_the_states_remembered_are_bounded_least_recently_seen_first_out() -> None:
    states = ExperimentStates(3, trust=10)
    states.saw(ALICE, [meta("a"), meta("b"), meta("c")])
    states.saw(ALICE, [meta("a")])  # seen again: now the most recent
    states.saw(BOB, [meta("a")])
    assert len(states) == 3
    assert states.ended_at(ALICE, "b") is None  # forgotten: unknown, so running
    assert states.ended_at(ALICE, "a") == states.ended_at(ALICE, "c") == 100


def test_each_endpoint_lives_by_what_it_is_about() -> None:
    lifetimes = Lifetimes(TTLS, max_states=100)
    lifetimes.states.saw(ALICE, [meta("done", end=42)])
    assert lifetimes.of(ep.PROJECT_NOTES, ALICE, None) == Kept(30)
    assert lifetimes.of(ep.PANELS, ALICE, None) is None  # no time for its family: not cached
    assert lifetimes.of(ep.EXPERIMENTS, ALICE, None) == Kept(10)
    assert lifetimes.of(ep.EXPERIMENT_METADATA, ALICE, "done") == Kept(10)
    assert lifetimes.of(ep.TAGS, ALICE, "done") is None  # a family's ("experiment": unset)
    assert lifetimes.of(ep.METRICS_SUMMARY, ALICE, "done") == Kept(1000, "ended 42")
    assert lifetimes.of(ep.METRICS_SUMMARY, ALICE, "other") == Kept(5, "running")
    assert lifetimes.of(ep.METRICS_SUMMARY, BOB, "done") == Kept(5, "running")
    assert lifetimes.of(ep.MULTI_METRIC_CHART, ALICE, None) is None  # kept per experiment


def test_one_key_cannot_push_another_keys_states_out() -> None:
    states = ExperimentStates(10, trust=10, key_share=0.5)
    states.saw(ALICE, [meta("a"), meta("b")])
    states.saw(BOB, [meta(f"e{i}") for i in range(100)])  # far more than his share
    assert states.ended_at(ALICE, "a") == states.ended_at(ALICE, "b") == 100
    assert len(states) == 2 + 5  # bob's five most recent
    assert [states.ended_at(BOB, f"e{i}") for i in (94, 95, 99)] == [None, 100, 100]
    states.saw(ALICE, [meta(f"f{i}") for i in range(4)])  # alice's share: her oldest go
    assert states.ended_at(ALICE, "a") is None
    assert states.ended_at(ALICE, "b") == states.ended_at(ALICE, "f3") == 100
    assert states.ended_at(BOB, "e99") == 100 and len(states) == 10


def test_when_all_states_are_taken_the_key_holding_the_most_loses_its_oldest() -> None:
    """Two keys, each within its half, see new experiments in turn: the victim's four states
    stay, the largest holder's least recently seen go (before, the globally least recently
    seen went: the victim's, all four)."""
    states = ExperimentStates(12, trust=10, key_share=0.5)
    states.saw(ALICE, [meta(f"a{i}") for i in range(4)])
    mallory, trudy = ApiKey("mallory-key"), ApiKey("trudy-key")
    for i in range(100):
        states.saw(mallory, [meta(f"m{i}")])
        states.saw(trudy, [meta(f"t{i}")])
    assert [states.ended_at(ALICE, f"a{i}") for i in range(4)] == [100] * 4
    assert len(states) == 12
    assert [states.ended_at(mallory, f"m{i}") for i in (95, 96, 99)] == [None, 100, 100]
    assert [states.ended_at(trudy, f"t{i}") for i in (95, 96, 99)] == [None, 100, 100]


def test_the_settling_is_timed_by_the_upstreams_clock_not_the_gateways() -> None:
    wall = Clock()
    wall.now = 1_700_000_000.0  # the gateway's clock: five minutes ahead of Comet's
    comet = UpstreamTime(wall)
    comet.heard(email.utils.formatdate(wall.now - 300, usegmt=True))
    assert abs(comet.millis() - (wall.now - 300) * 1000) <= 1000
    states = ExperimentStates(100, trust=10, settle=60, upstream=comet)
    just = int((wall.now - 300 - 30) * 1000)  # ended 30 s ago, by Comet's clock
    states.saw(ALICE, [meta("just", end=just), meta("long", end=just - 60_000)])
    assert states.ended_at(ALICE, "just") is None  # still settling: running
    assert states.ended_at(ALICE, "long") == just - 60_000
    comet.heard("not a date")  # a header it cannot read leaves the offset as it was
    wall.now += 1.5
    assert abs(comet.millis() - (wall.now - 300) * 1000) <= 1000


def test_a_date_far_off_the_gateways_clock_is_not_believed(caplog: pytest.LogCaptureFixture
                                                           ) -> None:
    """A caching proxy's old Date (or a clock in 2100) would make every ended experiment count
    as running (or none settle): past an hour off, the gateway's clock is used, said once."""
    wall, ticks = Clock(), Clock()
    wall.now = 1_700_000_000.0
    comet = UpstreamTime(wall, ticks)
    comet.heard(email.utils.formatdate(wall.now - 120, usegmt=True))
    assert abs(comet.millis() - (wall.now - 120) * 1000) <= 1000
    for off in (-MAX_SKEW - 60, MAX_SKEW + 60, -30 * 365 * 86_400):
        ticks.now += 1.5
        with caplog.at_level(logging.WARNING, "gateway.cache"):
            comet.heard(email.utils.formatdate(wall.now + off, usegmt=True))
        assert abs(comet.millis() - wall.now * 1000) <= 1000
    assert len([r for r in caplog.records if "Date header" in r.message]) == 1


def test_the_date_is_read_once_a_second_by_the_monotonic_clock() -> None:
    """The wall clock may step back (NTP): the once-a-second limit is not held up by it."""
    wall, ticks = Clock(), Clock()
    wall.now = 1_700_000_000.0
    comet = UpstreamTime(wall, ticks)
    comet.heard(email.utils.formatdate(wall.now - 100, usegmt=True))
    wall.now -= 3600  # stepped back an hour
    ticks.now += 1.5
    comet.heard(email.utils.formatdate(wall.now - 200, usegmt=True))
    assert abs(comet.millis() - (wall.now - 200) * 1000) <= 1000
    comet.heard(email.utils.formatdate(wall.now - 10, usegmt=True))  # within the second
    assert abs(comet.millis() - (wall.now - 200) * 1000) <= 1000


def test_a_fair_eviction_among_thousands_of_keys_costs_little_cpu() -> None:
    """5,000 keys with a state each, then one key seeing thousands: each state over the bound
    evicts the largest holder's oldest in O(log keys), not a scan of every key (~1 s of CPU
    here with a scan)."""
    states = ExperimentStates(10_000, trust=10, key_share=0.9)
    for k in range(5_000):
        states.saw(ApiKey(f"key-{k:05d}"), [meta("e0")])
    big = ApiKey("the-dashboard")
    states.saw(big, [meta(f"e{i}") for i in range(5_000)])
    cpu = time.process_time()
    for i in range(5_000, 9_000):
        states.saw(big, [meta(f"e{i}")])
    assert time.process_time() - cpu < 0.3  # generous: ~0.02 s
    assert states.ended_at(ApiKey("key-00000"), "e0") == 100
