"""The size of an answer, bounded while it is built.

Links make the graph cyclic (a project's experiments each have a project, whose experiments
...), and the loaders fetch each resource once, so that a few upstream calls can fill an
answer of 500 × 500 × 500 objects: the upstream budget does not see it, only the gateway's
memory and CPU do. Each list of objects is counted before its items are completed. Past
`max_answer_objects` for one operation, that list is null instead of built, and so is every
field of an object type resolved after it (its resolver is not called: a resolver may build a
list of its own before it is counted); the answer carries one QUERY_TOO_COMPLEX error that says
so, not one per field (a bomb cut short would otherwise fill the answer with thousands).
"""

from __future__ import annotations

from typing import Any

from graphql import (
    GraphQLError,
    GraphQLList,
    GraphQLObjectType,
    GraphQLOutputType,
    get_named_type,
    is_leaf_type,
    is_non_null_type,
)
from graphql.pyutils import Path

from .execution import BulkLeafExecutionContext

DEFAULT_MAX_OBJECTS = 25_000


class AnswerTooLarge(GraphQLError):
    """A list of objects not built: the operation's answer has reached its bound."""


class BoundedExecutionContext(BulkLeafExecutionContext):
    """Counts the objects an operation's lists hold; refuses the lists past the bound
    (`settings.max_answer_objects` of the context, else DEFAULT_MAX_OBJECTS)."""

    _objects = 0
    _refused = 0
    _bound = DEFAULT_MAX_OBJECTS

    def execute_field(self, parent_type: GraphQLObjectType, source: Any,
                      field_details_list: Any, path: Path, position_context: Any) -> Any:
        if self._refused:
            field = self.schema.get_field(parent_type, field_details_list[0].node.name.value)
            if field is not None and not is_leaf_type(get_named_type(field.type)):
                self._refused += 1
                self.handle_field_error(self._too_large(), field.type, field_details_list, path)
                return None
        return super().execute_field(parent_type, source, field_details_list, path,
                                     position_context)

    def _too_large(self) -> AnswerTooLarge:
        return AnswerTooLarge(
            f"the answer would hold more than {self._bound} objects: this list, and every "
            "object or list asked for after it, is null; ask for fewer items (`first`) or "
            "nest fewer lists", extensions={"code": "QUERY_TOO_COMPLEX"})

    def complete_list_value(self, return_type: GraphQLList[GraphQLOutputType],
                            field_details_list: Any, info: Any, path: Path,
                            result: Any, position_context: Any) -> Any:
        if type(result) in (list, tuple) and not is_leaf_type(get_named_type(return_type)):
            settings = getattr(info.context, "settings", None)
            self._bound = getattr(settings, "max_answer_objects", DEFAULT_MAX_OBJECTS)
            if self._refused or self._objects + len(result) > self._bound:
                self._refused += 1
                raise self._too_large()
            self._objects += len(result)
        return super().complete_list_value(return_type, field_details_list, info, path,
                                           result, position_context)

    def handle_field_error(self, raw_error: Exception, return_type: GraphQLOutputType,
                           field_details_list: Any, path: Path) -> None:
        if isinstance(raw_error, AnswerTooLarge) and self._refused > 1 \
                and not is_non_null_type(return_type):
            return  # the first refusal's error speaks for the rest: the field is null
        super().handle_field_error(raw_error, return_type, field_details_list, path)
