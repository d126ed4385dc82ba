"""A faster executor for long lists of numbers (metric series: thousands of values).

graphql-core completes every item of a list on its own (a path, a type check, a serializer
call each); for a list of plain leaf scalars whose items already have the right Python type,
the answer is the list itself. This does that in one pass, and falls back to graphql-core's
own way for anything else (other types, wrong item types, non-finite floats, nulls in a
non-null list), so the results and the errors stay the same.
"""

from __future__ import annotations

import math
from typing import Any

from graphql import (
    GraphQLList,
    GraphQLNonNull,
    GraphQLOutputType,
    GraphQLScalarType,
)
from graphql.pyutils import Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext


def _numbers(items: list[Any] | tuple[Any, ...], nullable: bool, whole: bool) -> bool:
    for v in items:
        kind = type(v)
        if kind is int:
            continue
        if kind is float and not whole and math.isfinite(v):
            continue
        if v is None and nullable:
            continue
        return False
    return True


def _strings(items: list[Any] | tuple[Any, ...], nullable: bool) -> bool:
    return all(type(v) is str or (v is None and nullable) for v in items)


# scalar name → check that the items need no serializing
BULK = {
    "Float": lambda items, nullable: _numbers(items, nullable, whole=False),
    "Long": lambda items, nullable: _numbers(items, nullable, whole=True),
    "Int": lambda items, nullable: all(
        (type(v) is int and -2**31 <= v < 2**31) or (v is None and nullable) for v in items),
    "String": _strings,
}


class BulkLeafExecutionContext(StrawberryGraphQLCoreExecutionContext):
    def complete_list_value(self, return_type: GraphQLList[GraphQLOutputType],
                            field_details_list: Any, info: Any, path: Path,
                            result: Any, position_context: Any) -> Any:
        item_type = return_type.of_type
        nullable = not isinstance(item_type, GraphQLNonNull)
        leaf = item_type if nullable else item_type.of_type  # type: ignore[union-attr]
        if (isinstance(leaf, GraphQLScalarType) and type(result) in (list, tuple)
                and leaf.name in BULK and BULK[leaf.name](result, nullable)):
            return list(result)
        return super().complete_list_value(return_type, field_details_list, info, path,
                                           result, position_context)
