"""LookupBatches' fairness between API keys: each key's lookups in a queue of its own, served in
turn (several keys' in one command); a cap on what one key has under way; a lookup given up
stops counting and is never sent. The commands go to a recording fetch (the batches' own seam),
one connection at a time, so that positions, not times, are what is asserted."""

from __future__ import annotations

import asyncio

from gateway.upstream.lookup_batches import (
    KEY_SHARE,
    MGET_BYTES,
    MGET_KEYS,
    SLOW,
    Answer,
    LookupBatches,
)

PATIENT = 60.0


def owner(key: str) -> str:
    return key.split(":")[0]


class Recorded:
    """The commands sent, in order; each answered when `gate` is set (at once by default)."""

    def __init__(self) -> None:
        self.commands: list[list[str]] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def __call__(self, keys: list[str]) -> list[bytes | None]:
        self.commands.append(keys)
        await self.gate.wait()
        return [k.encode() for k in keys]


async def test_a_keys_lookups_are_served_in_turn_with_another_keys_thousands() -> None:
    fetch = Recorded()
    batches = LookupBatches(fetch, in_flight=1, wait=PATIENT, owner_of=owner)
    try:
        attacker = [asyncio.ensure_future(batches.get_many([f"mallory:{i}" for i in range(
            j, j + 100)])) for j in range(0, 3_000, 100)]
        await asyncio.sleep(0)
        victim = await batches.get_many(["alice:dashboard"])
        assert victim == [b"alice:dashboard"]
        where = next(i for i, c in enumerate(fetch.commands) if "alice:dashboard" in c)
        assert where <= 1  # the next command after the one under way, not the 24th
        await asyncio.gather(*attacker)
        assert sum(len(c) for c in fetch.commands) == 3_001
        assert max(len(c) for c in fetch.commands) <= MGET_KEYS
    finally:
        await batches.close()


async def test_one_key_has_at_most_its_share_of_the_lookups_under_way() -> None:
    fetch = Recorded()
    fetch.gate.clear()
    batches = LookupBatches(fetch, in_flight=1, wait=PATIENT, max_waiting=400,
                            owner_of=owner)
    try:
        share = 400 // KEY_SHARE
        held = asyncio.ensure_future(batches.get_many([f"mallory:{i}" for i in range(share)]))
        await asyncio.sleep(0)
        assert await batches.get_many(["mallory:one-more"]) == [None]  # at once: past its share
        victim = asyncio.ensure_future(batches.get_many(["alice:dashboard"]))
        await asyncio.sleep(0)
        fetch.gate.set()
        assert await victim == [b"alice:dashboard"]
        await held
        assert not any("mallory:one-more" in c for c in fetch.commands)
    finally:
        await batches.close()


async def test_a_lookup_given_up_stops_counting_and_is_never_sent() -> None:
    fetch = Recorded()
    fetch.gate.clear()
    batches = LookupBatches(fetch, in_flight=1, wait=PATIENT, max_waiting=400,
                            owner_of=owner)
    try:
        first = asyncio.ensure_future(batches.get_many(["alice:first"]))
        await asyncio.sleep(0)
        await asyncio.sleep(0)  # its command is under way, and holds the one connection
        share = 400 // KEY_SHARE
        # Fewer than would compact the queue (`_given_up`): they are skipped when reached.
        given_up = [asyncio.ensure_future(batches.get_many([f"alice:gone{i}"]))
                    for i in range(10)]
        await asyncio.sleep(0)
        for task in given_up:  # their requests went away (a disconnect)
            task.cancel()
        await asyncio.gather(*given_up, return_exceptions=True)
        later = asyncio.ensure_future(batches.get_many([f"alice:later{i}" for i in range(
            share - 1)]))
        await asyncio.sleep(0)
        fetch.gate.set()
        assert await first == [b"alice:first"]
        assert await later == [f"alice:later{i}".encode() for i in range(share - 1)]
        assert not any(k.startswith("alice:gone") for c in fetch.commands for k in c)
    finally:
        await batches.close()


async def test_a_slow_command_of_several_keys_sends_them_again_alone() -> None:
    """A command of several keys that timed out (their values larger than guessed): each key
    goes again in a command of its own, within the lookups' wait, and hits."""
    commands: list[list[str]] = []

    async def fetch(keys: list[str]) -> Answer:
        commands.append(keys)
        return SLOW if len(keys) > 1 else [k.encode() for k in keys]

    batches = LookupBatches(fetch, in_flight=4, wait=PATIENT, owner_of=owner)
    try:
        keys = [f"alice:{i}" for i in range(10)]
        assert await batches.get_many(keys) == [k.encode() for k in keys]
        assert commands[0] == keys
        assert sorted(map(tuple, commands[1:])) == sorted((k,) for k in keys)
    finally:
        await batches.close()


async def test_a_slow_command_of_several_owners_goes_again_per_owner() -> None:
    """A command holding two keys' lookups timed out: whose values were large is not known,
    so each owner's keys go again as one command of their own (the small-valued owner's all
    in one, hitting), not a command per key."""
    commands: list[list[str]] = []

    async def fetch(keys: list[str]) -> Answer:
        commands.append(keys)
        return SLOW if len({owner(k) for k in keys}) > 1 else [k.encode() for k in keys]

    batches = LookupBatches(fetch, in_flight=4, wait=PATIENT, owner_of=owner)
    try:
        alice = [f"alice:{i}" for i in range(5)]
        bob = [f"bob:{i}" for i in range(5)]
        found = await asyncio.gather(batches.get_many(alice), batches.get_many(bob))
        assert found == [[k.encode() for k in alice], [k.encode() for k in bob]]
        assert len({owner(k) for k in commands[0]}) == 2
        assert sorted(map(sorted, commands[1:])) == [sorted(alice), sorted(bob)]
    finally:
        await batches.close()


async def test_ten_thousand_keys_single_lookups_share_commands() -> None:
    """10,000 API keys asking one lookup each, at once: commands of `MGET_KEYS` keys taken
    from the owners in turn (about 79), not one command per key."""
    fetch = Recorded()
    batches = LookupBatches(fetch, in_flight=1, wait=PATIENT, owner_of=owner)
    try:
        found = await asyncio.gather(*(batches.get_many([f"key{i}:dashboard"])
                                       for i in range(10_000)))
        assert found == [[f"key{i}:dashboard".encode()] for i in range(10_000)]
        assert len(fetch.commands) == -(-10_000 // MGET_KEYS)
    finally:
        await batches.close()


async def test_a_key_whose_next_value_does_not_fit_is_passed_over_not_the_end() -> None:
    """One key's values expected at half a command each, asked between two others' small
    ones: the command carries every small lookup, and the large value that does not fit goes
    first in the next, rather than every command ending at it after a key each."""
    fetch = Recorded()
    batches = LookupBatches(fetch, in_flight=1, wait=PATIENT, owner_of=owner)
    try:
        alice = asyncio.ensure_future(batches.get_many([f"alice:{i}" for i in range(20)]))
        big = asyncio.ensure_future(batches.get_many(["big:0", "big:1"], MGET_BYTES // 2))
        bob = asyncio.ensure_future(batches.get_many([f"bob:{i}" for i in range(20)]))
        await asyncio.gather(alice, big, bob)
        assert len(fetch.commands) == 2
        assert sorted(fetch.commands[0]) == sorted(
            [f"alice:{i}" for i in range(20)] + [f"bob:{i}" for i in range(20)] + ["big:0"])
        assert fetch.commands[1] == ["big:1"]
    finally:
        await batches.close()
