"""The GraphQL schema: one module per resource family, assembled here."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import strawberry
from graphql import GraphQLDirective, GraphQLError, GraphQLStreamDirective
from strawberry.extensions import SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext
from strawberry.types.execution import PreExecutionError
from strawberry.types.graphql import OperationType

from ..documents import BAD_INPUT, DocumentLimits, Documents, refusal
from .deferring import GatewayExecutionContext
from .errors import ErrorCodes, map_errors
from .parts import HoldUntilDelivered
from .query import Query
from .scalars import SCALARS
from .subscription import Subscription


class GatewaySchema(strawberry.Schema):
    """Errors are mapped (and logged, one line each, without tracebacks or keys) by
    `errors.map_errors`, not by strawberry's logger, which logs every traceback.

    With `document_limits`, every query text is parsed and validated by `Documents`: once
    per text, each limit checked before the spec's validation runs.

    `@defer` is declared (Strawberry's experimental incremental execution is on, see `parts`
    and `deferring`); `@stream` is not: every list the gateway returns is whole by the time
    its field resolves (Comet answers whole pages), so streaming it would only cut an answer
    already made into more parts, each item completed apart rather than in bulk (see
    `execution`)."""

    documents: Documents | None = None

    def __init__(self, *args: Any, document_limits: DocumentLimits | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if document_limits is not None:
            self.documents = Documents(self._schema, document_limits)

    def _collect_graphql_directives(self, schema_directive_types: Any
                                    ) -> tuple[GraphQLDirective, ...]:
        # Strawberry declares @defer and @stream together; the gateway offers @defer alone.
        return tuple(d for d in super()._collect_graphql_directives(schema_directive_types)
                     if d is not GraphQLStreamDirective)

    def process_errors(self, errors: list[GraphQLError],
                       execution_context: ExecutionContext | None = None) -> None:
        # In place: this is the one hook subscription events pass through, and the list
        # is the one their answer carries.
        context = execution_context.context if execution_context else None
        errors[:] = map_errors(errors, context)

    async def _prepare_operation_async(self, context: ExecutionContext,
                                       extensions_runner: Any) -> PreExecutionError | None:
        # The one step that HTTP (`execute`) and websockets (`stream`) both take, and where a
        # refusal is answered as a parse error is: an exception raised from an extension's
        # `on_parse` would end a websocket operation without an answer.
        if self.documents is not None and context.graphql_document is None and context.query:
            try:
                context.graphql_document = self.documents.parse(context.query)
            except GraphQLError as error:
                return _refused(context, error)
            if _subscription_over_http(context):
                return _refused(context, refusal(
                    "subscriptions run over a websocket (graphql-transport-ws) at /graphql",
                    BAD_INPUT))
        return await super()._prepare_operation_async(context, extensions_runner)


def _refused(context: ExecutionContext, error: GraphQLError) -> PreExecutionError:
    # Without its traceback: kept on the context, its frames (which hold the query's text)
    # would make a cycle with it, freed only by the cyclic collector, which runs rarely.
    error = error.with_traceback(None)
    context.pre_execution_errors = [error]
    return PreExecutionError(data=None, errors=[error])


def _subscription_over_http(context: ExecutionContext) -> bool:
    try:
        operation = context.operation_type
    except RuntimeError:  # no such operation: strawberry answers that itself
        return False
    return operation is OperationType.SUBSCRIPTION and not getattr(
        context.context, "over_websocket", False)


class DocumentValidation(SchemaExtension):
    """Validation through the schema's `Documents`: cached per text, limits first."""

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        documents = getattr(context.schema, "documents", None)
        if isinstance(documents, Documents) and context.query is not None:
            context.pre_execution_errors = documents.validate(context.query)
        yield


def build_schema(document_limits: DocumentLimits | None = None,
                 extensions: Sequence[Callable[[], SchemaExtension]] = (),
                 max_operations: int = 10, in_parts: bool = False) -> GatewaySchema:
    """The schema; with `document_limits`, documents are checked and cached by `Documents`
    (errors are mapped after every other extension, so last). With `in_parts`, an operation
    whose context has a `parts.PartsChannel` may answer in parts, and lasts until the last is
    out (its extension, async, holds it: such a schema runs `execute`, not `execute_sync`)."""
    checks: list[Callable[[], SchemaExtension]] = (
        [DocumentValidation] if document_limits is not None else [])
    holding: list[Callable[[], SchemaExtension]] = [HoldUntilDelivered] if in_parts else []
    return GatewaySchema(
        query=Query, subscription=Subscription,
        extensions=[*checks, *extensions, ErrorCodes, *holding],
        execution_context_class=GatewayExecutionContext, document_limits=document_limits,
        config=StrawberryConfig(auto_camel_case=True, scalar_map=SCALARS,
                                batching_config={"max_operations": max_operations},
                                enable_experimental_incremental_execution=True))


schema = build_schema()


def sdl() -> str:
    """The schema as SDL: what `comet-gateway schema` prints and schema.graphql holds."""
    return schema.as_str() + "\n"
