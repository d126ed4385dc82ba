"""The size of an answer, bounded while it is built.

Links make the graph cyclic (a project's experiments each have a project, whose experiments
...), and the loaders fetch each resource once, so that a few upstream calls can fill an
answer of 500 × 500 × 500 objects, or of 60 copies of one experiment's every link: the upstream
budget does not see it, only the gateway's memory and CPU do. Three things are counted as the
answer is built, each against its bound for one operation:

- objects in lists, before each list's items are built (`max_answer_objects`);
- fields resolved, each before its resolver runs (`max_answer_fields`): graphql-core spends
  some 10 µs on each (the plain fields of a list of objects completed at once, see
  `plain_objects`, are counted together, before the list is taken);
- values in lists of scalars, such as metric series (ten values per field allowed: these are
  taken as they are, in bulk, see `execution`).

Past a bound, the field at hand is null, and so is every field resolved after it (its resolver
is not called); the answer carries one QUERY_TOO_COMPLEX error that says so, not one per
field (a bomb cut short would otherwise fill the answer with thousands of them).

An answer in parts (`@defer`, see `parts`) is one answer: graphql-core executes each deferred
fragment with a copy of the operation's executor, and every copy counts into the same `Tally`.
"""

from __future__ import annotations

import functools
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

from .errors import code_for
from .execution import BulkLeafExecutionContext

DEFAULT_MAX_OBJECTS = 25_000
# Field errors an answer reports; past them a failing field is null without an error of its
# own (one error says so): graphql-core locates each error in the text, which costs a walk over
# the lines before it, and 500 keys × 30 aliases could fail 15,000 fields.
MAX_FIELD_ERRORS = 100
DEFAULT_MAX_FIELDS = 100_000
VALUES_PER_FIELD = 10


class AnswerTooLarge(GraphQLError):
    """A field not resolved: the operation's answer has reached one of its bounds."""


class Tally:
    """What one answer holds so far, all its parts together."""

    __slots__ = ("objects", "fields", "values", "field_errors", "why", "reported")

    def __init__(self) -> None:
        self.objects = self.fields = self.values = self.field_errors = 0
        self.why = ""  # why the rest is refused, once a bound is passed
        self.reported = False  # whether the refusal's one error is in the answer


class BoundedExecutionContext(BulkLeafExecutionContext):
    """Counts what an operation's answer holds; past a bound (the context's `settings`, else
    the defaults here), refuses every field still to come."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Shared by the copies graphql-core makes of this executor for deferred fragments.
        self._tally = Tally()

    def build_per_event_executor(self, payload: Any) -> Any:
        # Each event of a subscription is an answer of its own.
        executor = super().build_per_event_executor(payload)
        executor.__dict__["_tally"] = Tally()
        return executor

    @functools.cached_property
    def _bounds(self) -> tuple[int, int, int]:
        """Objects in lists, fields, values in lists: the context's settings, else defaults."""
        settings = getattr(self.context_value, "settings", None)
        fields = int(getattr(settings, "max_answer_fields", DEFAULT_MAX_FIELDS))
        return (int(getattr(settings, "max_answer_objects", DEFAULT_MAX_OBJECTS)), fields,
                VALUES_PER_FIELD * fields)

    def execute_field(self, parent_type: GraphQLObjectType, source: Any,
                      field_details_list: Any, path: Path, position_context: Any) -> Any:
        tally = self._tally
        if not tally.why:
            tally.fields += 1
            if tally.fields > self._bounds[1]:
                tally.why = f"more than {self._bounds[1]} fields"
        if tally.why:
            field = self.schema.get_field(parent_type, field_details_list[0].node.name.value)
            if field is not None:
                self.handle_field_error(self._too_large(), field.type, field_details_list, path)
            return None
        return super().execute_field(parent_type, source, field_details_list, path,
                                     position_context)

    def allow_plain_fields(self, count: int) -> bool:
        # A list of plain objects completed at once counts its fields as graphql-core would
        # one by one; one that would pass the bound goes graphql-core's way, which refuses
        # at the very field past it.
        tally = self._tally
        if tally.fields + count > self._bounds[1]:
            return False
        tally.fields += count
        return True

    def complete_list_value(self, return_type: GraphQLList[GraphQLOutputType],
                            field_details_list: Any, info: Any, path: Path,
                            result: Any, position_context: Any) -> Any:
        tally = self._tally
        if type(result) in (list, tuple) and not tally.why:
            objects, _, values = self._bounds
            if is_leaf_type(get_named_type(return_type)):
                tally.values += len(result)
                if tally.values > values:
                    tally.why = f"more than {values} values in lists"
            else:
                tally.objects += len(result)
                if tally.objects > objects:
                    tally.why = f"more than {objects} objects in lists"
        if tally.why:
            raise self._too_large()
        return super().complete_list_value(return_type, field_details_list, info, path,
                                           result, position_context)

    def complete_object_value(self, return_type: GraphQLObjectType, field_details_list: Any,
                              info: Any, path: Path, result: Any, position_context: Any
                              ) -> Any:
        # Past a bound, an object already fetched (an item of a list being built) is not
        # built field by field: its nearest nullable parent is null at once.
        if self._tally.why:
            raise self._too_large()
        return super().complete_object_value(return_type, field_details_list, info, path,
                                             result, position_context)

    def handle_field_error(self, raw_error: Exception, return_type: GraphQLOutputType,
                           field_details_list: Any, path: Path) -> None:
        # graphql-core wraps the refusal in an error located at the field (and again at each
        # non-null parent it nulls on its way up): what it carries is what counts.
        refusal = isinstance(raw_error, AnswerTooLarge) or isinstance(
            getattr(raw_error, "original_error", None), AnswerTooLarge)
        tally = self._tally
        if refusal and not is_non_null_type(return_type):
            if tally.reported:
                return  # the first refusal's error speaks for the rest: the field is null
            tally.reported = True
        tally.field_errors += 1
        if tally.field_errors > MAX_FIELD_ERRORS:
            if is_non_null_type(return_type):
                raise raw_error  # to the nearest nullable parent, not located on the way
            return  # null, unlocated: the error at the bound says so
        if tally.field_errors == MAX_FIELD_ERRORS:
            cause = getattr(raw_error, "original_error", None) or raw_error
            extensions = dict(getattr(raw_error, "extensions", None) or {})
            extensions.setdefault("code", code_for(cause))  # the code its cause has
            raw_error = GraphQLError(
                f"{raw_error}; and more fields failed past the {MAX_FIELD_ERRORS} errors an "
                "answer reports: they are null without errors of their own",
                extensions=extensions)
        super().handle_field_error(raw_error, return_type, field_details_list, path)

    def _too_large(self) -> AnswerTooLarge:
        return AnswerTooLarge(
            f"the answer would hold {self._tally.why}: this field, and every field asked for after "
            "it, is null; ask for fewer items (`first`), fewer fields or nest fewer lists",
            extensions={"code": "QUERY_TOO_COMPLEX"})
