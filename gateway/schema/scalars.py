"""The schema's scalars: `DateTime` (ISO-8601, UTC) and `Long` (a number beyond 32 bits).

Fields are annotated `datetime` and `Long`; `SCALARS` maps those types onto their GraphQL
definitions (strawberry's `scalar_map`).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, NewType

import strawberry
from strawberry.scalars import JSON
from strawberry.types.scalar import ScalarDefinition

__all__ = ["JSON", "SCALARS", "Long", "from_millis"]

if TYPE_CHECKING:
    Long = int  # to type checkers, a Long is an int
else:
    Long = NewType("Long", int)


def _serialize_datetime(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse_datetime(value: object) -> dt.datetime:
    if not isinstance(value, str):
        raise ValueError("DateTime must be an ISO-8601 string")
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _parse_long(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError("Long must be an integer")
    return int(value)


SCALARS: dict[object, ScalarDefinition] = {
    dt.datetime: strawberry.scalar(
        name="DateTime",
        description="An instant, as an ISO-8601 string in UTC (from Comet's epoch milliseconds).",
        serialize=_serialize_datetime, parse_value=_parse_datetime),
    Long: strawberry.scalar(
        name="Long",
        description="An integer that may exceed 32 bits (steps, timestamps, sizes), as a JSON "
                    "number.",
        serialize=int, parse_value=_parse_long),
}


def from_millis(value: int | None) -> dt.datetime | None:
    if value is None:
        return None
    return dt.datetime.fromtimestamp(value / 1000, tz=dt.UTC)
