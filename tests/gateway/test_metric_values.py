"""A series' values read in one pass are exactly what reading them one by one gives."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.schema.metrics import floats, number, numbers, text, texts

SERIES: list[list[Any]] = [
    ["0.5", "0.25", "1e-3", " 2 ", "1_000"],  # Comet's text: what float() reads
    ["0.5", "NaN", "Infinity", "-Infinity", "diverged", None],
    ["0.5", "NaN", "Infinity", "-Infinity"],  # each a float, not each a finite one
    ["1e308", "1e308"],  # finite each, infinite in sum
    ["1e400"],  # text beyond a float
    [0.5, 3, 2**63 - 1, None],  # JSON numbers
    ["7", 7, 7.5],
    [],
]


@pytest.mark.parametrize("values", SERIES)
def test_a_series_reads_as_its_values_one_by_one(values: list[Any]) -> None:
    read = floats(values)
    assert read == [number(v) for v in values]
    assert [type(v) for v in read] == [type(number(v)) for v in values]  # 3.0, not 3
    assert texts(values) == [text(v) for v in values]


def test_a_series_of_plain_numbers_reads_as_floats() -> None:
    """A Float list holds floats: integers read as `number` reads them (3.0, and 2**53 + 1 as
    the float nearest it), floats as they are."""
    assert numbers([1, 2.5, None]) == [1.0, 2.5, None]
    assert [type(v) for v in numbers([1, 2.5])] == [float, float]
    assert numbers([2**53 + 1]) == [number(2**53 + 1)] == [9007199254740992.0]
    assert numbers(["1", 2]) == [1.0, 2.0]
