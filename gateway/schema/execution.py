"""A faster executor for long lists: of numbers (metric series: thousands of values), and of
plain objects (metric points: thousands of objects of a few scalar fields).

graphql-core completes every item of a list on its own (a path, a type check, a serializer
call each); for a list of plain leaf scalars whose items already have the right Python type,
the answer is the list itself. For a list of objects whose every field asked is a plain
attribute of a scalar type, it is a dict per item (`plain_objects`). This does that in one
pass, and falls back to graphql-core's own way for anything else (other types, wrong item
types, non-finite floats, nulls in a non-null list), so the results and the errors stay the
same.
"""

from __future__ import annotations

import contextlib
import functools
import math
import operator
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from graphql import (
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
)
from graphql.pyutils import Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from .plain_objects import Plan, plan

_NONE = type(None)
# The item types a list of each kind may hold as it is: (whole, nullable) → types.
_AS_THEY_ARE = {(False, False): frozenset({float}),
                (False, True): frozenset({float, _NONE}),
                (True, False): frozenset({int}), (True, True): frozenset({int, _NONE})}
_not_none = functools.partial(operator.is_not, None)


def _numbers(items: list[Any] | tuple[Any, ...], nullable: bool, whole: bool) -> bool:
    # A whole series at C speed: one pass for the items' types, one for their finiteness.
    # A Float list holds floats only: an int there is graphql-core's to serialize (as a float,
    # or refused past 2**53), so such a list goes its way.
    kinds = set(map(type, items))
    if not kinds <= _AS_THEY_ARE[whole, nullable]:
        return False
    if float not in kinds:
        return True
    return all(map(math.isfinite, filter(_not_none, items) if _NONE in kinds else items))


def _strings(items: list[Any] | tuple[Any, ...], nullable: bool) -> bool:
    kinds = set(map(type, items))
    return kinds <= {str} or (nullable and kinds <= {str, _NONE})


# scalar name → check that the items need no serializing
BULK = {
    "Float": lambda items, nullable: _numbers(items, nullable, whole=False),
    "Long": lambda items, nullable: _numbers(items, nullable, whole=True),
    "Int": lambda items, nullable: all(
        (type(v) is int and -2**31 <= v < 2**31) or (v is None and nullable) for v in items),
    "String": _strings,
}


@dataclass
class ExecutionRecord:
    """Whether an operation of the current HTTP request got past parsing, validation and
    variable coercion into execution, after which GraphQL over HTTP answers 2xx."""

    started: bool = False


_RECORD: ContextVar[ExecutionRecord | None] = ContextVar("execution_record", default=None)


@contextlib.contextmanager
def recording_execution() -> Iterator[ExecutionRecord]:
    """A record of whether execution starts within this block (and its tasks: a batch's
    operations run in tasks of their own, which share the record)."""
    record = ExecutionRecord()
    token = _RECORD.set(record)
    try:
        yield record
    finally:
        _RECORD.reset(token)


def note_execution_started() -> None:
    """Record that execution started (by graphql-core's executor, or by an answer served
    from what an execution with the same document and variables gave)."""
    record = _RECORD.get()
    if record is not None:
        record.started = True


def execution_started() -> bool:
    """Whether the record of the current block says execution started."""
    record = _RECORD.get()
    return record is not None and record.started


class BulkLeafExecutionContext(StrawberryGraphQLCoreExecutionContext):
    def execute_operation(self, *args: Any, **kwargs: Any) -> Any:
        # graphql-core calls this only once the variables are coerced: execution starts.
        note_execution_started()
        return super().execute_operation(*args, **kwargs)

    def complete_list_value(self, return_type: GraphQLList[GraphQLOutputType],
                            field_details_list: Any, info: Any, path: Path,
                            result: Any, position_context: Any) -> Any:
        item_type = return_type.of_type
        nullable = not isinstance(item_type, GraphQLNonNull)
        leaf = item_type if nullable else item_type.of_type  # type: ignore[union-attr]
        if type(result) in (list, tuple):
            if isinstance(leaf, GraphQLScalarType):
                if leaf.name in BULK and BULK[leaf.name](result, nullable):
                    return list(result)
            elif isinstance(leaf, GraphQLObjectType) and result:
                found = self._plan(leaf, field_details_list)
                # Counted before anything is built: a list past the answer's bound goes
                # graphql-core's way at once, which refuses at the very field past it.
                count = 0 if found is None else found.width * (len(result) - result.count(None))
                if found is not None and self.allow_plain_fields(count):
                    done = found.complete(result, nullable, info)
                    if done is not None:
                        return done
                    self.allow_plain_fields(-count)  # not taken: graphql-core counts them
        return super().complete_list_value(return_type, field_details_list, info, path,
                                           result, position_context)

    def allow_plain_fields(self, count: int) -> bool:
        """Whether `count` fields may be completed at once, without graphql-core's
        `execute_field` (counted here if so)."""
        return True

    def _plan(self, item_type: GraphQLObjectType, field_details_list: Any) -> Plan | None:
        # Per selection, as graphql-core memoizes collected subfields: by the identity of the
        # field group, kept alive beside the plan so that its id is not reused.
        if self.middleware_manager is not None and self.middleware_manager.middlewares:
            return None  # an extension's `resolve` hook is to see every field
        plans: dict[tuple[GraphQLObjectType, int], tuple[Any, Plan | None]] = \
            self.__dict__.setdefault("_plans", {})
        key = (item_type, id(field_details_list))
        cached = plans.get(key)
        if cached is None:
            cached = plans[key] = (field_details_list, plan(
                self.schema, item_type, self.collect_subfields(item_type, field_details_list)))
        return cached[1]
