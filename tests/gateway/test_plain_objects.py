"""Lists of plain objects (metric points) are completed in one pass, without a field executed
per point, and answer exactly what graphql-core's field-by-field completion answers: values,
errors and the answer-size bound."""

from __future__ import annotations

import datetime as dt
import enum
import math
from types import SimpleNamespace
from typing import Any

import pytest
import strawberry
from strawberry.extensions import SchemaExtension
from strawberry.schema.config import StrawberryConfig

from gateway.schema.answer_size import BoundedExecutionContext
from gateway.schema.plain_objects import Plan
from gateway.schema.scalars import SCALARS, Long


@strawberry.enum
class Kind(enum.Enum):
    TRAIN = "train"
    VALIDATE = "validate"


@strawberry.type
class Point:
    name: str
    value: float | None = None
    step: Long | None = None
    flag: bool | None = None
    kind: Kind | None = None
    at: dt.datetime | None = None

    @strawberry.field
    def doubled(self) -> float | None:
        return None if self.value is None else 2 * self.value


ITEMS: list[Any] = []
NUMBERS: list[Any] = []


@strawberry.type
class Query:
    @strawberry.field
    def points(self) -> list[Point] | None:
        return ITEMS

    @strawberry.field
    def strict(self) -> list[Point]:
        return ITEMS

    @strawberry.field
    def numbers(self) -> list[float] | None:
        return NUMBERS


class Counted(BoundedExecutionContext):
    """Counts the fields graphql-core executes one by one."""

    executed = 0

    def execute_field(self, *args: Any, **kwargs: Any) -> Any:
        Counted.executed += 1
        return super().execute_field(*args, **kwargs)


class FieldByField(BoundedExecutionContext):
    """The reference: graphql-core's own completion, item by item, field by field."""

    def _plan(self, *args: Any) -> Plan | None:
        return None


def answer(context_class: type, query: str, items: list[Any],
           max_fields: int = 100_000) -> tuple[Any, list[Any]]:
    ITEMS[:] = items
    schema = strawberry.Schema(query=Query, execution_context_class=context_class,
                               config=StrawberryConfig(scalar_map=SCALARS))
    context = SimpleNamespace(settings=SimpleNamespace(max_answer_fields=max_fields,
                                                       max_answer_objects=25_000))
    result = schema.execute_sync(query, context_value=context)
    return result.data, [(e.message, e.path) for e in result.errors or ()]


def points(n: int) -> list[Point]:
    return [Point(name=f"loss{i % 3}", value=i / 7, step=i * 10**10, flag=i % 2 == 0,
                  kind=Kind.TRAIN, at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
            for i in range(n)]


ALL = "{ points { __typename name v: value step flag kind at } }"


def test_a_list_of_plain_points_is_completed_without_a_field_executed_per_point() -> None:
    Counted.executed = 0
    data, errors = answer(Counted, ALL, points(1000))
    assert Counted.executed == 1  # the list's own field: no field of any point
    assert errors == [] and len(data["points"]) == 1000
    assert data["points"][7] == {"__typename": "Point", "name": "loss1", "v": 1.0,
                                 "step": 7 * 10**10, "flag": False, "kind": "TRAIN",
                                 "at": "2024-01-01T00:00:00.000Z"}
    assert (data, errors) == answer(FieldByField, ALL, points(1000))


def test_a_field_with_a_resolver_goes_field_by_field() -> None:
    Counted.executed = 0
    query = "{ points { name doubled } }"
    assert answer(Counted, query, points(10)) == answer(FieldByField, query, points(10))
    assert Counted.executed == 1 + 10 * 2


def odd(**values: Any) -> list[Any]:
    items: list[Any] = points(5)
    items[3] = Point(**{**vars(items[3]), **values})
    return items


@pytest.mark.parametrize(("query", "items"), [
    (ALL, odd(value=math.nan)),  # not a Float: an error, graphql-core's own
    (ALL, odd(value=3)),  # an int of a Float: 3.0
    (ALL, odd(step=True)),  # a bool of a Long: 1
    (ALL, odd(step="12")),  # text of a Long: int() of it
    (ALL, odd(name=None)),  # null in a non-null field: the point is null
    (ALL, odd(kind="nope")),  # not an enum value
    (ALL, [*points(2), None, *points(2)]),  # a null point in a nullable list
    (ALL, [*points(2), SimpleNamespace(name="x")]),  # an object without the attributes
    ("{ strict { name value } }", [*points(2), None]),  # a null point where none may be
    ("{ points { a: name b: name @skip(if: true) c: step @include(if: false) } }", points(4)),
    ("{ points { ...on Point { name } ...F } } fragment F on Point { value name }", points(3)),
    ("{ points { name } }", []),
])
def test_the_answer_and_its_errors_are_graphql_cores(query: str, items: list[Any]) -> None:
    assert answer(BoundedExecutionContext, query, items) == answer(FieldByField, query, items)


@pytest.mark.parametrize("max_fields", [1, 5, 21, 22, 40, 41, 100])
def test_the_fields_bound_is_exact(max_fields: int) -> None:
    # 1 field for the list, 2 for each of 20 points: 41 fields in all
    query = "{ points { name step } }"
    ours = answer(BoundedExecutionContext, query, points(20), max_fields)
    assert ours == answer(FieldByField, query, points(20), max_fields)
    assert (ours[1] == []) == (max_fields >= 41)


class Shout(SchemaExtension):
    def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
        found = _next(root, info, *args, **kwargs)
        return found.upper() if isinstance(found, str) else found


def test_an_extension_that_hooks_every_field_sees_every_point() -> None:
    ITEMS[:] = points(3)
    schema = strawberry.Schema(query=Query, execution_context_class=BoundedExecutionContext,
                               extensions=[Shout], config=StrawberryConfig(scalar_map=SCALARS))
    result = schema.execute_sync("{ points { name } }")
    assert result.data == {"points": [{"name": "LOSS0"}, {"name": "LOSS1"}, {"name": "LOSS2"}]}


def test_a_list_past_the_fields_bound_is_not_built(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bound is counted before the one-pass list is built, not after: a list that would
    pass it costs nothing before graphql-core's way refuses it."""
    built = 0
    complete = Plan.complete

    def counted(self: Plan, *args: Any) -> Any:
        nonlocal built
        built += 1
        return complete(self, *args)

    monkeypatch.setattr(Plan, "complete", counted)
    data, errors = answer(BoundedExecutionContext, ALL, points(1000), max_fields=500)
    assert errors and data == {"points": None}  # refused, as graphql-core refuses it
    assert built == 0


@pytest.mark.parametrize(("values", "expected"), [
    ([1, 2.5], [1.0, 2.5]), ([2.5, None], None), ([float("nan")], None), ([2**53 + 1], None),
])
def test_float_lists_answer_what_graphql_core_answers(values: list[Any],
                                                       expected: list[float] | None) -> None:
    NUMBERS[:] = values
    data, errors = answer(BoundedExecutionContext, "{ numbers }", [])
    assert data == {"numbers": expected}
    if expected is None:
        assert errors  # graphql-core's refusal of the value, not the value passed on
    else:
        assert [type(v) for v in data["numbers"]] == [float] * len(expected)
