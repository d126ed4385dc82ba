"""Introspection answers, kept and priced.

An operation that asks only about the schema (`__schema`, `__type`, `__typename`) needs no key
and no upstream call, and its answer depends on nothing but its text, operation name and
variables; yet it is the costliest thing an anonymous client can ask (GraphiQL's introspection
query executes about 5,000 fields: some 16 ms of CPU). So its answers are kept (an LRU of a few
entries), and one computed anew costs its client's address `EXECUTED_COST` requests of its rate
limit, so that new introspection texts cannot be sent faster than a few a second.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

import orjson
from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    SelectionNode,
    get_operation_ast,
)
from strawberry.extensions import SchemaExtension

from .rate_limits import RateLimits, client_address
from .schema.execution import note_execution_started

INTROSPECTION_FIELDS = frozenset({"__schema", "__type", "__typename"})
EXECUTED_COST = 10  # requests of the address's rate limit an answer computed anew costs
MAX_ANSWERS = 16  # a whole schema's introspection is about a megabyte of Python objects


def asks_only_about_the_schema(document: DocumentNode, operation_name: str | None) -> bool:
    """Whether the operation's root fields are all introspection fields, `__schema` or
    `__type` among them (`{ __typename }` alone costs nothing to answer)."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return False
    fragments = {d.name.value: d for d in document.definitions
                 if isinstance(d, FragmentDefinitionNode)}
    pending: list[SelectionNode] = list(operation.selection_set.selections)
    seen: set[str] = set()
    schema_asked = False
    while pending:
        node = pending.pop()
        if isinstance(node, FieldNode):
            if node.name.value not in INTROSPECTION_FIELDS:
                return False
            schema_asked = schema_asked or node.name.value != "__typename"
        elif isinstance(node, InlineFragmentNode):
            pending.extend(node.selection_set.selections)
        elif isinstance(node, FragmentSpreadNode):
            name = node.name.value
            if name not in seen and name in fragments:
                seen.add(name)
                pending.extend(fragments[name].selection_set.selections)
    return schema_asked


class IntrospectionAnswers:
    """The kept answers of one application, and the extension that serves them."""

    def __init__(self, rate_limits: RateLimits, max_answers: int = MAX_ANSWERS) -> None:
        self._rate_limits = rate_limits
        self._max = max_answers
        self._answers: OrderedDict[tuple[str, str | None, bytes], ExecutionResult] = \
            OrderedDict()
        self.computed = self.served = 0

    def extension(self) -> Callable[[], SchemaExtension]:
        return lambda: _Serve(self)

    def get(self, key: tuple[str, str | None, bytes]) -> ExecutionResult | None:
        found = self._answers.get(key)
        if found is not None:
            self._answers.move_to_end(key)
        return found

    def keep(self, key: tuple[str, str | None, bytes], answer: ExecutionResult) -> None:
        self._answers[key] = answer
        while len(self._answers) > self._max:
            self._answers.popitem(last=False)

    def charge(self, context: Any) -> None:
        request = getattr(context, "request", None)
        if request is not None:
            self._rate_limits.charge_address(client_address(request.scope), EXECUTED_COST)

    def __len__(self) -> int:
        return len(self._answers)


class _Serve(SchemaExtension):
    """An introspection-only operation answered from the kept answers, or kept once done."""

    def __init__(self, answers: IntrospectionAnswers) -> None:
        self.answers = answers

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        key = None
        if (context.query is not None and document is not None
                and asks_only_about_the_schema(document, context.operation_name)):
            key = (context.query, context.operation_name,
                   orjson.dumps(context.variables or {}, option=orjson.OPT_SORT_KEYS))
            kept = self.answers.get(key)
            if kept is not None:
                context.result = kept  # strawberry executes nothing when a result is set
                note_execution_started()
                self.answers.served += 1
                key = None
            else:
                self.answers.computed += 1
                self.answers.charge(context.context)
        yield
        result = context.result
        if key is not None and isinstance(result, ExecutionResult) and not result.errors:
            self.answers.keep(key, result)
