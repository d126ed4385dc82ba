"""ValueSizes: per API key, the caller's guess a floor, and timeouts raising the guess."""

from __future__ import annotations

from gateway.upstream.value_sizes import DEFAULT, TIMEOUTS_UNBATCHED, ValueSizes

ONE_COMMAND = 1 << 20


def key(owner: str, i: int = 0, endpoint: str = "get_asset_list") -> str:
    return f"cgw:v1:{owner}:{endpoint}:{i:064d}"


def test_one_keys_values_do_not_move_another_keys_guess() -> None:
    sizes = ValueSizes(ONE_COMMAND)
    sizes.saw(key("victim"), 1_900_000)
    for i in range(1000):  # small ones, then large ones: neither moves the victim's guess
        sizes.saw(key("other", i), 5)
    assert sizes.guess(key("victim")) == 1_900_000
    for i in range(1000):
        sizes.saw(key("other", i), 50_000_000)
    assert sizes.guess(key("victim")) == 1_900_000
    assert sizes.guess(key("newcomer")) == DEFAULT


def test_the_callers_guess_is_a_floor() -> None:
    sizes = ValueSizes(ONE_COMMAND)
    sizes.saw(key("a"), 2)
    assert sizes.guess(key("a"), 720_256) == 720_256
    sizes.saw(key("a", endpoint="output"), 900_000)
    assert sizes.guess(key("a", endpoint="output"), 10_000) == 900_000


def test_a_timed_out_command_halves_the_next_then_goes_one_key_at_a_time() -> None:
    sizes = ValueSizes(ONE_COMMAND)
    keys = [key("a", i) for i in range(100)]
    sizes.timed_out(keys)  # a kind never seen: guessed 4 KB, 100 to a command
    assert sizes.guess(keys[0]) == ONE_COMMAND // 50
    for _ in range(TIMEOUTS_UNBATCHED - 1):
        sizes.timed_out(keys[:50])
    assert sizes.guess(keys[0]) == ONE_COMMAND
    assert sizes.guess(key("b")) == DEFAULT  # another key's kind is not touched


def test_another_keys_kinds_do_not_evict_a_keys_sizes() -> None:
    sizes = ValueSizes(ONE_COMMAND)
    sizes.saw(key("victim"), 1_900_000)
    for i in range(10_000):  # every chart ask a kind of its own
        sizes.saw(f"cgw:v1:other:chart:{i:032x}:e:ended 1", 5)
    assert sizes.guess(key("victim")) == 1_900_000


def test_a_timed_out_command_of_several_keys_raises_no_guess() -> None:
    """A command of a victim's small values and another key's large ones timed out: whose
    were large is not known, so neither guess rises (the victim's would send its lookups one
    to a command for another key's values); the values read when they go again tell."""
    sizes = ValueSizes(ONE_COMMAND)
    sizes.saw(key("victim"), 1_000)
    for _ in range(TIMEOUTS_UNBATCHED):
        sizes.timed_out([key("victim", i) for i in range(50)] +
                        [key("other", i) for i in range(50)])
    assert sizes.guess(key("victim")) == 1_000
    assert sizes.guess(key("other")) == DEFAULT


def test_a_keys_many_chart_asks_do_not_push_its_endpoints_sizes_out() -> None:
    """A dashboard asks charts of many metric sets: they are one kind, so the key's
    endpoints' sizes stay known (as kinds of their own, 32 asks made every endpoint's
    guess 4 KB again)."""
    sizes = ValueSizes(ONE_COMMAND)
    sizes.saw(key("victim"), 1_900_000)
    for i in range(100):
        sizes.saw(f"cgw:v1:victim:chart:{i:032x}:e:ended 1", 50_000)
    assert sizes.guess(key("victim")) == 1_900_000
    assert sizes.guess("cgw:v1:victim:chart:new-ask:e:ended 1") >= 50_000
